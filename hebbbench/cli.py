"""The ``hebbbench`` command line: a thin layer over the Python API.

Each subcommand is one ``_cmd_*`` function plus its argument block in :func:`build_parser`.
Errors the user can fix (``UserError``, ``ValueError`` from validation) are printed as
one paragraph with a non-zero exit, never as a raw traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from hebbbench.envs import TASKS, env_settings, variations


class UserError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


def _cmd_envs(args: argparse.Namespace) -> int:
    """Print every registered env ID with its task, variation and kwargs."""
    rows = [("ID", "task", "variation", "kwargs")]
    for task in TASKS.values():
        for variation in variations(task.name):
            kwargs = ", ".join(f"{k}={v}" for k, v in variation.kwargs.items()) or "-"
            rows.append((variation.env_id, task.name, variation.name, kwargs))
        rows.append((task.parametric_id, task.name, "(parametric)", task.parametric_kwargs))
        rows.append((task.training_id, task.name, "(training)",
                     "holdout=V: one of the fold's training variations per reset"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("\nSettings every ID of a task shares (override with gym.make(ID, name=value)):")
    for task in TASKS.values():
        varied = {key for variation in variations(task.name) for key in variation.kwargs}
        shared = {k: v for k, v in env_settings(variations(task.name)[0]).items() if k not in varied}
        print(f"  {task.name}: " + ", ".join(f"{k}={v!r}" for k, v in shared.items()))
    print("  car camera='velocity' is the paper's view (gym 0.17: it turns to the direction of travel "
          "above speed 0.5); camera='hull' is Gymnasium CarRacing-v3's")
    return 0


def _rho(text: str) -> int | str:
    """``--rho``: a positive integer, or ``N`` (one rule for all synapses)."""
    if text == "N":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rho must be a positive integer or N, got {text!r}") from None


def _cmd_train(args: argparse.Namespace) -> int:
    """Start a training run in ``--out``, or continue one with ``--resume``."""
    from hebbbench.system.interrupts import terminate_as_interrupt
    from hebbbench.training.rollouts import BatchError, WorkerCrashError

    # `kill PID` stops a run as Ctrl-C does: its workers are shut down and the log and
    # checkpoint stay consistent (a bare SIGTERM would orphan the workers mid-batch).
    terminate_as_interrupt()
    try:
        return _train(args)
    except BrokenPipeError:  # stdout's reader is gone (`| head`): not a write of the run's files
        raise
    except (BatchError, WorkerCrashError) as error:
        run_dir = args.resume or args.out
        raise UserError(f"{error}\n{run_dir} keeps the checkpoint of the last finished generation; once the cause "
                        f"is fixed, continue with: hebbbench train --resume {run_dir}") from None
    except OSError as error:  # a full disk or a folder that cannot be written: writes are atomic
        run_dir = args.resume or args.out
        raise UserError(f"cannot write the run's files in {run_dir}: {error.strerror or error}. Every file there is "
                        "written atomically, so the last finished generation is kept; once there is room, continue "
                        f"with: hebbbench train --resume {run_dir}") from None


#: The train command's options that set a TrainConfig field: (flag, argparse settings,
#: whether ``--resume`` may change it). Their destinations are the field names; choices
#: that come from a registry (agents, strategies, backends) are checked by TrainConfig,
#: whose message lists the registered names (the CLI does not import torch to build its parser).
TRAIN_OPTIONS: tuple[tuple[str, dict, bool], ...] = (
    ("--agent", dict(help="reference network to evolve (hebbbench.agents.AGENTS, or shared: Hebbian with rules "
                          "shared by rho synapses)"), False),
    ("--strategy", dict(help="evolution strategy (hebbbench.es.STRATEGIES): openai-es (default), pgpe, "
                             "gaussian-mixture (for --agent shared), evolve-merge or em-rules (rules tied "
                             "across synapses, docs/bottleneck.md)"), False),
    ("--rho", dict(type=_rho, help="synapses per shared rule for --agent shared: 1..N or N (default 128)"), False),
    ("--task", dict(choices=list(TASKS), help="task whose variations form the meta-task"), False),
    ("--holdout", dict(help="variation left out of training (default: the paper's fold)"), False),
    ("--variations", dict(help="comma-separated training variations (default: all but the holdout)"), False),
    ("--population", dict(type=int, help="individuals per generation, even (default: the paper's)"), False),
    ("--generations", dict(type=int, help="generations to run (default: the paper's)"), True),
    ("--workers", dict(type=int, help="workers that run episodes (default: one per core)"), True),
    ("--backend", dict(help="where episodes run (hebbbench.training.rollouts.BACKENDS): local worker pool "
                            "(default), ray, or inprocess"), True),
    ("--ray-address", dict(help="join the Ray cluster at this address (with --backend ray; default: start a "
                                "local Ray)"), True),
    ("--device", dict(help="where the policies and the shared rules' update compute: cpu (default) or cuda "
                           "(cuda:N); envs stay on the CPU"), True),
    ("--seed", dict(type=int, help="seed of every random number in the run (default 0)"), False),
    ("--max-episode-steps", dict(type=int, help="shorten every episode to K policy steps"), False),
    ("--episode-seeds", dict(help="episodes of a generation: shared (one for all, default), per-pair (one per "
                                  "mirrored pair) or per-individual (as the paper's code)"), False),
    ("--variation-sampling", dict(help="who plays which training variation each generation: all (every "
                                       "individual each, default) or per-pair (each mirrored pair one, ranked "
                                       "within it: V times fewer episodes)"), False),
    ("--observation-normalization", dict(action="store_const", const=True,
                                         help="normalise observations by running statistics, fixed within a "
                                              "generation (vector observations: the ant)"), False),
)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _train(args: argparse.Namespace) -> int:
    from hebbbench.training import train

    values = {_dest(flag): getattr(args, _dest(flag)) for flag, _, _ in TRAIN_OPTIONS}
    if args.resume:
        fixed = [flag for flag, _, resumable in TRAIN_OPTIONS if not resumable and values[_dest(flag)] is not None]
        fixed += [flag for flag, value in (("--config", args.config), ("--out", args.out)) if value is not None]
        if fixed:
            changeable = ", ".join(flag for flag, _, resumable in TRAIN_OPTIONS if resumable)
            raise UserError(f"--resume continues a run with its saved config (only {changeable} may change); "
                            f"drop {', '.join(fixed)}")
        run_dir = train.resume(args.resume, **{_dest(flag): values[_dest(flag)]
                                               for flag, _, resumable in TRAIN_OPTIONS if resumable})
    else:
        if args.out is None:
            raise UserError("give --out RUN_DIR for a new run, or --resume RUN_DIR to continue one")
        if values["variations"] is not None:
            values["variations"] = tuple(values["variations"].split(","))
        if args.config:
            config = train.TrainConfig.from_file(args.config, **values)
        else:
            if args.agent is None or args.task is None:
                raise UserError("give --agent and --task (or a --config preset from configs/)")
            config = train.TrainConfig(**{k: v for k, v in values.items() if v is not None})
        run_dir = train.train(config, args.out)
    print(f"run finished: {run_dir}  (evaluate it: {_evaluate_command(run_dir)}; plot it: hebbbench plot {run_dir})")
    return 0


def _evaluate_command(run_dir: str | Path) -> str:
    """The command that evaluates a finished run on its own fold, read from its ``config.json``,
    so the user can paste it as printed."""
    import json
    import shlex

    from hebbbench.training.run_dir import CONFIG_FILE

    config = json.loads(Path(run_dir, CONFIG_FILE).read_text(encoding="utf-8"))
    return (f"hebbbench evaluate {shlex.quote(str(run_dir))} --task {config['task']} "
            f"--holdout {config['holdout']}")


def _cmd_plot(args: argparse.Namespace) -> int:
    """Write a run's learning-curve PNG."""
    from hebbbench.training.plots import plot_run

    print(plot_run(args.run_dir, args.out))
    return 0


def _cmd_snapshot(args: argparse.Namespace) -> int:
    """Copy what a run directory's agent reads into a new folder (a board entry's files)."""
    from hebbbench.training.snapshot import snapshot

    out = snapshot(args.run_dir, args.out, half_precision=args.half_precision)
    print(f"snapshot of {args.run_dir} in {out} (evaluate it: {_evaluate_command(out)})")
    return 0


def _agent_options(pairs: Sequence[str] | None) -> dict[str, object]:
    """``--agent-option KEY=VALUE`` pairs as a dict; VALUE is read as JSON (``0.1``, ``true``,
    ``null``) where it parses, as a string otherwise (``final``)."""
    import json

    options: dict[str, object] = {}
    for pair in pairs or ():
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise UserError(f"--agent-option takes KEY=VALUE, got {pair!r} (e.g. --agent-option checkpoint=final)")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate an agent on every variation of a task; print a table, write the results file."""
    import tempfile

    from hebbbench.evaluation.agent_file import AgentError
    from hebbbench.evaluation.episodes import EvaluationError
    from hebbbench.evaluation.protocol import EPISODES, FIRST_SEED, evaluate, get_fold
    from hebbbench.evaluation.results import format_table, summary_rows, write_results
    from hebbbench.system.interrupts import terminate_as_interrupt

    fold = get_fold(args.task, args.holdout)
    shown = args.output or f"results-{fold.task}-{fold.holdout}.json"
    # Absolute now: an agent that changes the working directory must not move the file.
    output = Path(shown).resolve()
    agent = Path(args.agent).resolve()
    if output == agent or (agent.is_dir() and agent in output.parents):
        raise UserError(f"--output {shown} would {'replace the agent file' if output == agent else 'change'} "
                        f"the agent {args.agent!r} (its sha256 covers every file of its directory); write the "
                        "results elsewhere.")
    record = Path(args.record).resolve() if args.record else None
    if record is not None and agent.is_dir() and (record == agent or agent in record.parents):
        raise UserError(f"--record {args.record} lies inside the agent's directory {args.agent!r}, whose sha256 "
                        "covers every file in it; record elsewhere.")
    if output.is_dir() or not output.parent.is_dir():
        raise UserError(f"cannot write the results file {shown!r}: it is a directory or its folder does "
                        "not exist; pass --output PATH in an existing folder.")
    try:  # find out now, not after the evaluation, whether the results can be written there
        tempfile.TemporaryFile(dir=output.parent).close()
    except OSError as error:
        raise UserError(f"cannot write the results file {shown!r}: {error.strerror} in its folder; pass "
                        "--output PATH in a folder you can write to.") from None
    terminate_as_interrupt()  # `kill PID` stops an evaluation as Ctrl-C does: workers and agents ended
    try:
        results = evaluate(args.agent, task=fold.task, holdout=fold.holdout, episodes=args.episodes,
                           workers=args.workers, seed=args.seed, episode_timeout=args.episode_timeout,
                           record_dir=args.record, progress=True,
                           agent_options=_agent_options(args.agent_option), arithmetic=args.arithmetic,
                           load_timeout=args.load_timeout)
    except (AgentError, EvaluationError) as error:
        raise UserError(f"{error} No results file was written.") from None
    try:
        write_results(results, output)
    except OSError as error:  # e.g. the disk filled up during the evaluation: keep its numbers
        import json

        rescue = Path(tempfile.gettempdir()) / f"hebbbench-{output.name}"
        try:
            write_results(results, rescue)
            kept = f"the results were saved to {rescue} instead"
        except OSError:
            print(json.dumps(results.to_dict()))
            kept = "the results JSON is printed above"
        raise UserError(f"cannot write the results file {shown!r}: {error.strerror or error}; {kept}.") from None
    print(f"{args.agent} on {fold.task}, held out {fold.holdout}: {results.episodes_per_variation} episodes "
          f"per variation, {results.workers} worker{'s' if results.workers != 1 else ''}, "
          f"{results.wall_time_s:.1f} s")
    print(format_table(summary_rows(results)))
    if not results.full_protocol:
        seeds = "the protocol's seeds" if args.seed in (None, FIRST_SEED) else f"seeds from {args.seed}"
        print(f"not a full protocol run ({results.episodes_per_variation} of {EPISODES} episodes, {seeds})")
    if args.record:
        print(f"recordings: {Path(args.record) / '<variation>.gif'}")
    print(f"results: {shown}")
    return 0


def _now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _cmd_submit(args: argparse.Namespace) -> int:
    """Validate results files plus entry metadata, add the entry to the board, re-render it."""
    from hebbbench import leaderboard

    metadata = {
        "name": args.name, "authors": [a.strip() for a in args.authors.split(",") if a.strip()],
        "link": args.link, "agent_family": args.family, "generations": args.generations,
        "population": args.population, "env_steps": args.env_steps, "unverifiable": args.unverifiable,
        "rules": args.rules,
    }
    path = leaderboard.submit(args.results, metadata, directory=args.leaderboard_dir, submitted=_now(),
                              new_board=args.new_board)
    print(f"added {path}; re-rendered {args.leaderboard_dir / 'README.md'} and {args.leaderboard_dir / 'index.html'}")
    return 0


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    """Print the board as a text table, markdown or HTML; or re-render its files (``--write``)."""
    from hebbbench import leaderboard

    if args.page:
        return _generated_page(args)
    if args.write:
        leaderboard.write_board(args.leaderboard_dir)
        print(f"re-rendered {args.leaderboard_dir / 'README.md'} and {args.leaderboard_dir / 'index.html'}")
        return 0
    print(leaderboard.render(leaderboard.load_board(args.leaderboard_dir), args.format, args.task), end="")
    return 0


#: ``hebbbench leaderboard --PAGE``: (the module that renders that docs page's generated block,
#: with its ``PAGE``, ``BEGIN``, ``block()`` and optionally ``figures()``; the option's help).
GENERATED_PAGES = {
    "paper": ("hebbbench.leaderboard.reproduction",
              "the board's entries beside the paper's Tables 1 and 2, on the paper's folds (markdown: the generated "
              "block of docs/reproduction.md)"),
    "bottleneck": ("hebbbench.leaderboard.bottleneck",
                   "the entries that declare their number of rules (submit --rules), training and held-out means "
                   "against it on the paper's folds (markdown: the generated block of docs/bottleneck.md; --write "
                   "also draws docs/bottleneck-TASK.png)"),
}


def _generated_page(args: argparse.Namespace) -> int:
    """Print a docs page's generated block, or write it (and its figures) beside the board (``--write``)."""
    import importlib

    from hebbbench import leaderboard
    from hebbbench.leaderboard.text import replace_block
    from hebbbench.system.files import write_atomic, write_text_atomic

    if args.write and args.task:
        raise UserError(f"--{args.page} --write rewrites the page for every task; leave out --task {args.task} "
                        "(or print one task's tables without --write)")
    module = importlib.import_module(GENERATED_PAGES[args.page][0])
    tasks = [args.task] if args.task else sorted(TASKS)  # ant, then car: the paper's table order
    submissions = leaderboard.load_board(args.leaderboard_dir)
    block = module.block(submissions, args.leaderboard_dir, tasks)
    if not args.write:
        print(block, end="")
        return 0
    root = Path(args.leaderboard_dir).resolve().parent
    page = root / module.PAGE
    if not page.is_file():
        raise UserError(f"{page} does not exist: --{args.page} --write updates the generated block of that page")
    try:
        text = replace_block(page.read_text(encoding="utf-8"), block, module.BEGIN)
    except ValueError as error:
        raise UserError(f"{page}: {error}") from None
    figures = getattr(module, "figures", lambda *unused: {})
    for path, data in figures(submissions, args.leaderboard_dir, tasks).items():
        write_atomic(root / path, lambda handle, data=data: handle.write(data))
        print(f"wrote {root / path}")
    write_text_atomic(page, text)
    print(f"wrote the generated block of {page}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    """Re-run episodes of a board entry with its agent files; mark it verified if they match."""
    from hebbbench import leaderboard

    directory, entry = args.leaderboard_dir, args.submission
    if entry.endswith(".json"):
        directory, entry = Path(entry).resolve().parent.parent, Path(entry).stem
    record = leaderboard.verify(entry, args.agent, episodes=args.episodes, fresh_episodes=args.fresh_episodes,
                                directory=directory, workers=args.workers, verified_at=_now(), progress=True,
                                load_timeout=args.load_timeout)
    from hebbbench.leaderboard.records import summary_lines

    print("\n".join(summary_lines(entry, record)) + f"\nrecorded, board re-rendered in {directory}")
    if record["level"] == "failed":
        raise UserError("the entry's submitted returns do not hold under its agent (see above); it is marked "
                        "FAILED on the board")
    return 0


def _add_load_timeout(parser: argparse.ArgumentParser) -> None:
    """``--load-timeout SEC``, one definition for evaluate and verify (which loads agents through
    evaluate); its value is checked by :func:`hebbbench.evaluation.protocol.check_load_timeout`."""
    from hebbbench.evaluation.episodes import AGENT_LOAD_TIMEOUT

    parser.add_argument("--load-timeout", type=float, default=AGENT_LOAD_TIMEOUT, metavar="SEC",
                        help="fail if importing the agent and its make_agent take longer than SEC seconds "
                             f"(default {AGENT_LOAD_TIMEOUT:g}, at least 1)")


def build_parser() -> argparse.ArgumentParser:
    """The ``hebbbench`` command's parser: one subcommand per ``_add_*`` below."""
    parser = argparse.ArgumentParser(
        prog="hebbbench",
        description="Benchmark for Hebbian meta-learning across environment variations.",
    )
    from hebbbench.version import __version__

    parser.add_argument("--version", action="version", version=f"hebbbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_envs, _add_train, _add_plot, _add_snapshot, _add_evaluate, _add_submit, _add_leaderboard,
                _add_verify):
        add(sub)
    return parser


def _add_envs(sub: Any) -> None:
    """``hebbbench envs``."""
    envs = sub.add_parser("envs", help="list every registered environment ID",
                          description="List every registered Gymnasium ID with its task, variation and kwargs, "
                                      "and the settings all IDs of a task share.")
    envs.set_defaults(handler=_cmd_envs)


def _add_train(sub: Any) -> None:
    """``hebbbench train``: :data:`TRAIN_OPTIONS`, a preset, a new or resumed run."""
    trainer = sub.add_parser("train", help="evolve a reference agent by an evolution strategy (checkpointed, "
                                           "resumable)")
    for flag, settings, _ in TRAIN_OPTIONS:
        trainer.add_argument(flag, **settings)
    trainer.add_argument("--config", help="a preset TOML file from configs/; flags given override it")
    trainer.add_argument("--out", metavar="RUN_DIR", help="new run directory")
    trainer.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint")
    trainer.set_defaults(handler=_cmd_train)


def _add_plot(sub: Any) -> None:
    """``hebbbench plot``."""
    plot = sub.add_parser("plot", help="write a training run's learning-curve PNG",
                          description="Plot a training run's population mean and best fitness per generation "
                                      "from its log.jsonl (default: RUN_DIR-learning-curve.png beside the run "
                                      "directory, so the run's files and sha256 stay as they are).")
    plot.add_argument("run_dir", metavar="RUN_DIR", help="a training run directory (hebbbench train --out)")
    plot.add_argument("--out", help="PNG path (default: RUN_DIR-learning-curve.png)")
    plot.set_defaults(handler=_cmd_plot)


def _add_snapshot(sub: Any) -> None:
    """``hebbbench snapshot``."""
    shot = sub.add_parser("snapshot", help="copy what a run directory's agent reads into a new folder",
                          description="Write a snapshot of a training run for the board: its config, agent file, "
                                      "log and the best and final distributions, without the optimiser's state "
                                      "(which only --resume needs). It evaluates as the run does and cannot be "
                                      "resumed.")
    shot.add_argument("run_dir", metavar="RUN_DIR", help="a training run directory (hebbbench train --out)")
    shot.add_argument("out", metavar="OUT", help="a new or empty folder for the snapshot")
    shot.add_argument("--half-precision", action="store_true",
                      help="shared rules only: keep the best generation alone, lambda as float16 (half the "
                           "bytes; a slightly different agent, evaluated as exported)")
    shot.set_defaults(handler=_cmd_snapshot)


def _add_evaluate(sub: Any) -> None:
    """``hebbbench evaluate``."""
    evaluator = sub.add_parser(
        "evaluate", help="evaluate an agent file on every variation of a task (leave-one-out protocol)",
        description="Run an agent on every variation of a task, the held-out one marked test; print mean, "
                    "std and 95% bootstrap CI per variation and write a results JSON file.")
    evaluator.add_argument("agent", metavar="AGENT",
                           help="a Python file defining make_agent(task, holdout, observation_space, action_space), "
                                "or a directory (e.g. a training run) containing agent.py")
    evaluator.add_argument("--task", required=True, choices=list(TASKS), help="task to evaluate on")
    evaluator.add_argument("--holdout", metavar="VARIATION",
                           help="held-out (test) variation (default: the paper's fold: car pushed-right, "
                                "ant long-front)")
    evaluator.add_argument("--episodes", type=int, default=100,
                           help="episodes per variation (default 100, the protocol; fewer is marked as not a "
                                "protocol run)")
    evaluator.add_argument("--workers", type=int, help="worker processes (default: one per core); same numbers "
                                                       "whatever the count")
    evaluator.add_argument("--seed", type=int, help="first episode seed (default: the protocol's seeds)")
    evaluator.add_argument("--output", metavar="PATH",
                           help="results JSON file (default: results-TASK-HOLDOUT.json)")
    evaluator.add_argument("--record", metavar="DIR", help="save a GIF of one episode per variation in DIR")
    evaluator.add_argument("--episode-timeout", type=float, default=600.0, metavar="SEC",
                           help="fail if one episode takes longer than SEC seconds of wall time (default 600)")
    _add_load_timeout(evaluator)
    evaluator.add_argument("--agent-option", action="append", metavar="KEY=VALUE",
                           help="keyword argument for the agent's make_agent, recorded in the results (repeatable); "
                                "a training run directory takes checkpoint=best|final and sigma=checkpoint|S, 0 for "
                                "the mean (default: best with its own sigma, the paper's evaluation)")
    evaluator.add_argument("--arithmetic", choices=["portable", "native"], default="portable",
                           help="portable (default): the agent's torch arithmetic gives the same bits on any "
                                "x86-64 CPU, so others can replay the results exactly; native: the CPU's fastest "
                                "kernels, whose last bits differ between CPUs (recorded in the results)")
    evaluator.set_defaults(handler=_cmd_evaluate)


#: The ``--leaderboard-dir`` option of submit, leaderboard and verify.
BOARD_DIR = {"type": Path, "default": Path("leaderboard"), "metavar": "DIR",
             "help": "the leaderboard folder (default: leaderboard/)"}


def _add_submit(sub: Any) -> None:
    """``hebbbench submit``."""
    submit = sub.add_parser(
        "submit", help="add results files to the leaderboard as one entry (validated; re-renders the board)",
        description="Validate results files of `hebbbench evaluate` (one per fold) and the entry's metadata; "
                    "on success write DIR/submissions/<id>.json and re-render DIR/README.md and DIR/index.html. "
                    "Any problem: all of them are listed and nothing is written.")
    submit.add_argument("results", nargs="+", metavar="RESULTS", help="results JSON files, one per fold covered")
    submit.add_argument("--name", required=True, help="entry name, unique per task")
    submit.add_argument("--authors", required=True, help="comma-separated author names")
    submit.add_argument("--link", help="http(s) address of the paper or code")
    submit.add_argument("--family", required=True, help="agent family, e.g. hebbian, static, lstm, random")
    submit.add_argument("--generations", type=int, default=0,
                        help="training budget of an evolution strategy: generations (default 0: not ES, e.g. "
                             "gradient RL or untrained; the board then shows env steps only)")
    submit.add_argument("--population", type=int, default=0,
                        help="training budget of an evolution strategy: population size (default 0: not ES)")
    submit.add_argument("--env-steps", type=int, required=True,
                        help="training budget: environment steps in total, for any method (0 if untrained)")
    submit.add_argument("--unverifiable", metavar="REASON",
                        help="the entry publishes no agent files, and why (e.g. its state is kept outside the "
                             "repository, with the state's sha256): the board says so where it shows verification")
    submit.add_argument("--rules", type=int, metavar="N",
                        help="distinct learning rules the agent's genome holds (a per-synapse Hebbian network: one "
                             "per synapse; shared or merged rules: how many): the bottleneck page plots scores "
                             "against it (`hebbbench leaderboard --bottleneck`)")
    submit.add_argument("--leaderboard-dir", **BOARD_DIR)
    submit.add_argument("--new-board", action="store_true",
                        help="start a new board in --leaderboard-dir if it is not one yet (default: refuse)")
    submit.set_defaults(handler=_cmd_submit)


def _add_leaderboard(sub: Any) -> None:
    """``hebbbench leaderboard``."""
    board = sub.add_parser("leaderboard", help="print the leaderboard (text table, markdown or HTML)",
                           description="Print the board's ranked tables, or re-render its files with --write.")
    board.add_argument("--task", choices=list(TASKS), help="one task only (default: all)")
    board.add_argument("--format", choices=["table", "markdown", "html"], default="table",
                       help="table: aligned text for a terminal (default); markdown: as in DIR/README.md; "
                            "html: the self-contained page of DIR/index.html")
    board.add_argument("--leaderboard-dir", **BOARD_DIR)
    board.add_argument("--write", action="store_true",
                       help="instead of printing, re-render DIR/README.md and DIR/index.html from the submissions "
                            "(with --paper or --bottleneck: that page's generated block, and figures, in docs/ "
                            "beside DIR)")
    page = board.add_mutually_exclusive_group()
    for name, (_, text) in GENERATED_PAGES.items():
        page.add_argument(f"--{name}", action="store_const", const=name, dest="page", help=text)
    board.set_defaults(handler=_cmd_leaderboard)


def _add_verify(sub: Any) -> None:
    """``hebbbench verify``."""
    verifier = sub.add_parser(
        "verify", help="re-run episodes of a leaderboard entry and mark it verified if the returns match",
        description="Measure the entry's agent files on M seeds drawn in secret (the board ranks it by these) and "
                    "replay K submitted seeds at a secretly drawn place bit for bit (portable arithmetic only); "
                    "records the level reached: exact, statistical (native arithmetic) or failed (a replay "
                    "differed, or a submitted mean lies outside what the measurement allows).")
    verifier.add_argument("submission", metavar="SUBMISSION",
                          help="DIR/submissions/<id>.json, or an entry id on the board in --leaderboard-dir")
    verifier.add_argument("--agent", action="append", required=True, metavar="AGENT",
                          help="agent file or directory (repeat for one per fold); matched to folds by sha256")
    verifier.add_argument("--episodes", type=int, default=5, metavar="K",
                          help="submitted seeds replayed bit for bit per variation and fold (default 5)")
    verifier.add_argument("--fresh-episodes", type=int, default=20, metavar="M",
                          help="secret seeds measured per variation and fold (default 20, at least 2)")
    verifier.add_argument("--workers", type=int, help="worker processes (default: one per core)")
    _add_load_timeout(verifier)
    verifier.add_argument("--leaderboard-dir", **BOARD_DIR)
    verifier.set_defaults(handler=_cmd_verify)


def _interrupted_message(args: argparse.Namespace) -> str:
    """What a Ctrl-C left behind, and what to do next."""
    if args.command == "evaluate" and args.record:
        return (f"hebbbench evaluate: interrupted; no results file was written (recordings made so far "
                f"stay in {args.record}).")
    run_dir = (args.resume or args.out) if args.command == "train" else None
    if not run_dir or not Path(run_dir).exists():
        return f"hebbbench {args.command}: interrupted; nothing was written."
    from hebbbench.training.run_dir import CHECKPOINT_FILE

    if Path(run_dir, CHECKPOINT_FILE).is_file():
        return (f"hebbbench train: interrupted; {run_dir} keeps the checkpoint of the last finished generation: "
                f"continue with hebbbench train --resume {run_dir}")
    return (f"hebbbench train: interrupted before the run's first checkpoint; nothing to resume: remove {run_dir} "
            "and start again")


def _reader_gone() -> int:
    """Exit status after the reader of stdout closed it (``hebbbench envs | head -5``).

    Output is cut short on purpose there, so the command ends quietly, as Unix tools do:
    stdout is pointed at /dev/null so that Python's own flush at exit cannot raise the
    same error again, and the status is 141, a shell's code for a process ended by SIGPIPE.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status. Output piped into a reader that stops early
    (``| head``) ends the command quietly wherever it happens, ``--help`` included."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # a reader gone shows here at the latest, not at interpreter exit
    except BrokenPipeError:
        return _reader_gone()


def _run(argv: Sequence[str] | None) -> int:
    """Parse the command line and run its handler; user errors and Ctrl-C as one paragraph."""
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UserError, ValueError) as error:
        print(f"hebbbench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_interrupted_message(args), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
