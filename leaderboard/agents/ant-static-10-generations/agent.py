"""Agent file written by `hebbbench train`: the static agent on ant, trained with
'long-front' held out, acting with this run's final mean parameters (parameters.npy).

Evaluate it with: hebbbench evaluate /tmp/lbrun/static-ant --task ant
"""

from pathlib import Path

from hebbbench.train import load_run_agent


def make_agent(task, holdout, observation_space, action_space):
    return load_run_agent(Path(__file__).parent, task)
