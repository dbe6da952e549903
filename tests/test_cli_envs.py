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


def _with_reader_gone(*args: str) -> subprocess.CompletedProcess:
    """Run ``hebbbench ARGS`` with stdout a real pipe whose reader closed it before the first
    write, as ``| head`` does once it has its lines; stderr captured."""
    process = subprocess.Popen([sys.executable, "-m", "hebbbench.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.stderr.read()
    return subprocess.CompletedProcess(process.args, process.wait(), None, stderr)


def test_envs_piped_into_a_reader_that_stops_exits_quietly():
    for args in (["envs"], ["evaluate", "--help"], ["--help"]):
        done = _with_reader_gone(*args)
        assert done.stderr == "", (args, done.stderr)
        # 128 + SIGPIPE, as a shell reports `yes | head`; argparse's --help drops the write error itself: 0
        assert done.returncode == (0 if "--help" in args else 141), args


def test_envs_piped_into_head_exits_quietly():
    done = subprocess.run(f"'{sys.executable}' -m hebbbench.cli envs | head -5", shell=True, capture_output=True,
                          text=True, check=True)
    assert len(done.stdout.splitlines()) == 5 and done.stderr == ""


def test_every_command_and_option_of_the_cli_has_a_help_text():
    import argparse

    from hebbbench.cli import build_parser

    def silent(parser: argparse.ArgumentParser, name: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [f"{name} {choice.dest}" for choice in action._choices_actions if not choice.help]
                for command, subparser in action.choices.items():
                    missing += silent(subparser, f"{name} {command}")
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
        return missing

    assert silent(build_parser(), "hebbbench") == []


def test_train_help_names_every_registered_strategy_and_backend():
    """The parser names them by hand (it does not import torch); this keeps the names in step."""
    from hebbbench.cli import TRAIN_OPTIONS
    from hebbbench.es import STRATEGIES
    from hebbbench.training.rollouts import BACKENDS

    helps = {flag: settings["help"] for flag, settings, _ in TRAIN_OPTIONS}
    for flag, registry in (("--strategy", STRATEGIES), ("--backend", BACKENDS)):
        words = {word.strip(",;:()") for word in helps[flag].split()}
        missing = [name for name in registry if name not in words]
        assert missing == [], f"{flag}'s help does not name {missing}"


def test_train_ends_by_printing_the_evaluate_command_of_its_own_fold(tmp_path, capsys):
    import shlex

    from hebbbench.cli import build_parser, main

    run_dir = tmp_path / "my run"
    assert main(["train", "--agent", "static", "--task", "ant", "--holdout", "damage-left", "--variations",
                 "default", "--population", "2", "--generations", "1", "--max-episode-steps", "5",
                 "--backend", "inprocess", "--out", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    command = printed.split("evaluate it: ", 1)[1].split(";", 1)[0]
    assert "..." not in command
    assert command == f"hebbbench evaluate {shlex.quote(str(run_dir))} --task ant --holdout damage-left"
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert (args.agent, args.task, args.holdout) == (str(run_dir), "ant", "damage-left")
