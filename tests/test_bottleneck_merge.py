"""Evolve-and-merge and EM-style alternation over tied Hebbian rules (hebbbench.es.merge),
on small vectors with made-up fitness."""

import dataclasses
import io
import pickle

import pytest
import torch

from hebbbench.es import PGPE, STRATEGIES, OpenAIES
from hebbbench.es.merge import (
    EMRules,
    EMRulesConfig,
    EvolveMerge,
    EvolveMergeConfig,
    expand,
    weighted_kmeans,
)

HEAD = 3  # non-rule parameters before the rules (as the car's conv weights)


def _clustered_mean(synapses=12, distinct=3, seed=0):
    """A vector [HEAD + 5 N] whose N rules take exactly ``distinct`` values."""
    generator = torch.Generator().manual_seed(seed)
    table = torch.randn(distinct, 5, generator=generator)
    which = torch.arange(synapses) % distinct
    return torch.cat([torch.randn(HEAD, generator=generator), table[which].reshape(-1)])


def _fitness(population):
    """A made-up smooth fitness: closeness of every coefficient to 0.3."""
    return (-(population - 0.3).square().sum(1)).numpy()


def _merge(mean, inner="pgpe", **settings):
    config = EvolveMergeConfig(population_size=8, inner=inner, **{"target_rules": 3, "merge_every": 2,
                                                                     "merge_factor": 0.5, **settings})
    return EvolveMerge(mean, config, seed=7, rule_slice=slice(HEAD, mean.numel()))


def _run(strategy, generations):
    record = []
    for _ in range(generations):
        population = strategy.ask()
        record.append((population.clone(), strategy.tell(_fitness(population))))
    return record


def test_expanding_with_the_identity_assignment_is_the_vector_itself():
    reduced = torch.randn(4, HEAD + 5 * 6 + 2)
    assert torch.equal(expand(reduced, torch.arange(6, dtype=torch.int32), HEAD), reduced)


def test_kmeans_is_deterministic_and_exact_on_exact_clusters():
    points = _clustered_mean(synapses=30, distinct=4)[HEAD:].reshape(-1, 5).to(torch.float64)
    runs = [weighted_kmeans(points, torch.ones(30, dtype=torch.float64), 4, 10, torch.Generator().manual_seed(1))
            for _ in range(2)]
    (labels, centres), (labels2, centres2) = runs
    assert torch.equal(labels, labels2) and torch.equal(centres, centres2)
    assert torch.equal(centres[labels], points)  # bit for bit


def test_kmeans_asked_for_more_clusters_than_distinct_rules_gives_the_distinct_ones():
    points = _clustered_mean(synapses=20, distinct=2)[HEAD:].reshape(-1, 5).to(torch.float64)
    labels, centres = weighted_kmeans(points, torch.ones(20, dtype=torch.float64), 5, 5, torch.Generator())
    assert centres.shape == (2, 5) and torch.equal(centres[labels], points)


def test_merging_exact_clusters_preserves_the_expanded_vector_exactly():
    mean = _clustered_mean(synapses=12, distinct=3)
    strategy = _merge(mean, merge_factor=0.25)
    assert strategy.num_rules == 12 and torch.equal(strategy.solution(), mean)
    strategy.merge()
    assert strategy.num_rules == 3
    assert torch.equal(strategy.solution(), mean)
    assert strategy.inner.mean.numel() == HEAD + 3 * 5


@pytest.mark.parametrize("inner", ["pgpe", "openai-es"])
def test_the_number_of_rules_never_increases_and_reaches_the_target(inner):
    strategy = _merge(torch.randn(HEAD + 5 * 40), inner=inner)
    rules = [strategy.num_rules] + [logged["rules"] for _, logged in _run(strategy, 12)]
    assert rules[:10] == [40, 40, 20, 20, 10, 10, 5, 5, 3, 3]
    assert all(a >= b for a, b in zip(rules, rules[1:])) and rules[-1] == 3


def test_before_any_merge_it_gives_exactly_the_inner_strategys_numbers():
    mean = torch.randn(HEAD + 5 * 10)
    tied = _merge(mean, merge_every=1000)
    plain = PGPE(mean, tied.config.inner_config(), seed=7)
    for population, logged in _run(tied, 4):
        expected = plain.ask()
        assert torch.equal(population, expected)
        assert {k: v for k, v in logged.items() if k not in ("rules", "merged")} == plain.tell(_fitness(expected))


def test_a_merge_restarts_pgpe_with_each_rules_synapse_weighted_sigma_and_the_reached_lr():
    strategy = _merge(_clustered_mean(synapses=12, distinct=3), merge_factor=0.25, lr_decay=0.9)
    _run(strategy, 1)
    strategy.inner.sigma[HEAD:] = torch.arange(60, dtype=torch.float32) / 60 + 0.05
    sigma = strategy.inner.sigma.clone()
    lr = strategy.inner.lr
    strategy.merge()
    assert strategy.inner.generation == 0 and strategy.inner.lr == pytest.approx(lr)
    assert torch.equal(strategy.inner.sigma[:HEAD], sigma[:HEAD])
    member_sigma = sigma[HEAD:].reshape(12, 5)
    for rule in range(strategy.num_rules):
        members = member_sigma[strategy.assignment == rule]
        torch.testing.assert_close(strategy.inner.sigma[HEAD:].reshape(-1, 5)[rule], members.mean(0))
    assert all(m.abs().sum() == 0 for m in strategy.inner.moments)  # ClipUp's velocity starts afresh


@pytest.mark.parametrize("inner,optimizer", [("pgpe", "clipup"), ("openai-es", "adam")])
def test_a_saved_state_continues_with_the_same_numbers(inner, optimizer):
    strategy = _merge(torch.randn(HEAD + 5 * 24), inner=inner, optimizer=optimizer)
    _run(strategy, 3)
    buffer = io.BytesIO()
    torch.save(strategy.state_dict(), buffer)
    expected = _run(strategy, 5)  # merges at generations 4 and 6
    restored = _merge(torch.zeros(HEAD + 5 * 24), inner=inner, optimizer=optimizer)
    buffer.seek(0)
    restored.load_state_dict(torch.load(buffer))
    got = _run(restored, 5)
    for (pop_a, log_a), (pop_b, log_b) in zip(expected, got):
        assert torch.equal(pop_a, pop_b) and log_a == log_b
    assert torch.equal(strategy.solution(), restored.solution())
    assert torch.equal(strategy.sample(3), restored.sample(3))


@pytest.mark.parametrize("make", ["merge", "em"])
def test_compact_rows_equal_the_asked_rows_and_stay_small(make):
    mean = torch.randn(HEAD + 5 * 64)
    if make == "merge":
        strategy = _merge(mean, merge_every=1, target_rules=8)
    else:
        strategy = EMRules(mean, EMRulesConfig(population_size=8, rules=8, m_step=1), seed=3,
                           rule_slice=slice(HEAD, mean.numel()))
    for _ in range(4):  # through merges / probes
        population = strategy.ask()
        compact = strategy.compact_population()
        assert torch.equal(compact.rows(0, 8), population)
        assert torch.equal(compact.part(2, 5).rows(2, 5), population[2:5])
        assert len(pickle.dumps(compact)) < population.numel() * 4
        strategy.tell(_fitness(population))


def test_solution_and_samples_are_full_vectors_whose_tied_synapses_share_their_rule():
    strategy = _merge(_clustered_mean(synapses=12, distinct=3), merge_factor=0.25)
    strategy.merge()
    for vector in (strategy.solution(), strategy.sample(5), strategy.sample(5, sigma=0.5)):
        rules = vector[HEAD:].reshape(12, 5)
        assert vector.shape == (HEAD + 60,)
        for k in range(3):
            members = rules[strategy.assignment == k]
            assert torch.equal(members, members[:1].expand_as(members))
    assert torch.equal(strategy.sample(5), strategy.sample(5))
    assert not torch.equal(strategy.sample(5), strategy.sample(6))


def test_it_builds_from_the_registry_as_the_trainer_builds_strategies():
    cls = STRATEGIES["evolve-merge"]
    strategy = cls(torch.randn(5 * 20), cls.config_class(population_size=6, target_rules=4, inner="openai-es"), seed=1)
    assert strategy.ask().shape == (6, 100) and isinstance(strategy.inner, OpenAIES)
    assert STRATEGIES["em-rules"] is EMRules


@pytest.mark.parametrize("settings,field", [
    ({"inner": "cma"}, "inner"), ({"merge_factor": 1.0}, "merge_factor"), ({"merge_factor": 0}, "merge_factor"),
    ({"merge_every": 0}, "merge_every"), ({"target_rules": 0}, "target_rules"),
    ({"kmeans_iterations": 0}, "kmeans_iterations"), ({"sigma_decay": 0.99}, "sigma_decay"),
    ({"lr": -1.0}, "lr"),
])
def test_config_errors_name_the_field(settings, field):
    with pytest.raises(ValueError, match=field):
        EvolveMergeConfig(population_size=8, **settings)


def test_a_rule_slice_that_is_not_whole_rules_is_refused():
    with pytest.raises(ValueError, match="rule_slice"):
        EvolveMerge(torch.randn(1362 + 5 * 10), EvolveMergeConfig(population_size=4), seed=0)


def _em(mean, **settings):
    config = EMRulesConfig(population_size=8, **{"rules": 4, "m_step": 2, **settings})
    return EMRules(mean, config, seed=5, rule_slice=slice(HEAD, mean.numel()))


def test_em_starts_from_kmeans_of_the_per_synapse_rules():
    mean = _clustered_mean(synapses=20, distinct=4)
    strategy = _em(mean)
    assert strategy.num_rules == 4 and torch.equal(strategy.solution(), mean)


def test_an_e_step_with_no_gradient_keeps_every_synapse_on_its_rule():
    strategy = _em(torch.randn(HEAD + 5 * 20))
    before = strategy.assignment.clone()
    assert strategy.e_step(torch.zeros(20, 5)) == 0 and torch.equal(strategy.assignment, before)


def test_an_e_step_moves_a_synapse_to_the_rule_nearest_its_gradient_step_and_drops_emptied_rules():
    strategy = _em(_clustered_mean(synapses=8, distinct=4), e_step=1.0)
    rules = strategy._rules(strategy.inner.mean).clone()
    own = rules[strategy.assignment.long()]
    # every synapse of the last rule is pushed exactly onto rule 0
    last = strategy.assignment == 3
    gradient = torch.zeros(8, 5)
    gradient[last] = rules[0] - own[last]
    before = strategy.solution()
    assert strategy.e_step(gradient) == int(last.sum())
    assert strategy.num_rules == 3
    after = strategy.solution()[HEAD:].reshape(8, 5)
    assert torch.equal(after[last], rules[0].expand(int(last.sum()), 5))
    assert torch.equal(after[~last], before[HEAD:].reshape(8, 5)[~last])


def test_em_alternates_m_steps_and_probes_and_never_increases_the_rules():
    strategy = _em(torch.randn(HEAD + 5 * 30), rules=6, e_step=5.0)
    rules, probes = [strategy.num_rules], []
    for population, logged in _run(strategy, 12):
        rules.append(logged["rules"])
        probes.append(logged["e_step"])
        assert population.shape == (8, HEAD + 150)
    assert probes == [0, 0, 1] * 4
    assert all(a >= b for a, b in zip(rules, rules[1:]))


def test_an_em_state_continues_with_the_same_numbers():
    strategy = _em(torch.randn(HEAD + 5 * 30), rules=6, e_step=5.0)
    _run(strategy, 2)
    state = pickle.loads(pickle.dumps(strategy.state_dict()))
    expected = _run(strategy, 6)
    restored = _em(torch.zeros(HEAD + 5 * 30), rules=6)
    restored.load_state_dict(state)
    for (pop_a, log_a), (pop_b, log_b) in zip(expected, _run(restored, 6)):
        assert torch.equal(pop_a, pop_b) and log_a == log_b



def test_the_trainer_runs_evolve_merge_with_real_merges_and_resumes_it_exactly(tmp_path):
    from helpers import outcomes

    from hebbbench.training.train import TrainConfig, read_log, resume, train

    config = TrainConfig(agent="hebbian", task="ant", population=4, generations=3, seed=2, max_episode_steps=8,
                         backend="inprocess", strategy="evolve-merge",
                         es={"merge_every": 1, "merge_factor": 0.01, "target_rules": 30, "lr": 0.05})
    straight = train(config, tmp_path / "straight", progress=False)
    assert [row["rules"] for row in read_log(straight)] == [123, 30, 30]  # after each generation's merge
    stopped = train(dataclasses.replace(config, generations=2), tmp_path / "stopped", progress=False)
    resume(stopped, generations=3, progress=False)
    assert outcomes(stopped) == outcomes(straight)


def test_the_trainer_tells_a_rule_tying_strategy_where_the_cars_rules_start():
    """The car's rule coefficients lie after its conv weights (1,362 of them)."""
    from hebbbench.agents import hebbian_slice
    from hebbbench.training.run_dir import TrainConfig, make_strategy

    config = TrainConfig(agent="hebbian", task="car", population=4, strategy="em-rules", es={"rules": 8})
    strategy = make_strategy(config)
    where = hebbian_slice("hebbian", "car")
    assert (strategy.rule_start, strategy.rule_stop) == (where.start, where.stop) == (1362, 458002)
    rules = strategy.ask()[:, where].reshape(4, -1, 5)
    assert len(torch.unique(rules[0], dim=0)) <= 8
    with pytest.raises(ValueError, match="agent 'static' has none"):
        TrainConfig(agent="static", task="car", strategy="evolve-merge")
