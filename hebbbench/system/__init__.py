"""What every layer above leans on and that knows nothing of them: process hygiene and the
agent's sandbox (:mod:`~hebbbench.system.processes`), Ctrl-C and kill handling
(:mod:`~hebbbench.system.interrupts`), the atomic writer (:mod:`~hebbbench.system.files`) and
argument checks (:mod:`~hebbbench.system.checks`, torch imported only where a device is asked for).

Imports nothing else of hebbbench.
"""
