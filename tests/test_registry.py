import gymnasium as gym
import pytest

from hebbbench.envs import TASKS, VARIATIONS, get_task, get_variation, variations

EXPECTED = {
    "car": ["default", "half-friction", "double-friction", "pushed-left", "pushed-right"],
    "ant": ["default", "damage-left", "damage-right", "long-back", "long-front"],
}


def test_each_task_has_the_papers_five_variations():
    assert {task: [v.name for v in variations(task)] for task in TASKS} == EXPECTED


def test_every_variation_and_parametric_id_is_registered():
    ids = [v.env_id for v in VARIATIONS] + [t.parametric_id for t in TASKS.values()]
    assert len(ids) == 12 and len(set(ids)) == 12
    for env_id in ids:
        assert env_id in gym.registry


def test_registered_kwargs_come_from_the_registry():
    spec = gym.spec("CarRacingPushedRight-v0")
    assert spec.kwargs == {"side_force": 10.0}
    assert gym.spec("AntLongFront-v0").kwargs == {"ankle_lengths": (0.6, 0.6, 0.4, 0.4)}
    assert gym.spec("AntMorphology-v0").max_episode_steps == get_task("ant").max_episode_steps == 960


def test_unknown_names_raise_and_list_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed tasks: car, ant"):
        get_task("walker")
    with pytest.raises(ValueError, match="long-front"):
        get_variation("ant", "long-middle")


def test_importing_the_envs_loads_neither_torch_nor_the_evaluation_stack():
    """``gym.make`` of a hebbbench ID needs only the envs: a user who wants the environments
    does not pay for torch (seconds) or the protocol."""
    import subprocess
    import sys

    code = ("import sys, gymnasium as gym, hebbbench.envs; gym.make('AntDamageLeft-v0').close(); "
            "print(sorted(m for m in ('torch', 'hebbbench.evaluation.protocol', 'hebbbench.evaluation.results') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    code = "import hebbbench; from hebbbench import evaluate, Results; print(evaluate.__module__, Results.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["hebbbench.evaluation.protocol", "hebbbench.evaluation.results"]
