import subprocess
import sys

from hebbbench.envs import TASKS, VARIATIONS


def test_hebbbench_envs_lists_every_id_with_task_variation_and_kwargs():
    result = subprocess.run([sys.executable, "-m", "hebbbench.cli", "envs"], capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    for variation in VARIATIONS:
        line = next(line for line in lines if line.startswith(variation.env_id + " "))
        assert variation.task in line.split() and variation.name in line.split()
        for key, value in variation.kwargs.items():
            assert f"{key}={value}" in line
    for task in TASKS.values():
        assert any(line.startswith(task.parametric_id) and "(parametric)" in line for line in lines)
