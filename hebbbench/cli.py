"""The ``hebbbench`` command line: a thin layer over the Python API.

Each subcommand is one ``_cmd_*`` function plus its argument block in :func:`build_parser`.
Errors the user can fix (``UserError``, ``ValueError`` from validation) are printed as
one paragraph with a non-zero exit, never as a raw traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from hebbbench.envs import TASKS, variations


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
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hebbbench",
        description="Benchmark for Hebbian meta-learning across environment variations.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    envs = sub.add_parser("envs", help="list every registered environment ID")
    envs.set_defaults(handler=_cmd_envs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UserError, ValueError) as error:
        print(f"hebbbench {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hebbbench {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
