"""Shared-rule ES update: our closed-form, chunked gradient against the naive autograd one.

The naive approach is the upstream library's (evostrat ``Population.fitness_grads``): one
``autograd.grad`` of each individual's ``log p(h_i)`` through ``MixtureSameFamily``, every
gradient kept (P copies of lambda and mu) until the fitness is known, then stacked and
averaged. Ours (:func:`hebbbench.es.gmm.mixture_score_gradient`) never holds more than one
``lambda``-sized accumulator.

Run: ``pytest benchmarks/test_gmm.py --benchmark-only -s``. Memory is measured in a fresh
child process per approach (peak RSS from ``getrusage`` minus the RSS after set-up), time
by pytest-benchmark in-process; ratios are printed at the end.

The large measurements (ant rho = 1 at population 500; the car at its smallest rho) take
minutes and GiBs, so they only run with ``HEBBBENCH_GMM_LARGE=1``. This file is also the
child-process script: ``python benchmarks/test_gmm.py generation --synapses N --rules M
--population P [--dense D] [--optimizer adam]`` runs one ask + tell with random fitness (no
environments) and prints peak RSS and seconds as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributions as D

from hebbbench.es.gmm import GaussianMixtureES, GaussianMixtureESConfig, mixture_score_gradient, rules_for_rho

ANT_SYNAPSES = 28 * 128 + 128 * 64 + 64 * 8  # 12,288
CAR_SYNAPSES = 648 * 128 + 128 * 64 + 64 * 3  # 91,328
CAR_CONV = 1_362
#: The naive comparison: ant at rho = 128 (the paper's headline setting), a population the
#: naive approach holds comfortably (P x 1.18M floats = 236 MB of kept gradients).
NAIVE_CASE = {"synapses": ANT_SYNAPSES, "rules": rules_for_rho(ANT_SYNAPSES, 128), "population": 50}
LARGE = os.environ.get("HEBBBENCH_GMM_LARGE") == "1"
_RESULTS: dict[str, dict] = {}


def _rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _inputs(synapses: int, rules: int, population: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    logits = 0.1 * torch.randn(synapses, rules, generator=g)
    means = torch.randn(rules, 5, generator=g)
    samples = means[torch.randint(0, rules, (population, synapses), generator=g)]
    samples += 0.1 * torch.randn(samples.shape, generator=g)
    weights = torch.randn(population, generator=g)
    return logits, means, 0.1, samples, weights


def naive_gradient(logits, means, sigma, samples, weights):
    """The upstream way: one backward per individual, all P gradients kept, then averaged."""
    lam, mu = logits.clone().requires_grad_(), means.clone().requires_grad_()
    synapses, rules = logits.shape
    grads = []
    for h in samples:
        components = D.Independent(D.Normal(mu.expand(synapses, rules, 5), sigma), 1)
        log_prob = D.MixtureSameFamily(D.Categorical(logits=lam), components).log_prob(h).sum()
        grads.append(torch.autograd.grad(log_prob, (lam, mu)))
    return tuple(torch.stack([w * g[i] for g, w in zip(grads, weights)]).mean(dim=0) for i in range(2))


APPROACHES = {"closed-form": mixture_score_gradient, "naive-autograd": naive_gradient}


def _child(argv: list[str]) -> dict:
    """Run a measurement in a fresh Python process and return its JSON line."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure_gradient(approach: str) -> dict:
    """In this (child) process: set-up RSS, then peak RSS and seconds of one gradient."""
    inputs = _inputs(**NAIVE_CASE)
    APPROACHES[approach](*_inputs(64, 4, 2))  # load the kernels before the baseline
    baseline = _rss_mib()
    start = time.perf_counter()
    APPROACHES[approach](*inputs)
    return {"approach": approach, "child_seconds": time.perf_counter() - start,
            "baseline_mib": baseline, "peak_mib": _peak_rss_mib(),
            "extra_peak_mib": _peak_rss_mib() - baseline}


def _measure_generation(synapses: int, rules: int, population: int, dense: int,
                        optimizer: str) -> dict:
    """In this (child) process: one ask + tell with random fitness (no environments)."""
    baseline = _rss_mib()
    es = GaussianMixtureES(synapses, rules, GaussianMixtureESConfig(population, optimizer=optimizer),
                           num_dense=dense)
    start = time.perf_counter()
    es.ask()
    asked, cpu_asked = time.perf_counter(), _cpu_seconds()
    stats = es.tell(torch.randn(population, generator=torch.Generator().manual_seed(0)))
    told, cpu_told = time.perf_counter(), _cpu_seconds()
    return {"synapses": synapses, "rules": rules, "logits": synapses * rules,
            "population": population, "dense": dense, "optimizer": optimizer,
            "ask_seconds": asked - start, "tell_seconds": told - asked,
            "tell_cpu_seconds": cpu_told - cpu_asked,
            "baseline_mib": baseline, "peak_mib": _peak_rss_mib(), "stats": stats,
            "threads": torch.get_num_threads()}


def test_gradients_agree():
    inputs = _inputs(200, 8, 6)
    for ours, theirs in zip(mixture_score_gradient(*inputs), naive_gradient(*inputs)):
        assert torch.linalg.vector_norm(ours - theirs) / torch.linalg.vector_norm(theirs) < 1e-4


@pytest.mark.parametrize("approach", list(APPROACHES))
def test_score_gradient(benchmark, approach):
    inputs = _inputs(**NAIVE_CASE)
    benchmark.pedantic(APPROACHES[approach], args=inputs, rounds=2, iterations=1, warmup_rounds=0)
    memory = _child(["gradient", approach])
    benchmark.extra_info.update(memory, case=NAIVE_CASE)
    _RESULTS[approach] = {**memory, "seconds": benchmark.stats.stats.mean}


@pytest.mark.skipif(not LARGE, reason="minutes and GiBs: set HEBBBENCH_GMM_LARGE=1")
def test_ant_rho1_population500_generation():
    """Ant, rho = 1 (M = N = 12,288, 151M logits), population 500: peak RSS <= 8 GiB."""
    result = _child(["generation", "--synapses", str(ANT_SYNAPSES), "--rules", str(ANT_SYNAPSES),
                     "--population", "500"])
    print("\nant rho=1 P=500:", json.dumps(result))
    assert result["peak_mib"] <= 8 * 1024


@pytest.mark.skipif(not LARGE, reason="minutes and GiBs: set HEBBBENCH_GMM_LARGE=1")
def test_car_smallest_rho_generation():
    """Car, rho = 16 (M = 5,708; 521M logits), population 200, with the conv block."""
    result = _child(["generation", "--synapses", str(CAR_SYNAPSES),
                     "--rules", str(rules_for_rho(CAR_SYNAPSES, 16)), "--population", "200",
                     "--dense", str(CAR_CONV)])
    print("\ncar rho=16 P=200:", json.dumps(result))
    assert result["peak_mib"] <= 24 * 1024


def teardown_module(module):
    if len(_RESULTS) == 2:
        ours, naive = _RESULTS["closed-form"], _RESULTS["naive-autograd"]
        print(f"\nant rho=128 P={NAIVE_CASE['population']}: closed-form {ours['seconds']:.2f} s, "
              f"+{ours['extra_peak_mib']:.0f} MiB; naive {naive['seconds']:.2f} s, "
              f"+{naive['extra_peak_mib']:.0f} MiB; time ratio naive/ours "
              f"{naive['seconds'] / ours['seconds']:.1f}, memory ratio "
              f"{naive['extra_peak_mib'] / max(ours['extra_peak_mib'], 1.0):.1f}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    gradient = sub.add_parser("gradient")
    gradient.add_argument("approach", choices=list(APPROACHES))
    generation = sub.add_parser("generation")
    generation.add_argument("--synapses", type=int, required=True)
    generation.add_argument("--rules", type=int, required=True)
    generation.add_argument("--population", type=int, required=True)
    generation.add_argument("--dense", type=int, default=0)
    generation.add_argument("--optimizer", default="adam")
    args = parser.parse_args(argv)
    if args.what == "gradient":
        result = _measure_gradient(args.approach)
    else:
        result = _measure_generation(args.synapses, args.rules, args.population, args.dense,
                                     args.optimizer)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
