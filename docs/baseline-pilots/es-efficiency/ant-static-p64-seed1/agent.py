"""Agent file written by `hebbbench train`: the static agent on ant, trained with
'long-front' held out.

By default it acts as the paper's evaluation script did: with the search distribution of
the generation whose population had the best mean training fitness (best.pt), drawing a
fresh individual from it at each episode, seeded by the episode's seed, with that
generation's sigma. Options (`hebbbench evaluate DIR --agent-option KEY=VALUE`):
checkpoint=best|final (final: the last generation, checkpoint.pt) and
sigma=checkpoint|S (a number; 0 acts with the distribution's mean itself).

Evaluate it with: hebbbench evaluate <this directory> --task ant
"""

from pathlib import Path

from hebbbench.training.run_agent import load_run_agent


def make_agent(task, holdout, observation_space, action_space, checkpoint="best", sigma="checkpoint"):
    return load_run_agent(Path(__file__).parent, task, holdout, checkpoint=checkpoint, sigma=sigma)
