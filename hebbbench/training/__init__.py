"""Training the reference agents with evolution strategies: the loop
(:mod:`~hebbbench.training.train`), the run directory and its config
(:mod:`~hebbbench.training.run_dir`), where episodes run (:mod:`~hebbbench.training.rollouts`,
:mod:`~hebbbench.training.lockstep`), a run as an agent (:mod:`~hebbbench.training.run_agent`)
and learning curves (:mod:`~hebbbench.training.plots`).

Imports :mod:`hebbbench.agents`, :mod:`hebbbench.es`, :mod:`hebbbench.envs`, :mod:`hebbbench.system`
and the evaluation protocol's folds.
"""
