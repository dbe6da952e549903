"""Is the em-rules E-step's per-synapse gradient signal or noise? (docs/bottleneck.md)

Plays one E-step probe of the finished em-rules ant run (`ant-em-rules`, 384 rules, its
final checkpoint): the same mirrored population of per-synapse rule perturbations (std
``e_sigma``) that a probe generation plays, on the run's four training variations with its
episode cut and fitness (mean return + coefficient penalty). From the returns it estimates
the per-synapse gradient twice, from two disjoint halves of the mirrored pairs, and reports:

* the correlation of the two half estimates over the 61,440 rule coordinates: 0 if the
  estimate is all noise; ``rho = s^2 / (s^2 + n^2)`` for signal variance ``s^2`` and a half
  estimate's noise variance ``n^2``, so the full estimate's signal-to-noise variance ratio
  is ``2 rho / (1 - rho)``;
* for each ``e_step``, how many synapses the E-step would move with the full estimate, and
  how many of the synapses that the first half's estimate moves the second half's moves to
  the same rule (chance: near 0).

Nothing in the run directory changes. Usage (about 230,000 env steps)::

    python docs/baseline-pilots/bottleneck/e_step_probe.py [--workers 2] [--out e-step-probe.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from hebbbench.agents.networks import POLICIES
from hebbbench.es.merge import COEFFICIENTS
from hebbbench.es.openai_es import shape_fitness
from hebbbench.system.files import write_atomic
from hebbbench.training.rollouts import make_backend
from hebbbench.training.run_dir import CHECKPOINT_FILE, CONFIG_FILE, TrainConfig, load_state, make_strategy
from hebbbench.training.train import evaluate_population

HERE = Path(__file__).resolve().parent
RUN = HERE / "ant-em-rules"
E_STEPS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def half_gradients(fitness: torch.Tensor, population, rule_start: int, rule_stop: int, sigma: float):
    """The full estimate and the estimates from the first and second half of the mirrored
    pairs, ``[N, 5]`` each: ``sum_i u_i eps_i / (count * sigma)`` over the rows used, with
    the utilities ``u`` (z-scored centred ranks) of the whole population."""
    utilities = shape_fitness(fitness).to(torch.float32)
    size, half = len(utilities), len(utilities) // 2
    noise = population.noise(0, size)[:, rule_start:rule_stop]
    pair = torch.arange(size) % half
    first = pair < half // 2
    estimates = []
    for rows in (torch.ones(size, dtype=torch.bool), first, ~first):
        estimate = utilities[rows] @ noise[rows] / (int(rows.sum()) * sigma)
        estimates.append(estimate.reshape(-1, COEFFICIENTS))
    return estimates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "e-step-probe.json")
    args = parser.parse_args()
    config = dataclasses.replace(TrainConfig.from_file(RUN / CONFIG_FILE), backend="local", workers=args.workers)
    checkpoint = load_state(RUN / CHECKPOINT_FILE)
    strategy = make_strategy(config)
    strategy.load_state_dict(checkpoint["strategy"])
    strategy.cycle_generation = strategy.config.m_step  # the next generation is a probe
    rows = strategy.ask()
    population = strategy.compact_population()
    backend = make_backend(config.backend, config.workers)
    try:
        returns, lengths, _ = evaluate_population(config, population, checkpoint["generation"], backend)
    finally:
        backend.close()
    fitness = returns.mean(axis=1) + POLICIES[config.network].fitness_penalty(rows, config.task).numpy()
    full, first, second = half_gradients(torch.as_tensor(fitness), population, strategy.rule_start,
                                         strategy.rule_stop, strategy.config.e_sigma)
    rho = float(np.corrcoef(first.flatten().numpy(), second.flatten().numpy())[0, 1])
    rules = strategy._rules(strategy.inner.mean).to(torch.float64)
    assignment = strategy.assignment.long()
    second_nearest = torch.cdist(rules[assignment], rules).topk(2, largest=False).values[:, 1]
    sweep = []
    for step in E_STEPS:
        chosen = [strategy.proposed_assignment(g, step) for g in (full, first, second)]
        moved_first = chosen[1] != assignment
        sweep.append({"e_step": step, "moved": int((chosen[0] != assignment).sum()),
                      "moved_by_first_half": int(moved_first.sum()),
                      "same_rule_by_second_half": int((moved_first & (chosen[2] == chosen[1])).sum())})
    report = {
        "run": str(RUN.relative_to(HERE.parents[2])), "generation": checkpoint["generation"],
        "population": config.population, "e_sigma": strategy.config.e_sigma, "rules": strategy.num_rules,
        "synapses": strategy.num_synapses, "env_steps": int(lengths.sum()),
        "fitness_mean": float(fitness.mean()), "fitness_std": float(fitness.std()),
        "half_estimate_correlation": rho, "full_signal_to_noise_variance": 2 * rho / (1 - rho),
        "gradient_norm_per_synapse_median": float(full.norm(dim=1).median()),
        "distance_to_second_nearest_rule_median": float(second_nearest.median()),
        "e_step_sweep": sweep,
    }
    write_atomic(args.out, lambda handle: handle.write((json.dumps(report, indent=1) + "\n").encode()))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
