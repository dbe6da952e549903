"""Evaluating an agent: the protocol (folds, seeds, :func:`~hebbbench.evaluation.protocol.evaluate`),
playing its episodes (:mod:`~hebbbench.evaluation.episodes`), an agent file in its own process
(:mod:`~hebbbench.evaluation.agent_file`, :mod:`~hebbbench.evaluation.agent_process`,
:mod:`~hebbbench.evaluation.agent_host`), the results files and their statistics
(:mod:`~hebbbench.evaluation.results`, :mod:`~hebbbench.evaluation.stats`).

Imports :mod:`hebbbench.envs` and :mod:`hebbbench.system`; nothing from training or the leaderboard.
The package's public names (``hebbbench.evaluate``, ``hebbbench.Results``, ...) are exported lazily
by :mod:`hebbbench`.
"""
