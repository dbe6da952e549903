"""`hebbbench train`: tiny real runs, exact resume after SIGKILL, run dir as an agent, plots."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import outcomes

from hebbbench.cli import main
from hebbbench.envs import get_variation
from hebbbench.evaluation.agent_file import load_agent_factory
from hebbbench.training.train import TrainConfig, read_log, resume, train

TINY = {"ant": 15, "car": 8}  # policy steps per episode in these tests


def _config(agent: str, task: str, **overrides) -> TrainConfig:
    values = dict(agent=agent, task=task, population=4, generations=2, seed=3, max_episode_steps=TINY[task],
                  backend="inprocess")
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("task", ["ant", "car"])
@pytest.mark.parametrize("agent", ["static", "lstm", "hebbian"])
def test_tiny_run_writes_log_checkpoint_and_an_agent(agent, task, tmp_path):
    run_dir = train(_config(agent, task), tmp_path / "run", progress=False)
    rows = read_log(run_dir)
    assert [row["generation"] for row in rows] == [0, 1]
    training = _config(agent, task).variations
    assert len(training) == 4
    for row in rows:
        assert all(np.isfinite(row[f"return_{name}"]) for name in training)
        assert row["sigma"] > 0 and row["lr"] > 0 and row["seconds"] > 0
    assert rows[1]["env_steps"] > rows[0]["env_steps"] > 0
    assert (rows[0]["penalty_mean"] < 0) == (agent == "hebbian")
    # The run directory is an agent file: its agent acts in a real env.
    env = gym.make(get_variation(task, "default").env_id, max_episode_steps=3)
    factory = load_agent_factory(run_dir)
    with pytest.raises(ValueError, match="trained on"):
        factory(task, training[0], env.observation_space, env.action_space)
    made = factory(task, _config(agent, task).holdout, env.observation_space, env.action_space)
    observation, _ = env.reset(seed=0)
    made.reset(0)
    env.step(made.act(observation))
    env.close()


def test_same_seed_gives_the_same_numbers(tmp_path):
    first = train(_config("hebbian", "ant"), tmp_path / "a", progress=False)
    second = train(_config("hebbian", "ant"), tmp_path / "b", progress=False)
    assert outcomes(first) == outcomes(second)
    assert np.array_equal(np.load(first / "parameters.npy"), np.load(second / "parameters.npy"))


def test_worker_processes_give_the_same_numbers(tmp_path):
    alone = train(_config("static", "ant", generations=1), tmp_path / "a", progress=False)
    pooled = train(_config("static", "ant", generations=1, backend="local", workers=2), tmp_path / "b", progress=False)
    assert read_log(alone)[0]["fitness_mean"] == read_log(pooled)[0]["fitness_mean"]
    assert np.array_equal(np.load(alone / "parameters.npy"), np.load(pooled / "parameters.npy"))


def _wait_for_rows(run_dir: Path, count: int, process: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while len(read_log(run_dir)) < count:
        assert process.poll() is None, "the training process ended before it was killed"
        assert time.monotonic() < deadline, "the training process logged too slowly"
        time.sleep(0.05)


def test_sigkilled_run_resumes_to_exactly_the_uninterrupted_parameters(tmp_path):
    """Kill a real `hebbbench train` process twice (mid-generation, then soon after the
    restart) and resume; the final parameters and fitness rows equal an uninterrupted run's."""
    args = ["--agent", "hebbian", "--task", "ant", "--variations", "default,damage-left", "--population", "4",
            "--generations", "6", "--seed", "5", "--max-episode-steps", "40"]
    straight = tmp_path / "straight"
    assert main(["train", *args, "--out", str(straight)]) == 0

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "hebbbench.cli", "train"]
    process = subprocess.Popen([*command, *args, "--out", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for_rows(killed, 2, process)
    time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process = subprocess.Popen([*command, "--resume", str(killed)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for_rows(killed, len(read_log(killed)) + 1, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(read_log(killed)) < 6
    assert main(["train", "--resume", str(killed)]) == 0

    assert np.array_equal(np.load(killed / "parameters.npy"), np.load(straight / "parameters.npy"))
    assert outcomes(killed) == outcomes(straight)
    best, best_straight = torch.load(killed / "best.pt"), torch.load(straight / "best.pt")
    assert best["generation"] == best_straight["generation"]
    assert torch.equal(best["strategy"]["mean"], best_straight["strategy"]["mean"])


def test_resume_drops_a_logged_but_uncheckpointed_generation(tmp_path):
    run_dir = train(_config("static", "ant", generations=1), tmp_path / "run", progress=False)
    with open(run_dir / "log.jsonl", "a") as handle:  # as if killed after logging generation 1
        handle.write(json.dumps({"generation": 1, "fitness_mean": 0.0}) + "\n" + '{"generation": 2, "fit')
    resume(run_dir, generations=2, progress=False)  # extends the run by one generation
    rows = read_log(run_dir)
    assert [row["generation"] for row in rows] == [0, 1] and rows[1]["fitness_mean"] != 0.0


def test_plot_writes_a_png_beside_the_run_so_its_hash_does_not_change(tmp_path):
    from hebbbench.evaluation.agent_file import agent_sha256

    run_dir = train(_config("static", "ant", generations=2), tmp_path / "run", progress=False)
    before = agent_sha256(run_dir)
    assert main(["plot", str(run_dir)]) == 0
    assert (tmp_path / "run-learning-curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert agent_sha256(run_dir) == before


def test_config_presets_load_with_overrides():
    presets = sorted(Path(__file__).parents[1].glob("configs/*.toml"))
    assert presets
    for preset in presets:
        config = TrainConfig.from_file(preset, generations=1)
        assert config.generations == 1 and config.population % 2 == 0


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["train", "--agent", "static", "--task", "ant", "--holdout", "long-front", "--variations",
                 "long-front", "--out", str(tmp_path / "x")]) == 2
    assert "cannot also be a training variation" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--agent", "static"]) == 2
    assert "drop --agent" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path), "--seed", "1"]) == 2
    assert "drop --seed" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    assert main(["train", "--agent", "static", "--task", "ant", "--out", str(tmp_path / "full")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["train", "--agent", "static", "--task", "ant", "--population", "5", "--out", str(tmp_path / "y")]) == 2
    assert "even number" in capsys.readouterr().err


@pytest.mark.parametrize("agent", ["static", "shared"])
def test_run_agent_draws_one_individual_of_the_final_distribution_per_episode(agent, tmp_path):
    """As the paper evaluated (one sample per episode): same seed, same individual."""
    from hebbbench.training.run_agent import SampledRunAgent, load_run_agent
    from hebbbench.training.train import make_strategy

    overrides = {"rho": 1024} if agent == "shared" else {}
    config = _config(agent, "ant", generations=1, **overrides)
    run_dir = train(config, tmp_path / "run", progress=False)
    sampled = load_run_agent(run_dir, "ant", config.holdout, checkpoint="final")
    assert isinstance(sampled, SampledRunAgent)
    parameters = {}
    for seed in (5, 6, 5):
        sampled.reset(seed)
        parameters.setdefault(seed, []).append(sampled.agent.policy.params)
    first, again = parameters[5]
    assert all(torch.equal(first[name], again[name]) for name in first)
    assert any(not torch.equal(first[name], parameters[6][0][name]) for name in first)
    # It samples what the run's own strategy, fully restored (optimiser state included), would.
    restored = make_strategy(config)
    restored.load_state_dict(torch.load(run_dir / "checkpoint.pt")["strategy"])
    assert torch.equal(sampled.strategy.sample(123), restored.sample(123))
    env = gym.make("AntDefault-v0", max_episode_steps=3)
    observation, _ = env.reset(seed=0)
    sampled.reset(0)
    env.step(sampled.act(observation))
    env.close()


def test_a_run_from_before_per_row_noise_seeds_evaluates_but_does_not_resume(tmp_path):
    from hebbbench.train import load_run_agent  # the committed run directories' import path

    config = _config("static", "ant", generations=1)
    run_dir = train(config, tmp_path / "run", progress=False)
    checkpoint = torch.load(run_dir / "checkpoint.pt")
    del checkpoint["strategy"]["noise"]  # as saved before commit 6467fe0,
    del checkpoint["checksum"], checkpoint["config"]  # which wrote neither checksum nor config
    torch.save(checkpoint, run_dir / "checkpoint.pt")
    with pytest.raises(ValueError, match="older hebbbench that drew its ES noise differently"):
        resume(run_dir, progress=False, generations=2)
    assert read_log(run_dir)[-1]["generation"] == 0  # nothing ran
    agent = load_run_agent(run_dir, "ant", config.holdout, checkpoint="final")
    agent.reset(3)
    assert agent.act(np.zeros(28, dtype=np.float32)).shape == (8,)


def test_a_fan_in_run_starts_from_the_fan_in_draw_of_its_seed(tmp_path):
    from hebbbench.agents import initial_parameters
    from hebbbench.training.train import make_strategy

    config = _config("static", "car", init="fan-in")
    expected = initial_parameters("static", "car", "fan-in", 1.0, torch.Generator().manual_seed(config.seed))
    assert torch.equal(make_strategy(config).mean, expected)
    run_dir = train(config, tmp_path / "run", progress=False)
    assert json.loads((run_dir / "config.json").read_text())["init"] == "fan-in"
    assert len(read_log(run_dir)) == 2


@pytest.mark.parametrize("agent", ["static", "shared"])
def test_best_checkpoint_holds_the_distribution_of_the_generation_with_the_best_mean_fitness(agent, tmp_path):
    """As the paper's best.t: the ES distribution that produced the best population-mean
    fitness (for the mixture too, whose state dict holds live tensors that tell() moves)."""
    from hebbbench.training.train import make_strategy

    def solution(state):
        strategy = make_strategy(config)
        strategy.load_state_dict(state)
        return strategy.solution()

    extra = {"init_std": 0.1} if agent == "static" else {"rho": 256}
    config = _config(agent, "ant", generations=4, population=6, **extra)
    run_dir = train(config, tmp_path / "run", progress=False)
    rows = read_log(run_dir)
    best_row = max(rows, key=lambda row: row["fitness_mean"])
    best = torch.load(run_dir / "best.pt")
    assert best["generation"] == best_row["generation"]
    assert best["fitness_mean"] == best_row["fitness_mean"]
    assert torch.load(run_dir / "checkpoint.pt")["best"] == {"generation": best["generation"],
                                                            "fitness_mean": best["fitness_mean"]}
    # The saved mean is the one that generation sampled around: the mean a run stopped
    # just before that generation ends with (same seed, same numbers).
    assert best["strategy"]["generation"] == best["generation"]
    if best["generation"] == 0:
        before = make_strategy(config).solution()
    else:
        shorter = train(dataclasses.replace(config, generations=best["generation"]), tmp_path / "shorter",
                        progress=False)
        before = solution(torch.load(shorter / "checkpoint.pt")["strategy"])
    assert torch.equal(solution(best["strategy"]), before)


def _flat(agent) -> torch.Tensor:
    """A K=1 reference agent's parameters as the flat vector they came from."""
    return torch.cat([tensor.reshape(-1) for tensor in agent.policy.params.values()])


def test_run_directory_agent_options_pick_checkpoint_and_sigma(tmp_path):
    from hebbbench.agents import ReferenceAgent
    from hebbbench.training.run_agent import SampledRunAgent, load_run_agent

    config = _config("static", "ant", generations=3, population=6)
    run_dir = train(config, tmp_path / "run", progress=False)
    best = torch.load(run_dir / "best.pt")["strategy"]
    final = torch.load(run_dir / "checkpoint.pt")["strategy"]
    mean_of_best = load_run_agent(run_dir, "ant", checkpoint="best", sigma=0)
    assert isinstance(mean_of_best, ReferenceAgent)
    assert torch.equal(_flat(mean_of_best), best["mean"])
    mean_of_final = load_run_agent(run_dir, "ant", checkpoint="final", sigma=0)
    assert torch.equal(_flat(mean_of_final), final["mean"])
    assert np.array_equal(_flat(mean_of_final).numpy(), np.load(run_dir / "parameters.npy"))
    assert not torch.equal(best["mean"], final["mean"])
    wide = load_run_agent(run_dir, "ant", sigma=0.5)
    default = load_run_agent(run_dir, "ant")
    assert isinstance(wide, SampledRunAgent) and isinstance(default, SampledRunAgent)
    spread = {name: float((agent.strategy.sample(1, agent.sigma) - agent.strategy.mean).std())
              for name, agent in (("wide", wide), ("default", default))}
    assert spread["wide"] == pytest.approx(0.5, rel=0.05)
    assert spread["default"] == pytest.approx(0.1 * 0.999 ** best["generation"], rel=0.05)
    with pytest.raises(ValueError, match="checkpoint must be one of best, final"):
        load_run_agent(run_dir, "ant", checkpoint="last")
    with pytest.raises(ValueError, match="sigma must be 'checkpoint' or a number >= 0"):
        load_run_agent(run_dir, "ant", sigma=-1)
    (run_dir / "best.pt").unlink()
    with pytest.raises(ValueError, match="checkpoint=final"):
        load_run_agent(run_dir, "ant")


def test_evaluate_passes_agent_options_to_a_run_directory_and_records_them(tmp_path):
    from hebbbench import evaluate

    run_dir = train(_config("static", "ant", generations=2), tmp_path / "run", progress=False)
    options = {"checkpoint": "final", "sigma": 0}
    results = evaluate(str(run_dir), task="ant", episodes=1, workers=1, agent_options=options)
    assert results.to_dict()["agent"]["options"] == options
    plain = evaluate(str(run_dir), task="ant", episodes=1, workers=1)
    assert "options" not in plain.to_dict()["agent"]
    with pytest.raises(Exception, match="does not accept the agent options"):
        evaluate("examples/random_agent.py", task="ant", episodes=1, workers=1, agent_options={"sigma": 0})


def test_resume_with_no_more_generations_than_done_says_so_and_changes_nothing(tmp_path):
    run_dir = train(_config("static", "ant", generations=2), tmp_path / "run", progress=False)
    before = (run_dir / "config.json").read_text()
    with pytest.raises(ValueError, match="already has 2 generations; --generations extends a run"):
        resume(run_dir, progress=False, generations=1)
    assert (run_dir / "config.json").read_text() == before


@pytest.mark.parametrize("overrides, message", [
    ({"generations": 0}, "generations must be an integer >= 1, got 0"),
    ({"population": 0}, "population must be an integer >= 1, got 0"),
    ({"generations": True}, "generations must be an integer >= 1, got True"),
    ({"max_episode_steps": 2.5}, "max_episode_steps must be an integer >= 1, got 2.5"),
    ({"max_episode_steps": True}, "max_episode_steps must be an integer >= 1, got True"),
    ({"seed": "x"}, "seed must be an integer >= 0, got 'x'"),
    ({"variations": ()}, "variations must list at least one training variation"),
    ({"es": {"learning_rate": 0.1}}, r"unknown es settings \['learning_rate'\] for the openai-es strategy"),
    ({"es": {"lr": "fast"}}, "lr must be a finite number, got 'fast'"),
    ({"init_std": 0}, "init_std must be a positive number"),
    ({"init": "zeros"}, "unknown init 'zeros'; allowed: normal, fan-in"),
])
def test_bad_config_values_are_refused_not_reinterpreted(overrides, message):
    with pytest.raises(ValueError, match=message):
        _config("static", "ant", **overrides)


def test_cli_refuses_zero_generations_and_empty_variations(tmp_path, capsys):
    base = ["train", "--agent", "static", "--task", "ant", "--out", str(tmp_path / "run")]
    assert main([*base, "--generations", "0"]) == 2
    assert "generations must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main([*base, "--variations", ""]) == 2
    assert "unknown variation ''" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_damaged_log_line_is_an_error_not_a_silent_loss_of_the_rows_after_it(tmp_path):
    run_dir = train(_config("static", "ant", generations=3), tmp_path / "run", progress=False)
    rows = (run_dir / "log.jsonl").read_text().splitlines()
    for damage in ("", "garbage", "[1, 2]"):
        (run_dir / "log.jsonl").write_text("\n".join([rows[0], damage, *rows[1:]]) + "\n")
        with pytest.raises(ValueError, match="line 2 is not a log row"):
            resume(run_dir, progress=False, generations=4)
    (run_dir / "log.jsonl").write_text("\n".join(rows) + "\n" + rows[0][:10])  # a half-written last line
    assert [row["generation"] for row in read_log(run_dir)] == [0, 1, 2]


def test_a_second_process_cannot_train_in_a_run_directory_in_use(tmp_path):
    run_dir = train(_config("static", "ant", generations=1), tmp_path / "run", progress=False)
    command = [sys.executable, "-m", "hebbbench.cli", "train", "--resume", str(run_dir), "--generations", "40"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_rows(run_dir, 2, first)
        second = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "another hebbbench process is training in" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=120)
    generations = [row["generation"] for row in read_log(run_dir)]
    assert generations == list(range(len(generations)))


def test_a_run_stopped_before_its_first_checkpoint_says_how_to_recover(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="stopped before its first checkpoint, so there is nothing to resume"):
        resume(run_dir, progress=False)
    with pytest.raises(ValueError, match="stopped before its first checkpoint, so nothing was trained"):
        train(_config("static", "ant"), run_dir, progress=False)


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path):
    run_dir = train(_config("static", "ant", generations=1), tmp_path / "run", progress=False)
    data = (run_dir / "checkpoint.pt").read_bytes()
    (run_dir / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="checkpoint.pt cannot be read .* the file is damaged"):
        resume(run_dir, progress=False, generations=2)


NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@NO_CUDA
def test_device_cuda_without_a_gpu_is_refused_before_any_work(tmp_path, capsys):
    config = _config("hebbian", "car", device="cuda")  # a config may name it (a GPU run's config.json)
    with pytest.raises(ValueError, match=r"device 'cuda' needs a CUDA (build of torch|GPU)"):
        train(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    assert main(["train", "--agent", "static", "--task", "car", "--device", "cuda",
                 "--out", str(tmp_path / "cli")]) == 2
    assert "use 'cpu'" in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


@pytest.mark.parametrize("device", ["gpu", "tpu", "cuda:x", 0])
def test_unknown_device_names_are_refused(device):
    with pytest.raises(ValueError, match=r"device must be 'cpu', 'cuda' or 'cuda:N', got"):
        _config("static", "ant", device=device)


@NO_CUDA
def test_a_run_trained_on_a_gpu_evaluates_here_and_resumes_here_on_the_cpu(tmp_path):
    """A GPU run's directory differs from a CPU run's only by its config's device: its agent
    acts on the CPU, resuming it here asks for --device cpu, and each row names its device."""
    run_dir = train(_config("static", "ant", generations=2), tmp_path / "run", progress=False)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "device": "cuda"}))
    env = gym.make(get_variation("ant", "default").env_id)
    agent = load_agent_factory(run_dir)("ant", "long-front", env.observation_space, env.action_space)
    observation, _ = env.reset(seed=0)
    agent.reset(0)
    assert agent.act(observation).shape == (8,)
    with pytest.raises(ValueError, match="use 'cpu'"):
        resume(run_dir, progress=False, generations=3)
    resume(run_dir, progress=False, generations=3, device="cpu")
    assert [row["device"] for row in read_log(run_dir)] == ["cpu"] * 3
    assert json.loads((run_dir / "config.json").read_text())["device"] == "cpu"


def test_policies_and_the_mixture_take_a_device_and_answer_on_the_cpu():
    """The device path as CI can run it (device="cpu" through the same code)."""
    from hebbbench.agents import make_policy, parameter_count
    from hebbbench.es import GaussianMixtureES, GaussianMixtureESConfig
    from hebbbench.training.lockstep import GPU_LOCKSTEP, lockstep_size

    population = torch.randn(2, parameter_count("hebbian", "car"), generator=torch.Generator().manual_seed(0)) * 0.1
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 96, 96, 3), dtype=np.uint8)
    actions = []
    for device in (None, "cpu", torch.device("cpu")):
        policy = make_policy("hebbian", "car", population) if device is None else \
            make_policy("hebbian", "car", population, device)
        policy.reset([1, 2])
        actions.append(policy.act(frames))
    assert all(isinstance(a, np.ndarray) and np.array_equal(a, actions[0]) for a in actions)
    strategy = GaussianMixtureES(64, 4, GaussianMixtureESConfig(population_size=6), seed=0, device="cpu")
    population = strategy.ask()
    strategy.tell(np.arange(6.0))
    assert population.device.type == "cpu" and strategy.solution().device.type == "cpu"
    assert lockstep_size("car", "hebbian", "cuda") == GPU_LOCKSTEP > lockstep_size("car", "hebbian", "cpu")


def test_a_byte_flipped_inside_a_checkpoint_tensor_is_refused_on_resume(tmp_path):
    run_dir = train(_config("static", "ant", generations=1), tmp_path / "run", progress=False)
    path = run_dir / "checkpoint.pt"
    data = bytearray(path.read_bytes())
    mean = torch.load(path)["strategy"]["mean"].numpy().tobytes()
    where = bytes(data).find(mean[:64])
    assert where > 0  # torch.save stores tensor bytes as they are
    data[where + 10] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the checksum"):
        resume(run_dir, generations=2, progress=False)


@pytest.mark.parametrize("field, value", [("seed", 4), ("population", 6), ("es", {"lr": 0.5})])
def test_a_config_edited_by_hand_between_runs_is_refused_naming_the_field(field, value, tmp_path):
    run_dir = train(_config("static", "ant", generations=1), tmp_path / "run", progress=False)
    values = json.loads((run_dir / "config.json").read_text())
    values[field] = value
    (run_dir / "config.json").write_text(json.dumps(values))
    with pytest.raises(ValueError, match=f"says {field} = .* but the run was trained with"):
        resume(run_dir, generations=2, progress=False)


def test_a_checkpoint_from_before_a_config_field_existed_resumes_with_its_default(tmp_path):
    from hebbbench.training.run_dir import load_state, save_state

    run_dir = train(_config("static", "ant", generations=1), tmp_path / "run", progress=False)
    state = load_state(run_dir / "checkpoint.pt")  # as a run started before variation_sampling existed
    del state["config"]["variation_sampling"]
    save_state(run_dir / "checkpoint.pt", state)
    values = json.loads((run_dir / "config.json").read_text())
    del values["variation_sampling"]
    (run_dir / "config.json").write_text(json.dumps(values))
    resume(run_dir, generations=2, progress=False)
    assert [row["generation"] for row in read_log(run_dir)] == [0, 1]


def test_best_checkpoint_keeps_only_what_evaluation_reads(tmp_path):
    run_dir = train(_config("static", "ant", generations=1, es={"optimizer": "adam", "lr": 0.01}), tmp_path / "run",
                    progress=False)
    best = torch.load(run_dir / "best.pt")["strategy"]
    assert "mean" in best and not {"adam_m", "adam_v"} & set(best)
    assert set(torch.load(run_dir / "checkpoint.pt")["strategy"]) >= {"adam_m", "adam_v"}
