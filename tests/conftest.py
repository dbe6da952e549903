"""Test fixtures; helper functions live in tests/helpers.py."""

from __future__ import annotations

import signal

import numpy as np
import pytest

import hebbbench  # noqa: F401  (registers the env IDs)


def pytest_configure(config):
    """Let Ctrl-C through, as in a terminal: a shell starts a background job (``cmd &``
    in a script, ``nohup``) with SIGINT ignored, which its children inherit, and the tests
    of clean interruption would then wait for an interrupt that never comes."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def ant_actions():
    """A fixed, seeded sequence of 60 ant actions in [-1, 1]."""
    return np.random.default_rng(7).uniform(-1, 1, size=(60, 8)).astype(np.float32)


#: The suite's slowest tests, marked ``slow`` here in one table (module, or module::test name
#: prefix) so that ``python -m pytest -m "not slow" tests`` is a quick subset: long training
#: runs, Ray, killed and resumed processes, evaluations of many episodes, hostile and
#: sandboxed agents, a headless browser, building a wheel. CI runs everything.
SLOW = (
    "test_hostile_agents.py", "test_sandbox.py", "test_sb3_example.py", "test_leaderboard_verify.py",
    "test_leaderboard_html.py", "test_wheel.py", "test_gmm_train.py",
    "test_train.py::test_tiny_run_writes_log_checkpoint_and_an_agent",
    "test_train.py::test_sigkilled_run_resumes_to_exactly_the_uninterrupted_parameters",
    "test_train.py::test_worker_processes_give_the_same_numbers",
    "test_rollouts.py::test_per_individual_episodes_give_the_same_numbers_on_every_backend",
    "test_rollouts.py::test_local_pool_gives_the_in_process_numbers",
    "test_rollouts.py::test_a_killed_worker_is_replaced_and_the_numbers_stay",
    "test_rollouts.py::test_ray_backend_gives_the_in_process_numbers",
    "test_rollouts.py::test_ctrl_c_or_kill_stops_training_cleanly",
    "test_rollouts.py::test_train_cli_runs_on_a_chosen_backend",
    "test_evaluate_cli.py::test_an_agent_file_written_outside_the_project_evaluates",
    "test_evaluate_cli.py::test_record_saves_one_gif_per_variation",
    "test_evaluate_cli.py::test_ctrl_c_stops_cleanly_without_a_results_file",
    "test_es_efficiency.py::test_normalised_pgpe_run",
)


def pytest_collection_modifyitems(config, items):
    """Mark the tests of :data:`SLOW` ``slow`` (registered in pyproject.toml)."""
    for item in items:
        name = f"{item.path.name}::{item.name}"
        if any(name == slow or name.startswith(slow + ("::" if slow.endswith(".py") else "")) for slow in SLOW):
            item.add_marker(pytest.mark.slow)
