"""Loading a user's agent file: the one seam between hebbbench and anyone's agent.

An *agent file* is a Python file that defines::

    def make_agent(task, holdout, observation_space, action_space):
        return agent  # any object with reset(seed) and act(observation) -> action

``task`` is ``"car"`` or ``"ant"``, ``holdout`` the held-out variation's name (an agent
trained per fold may load that fold's parameters); the agent is never told which
variation an episode runs on. ``reset(seed)`` is called at the start of every episode
with the episode's seed and must reset everything the episode depends on (so episodes can
run in any order, in any worker process); ``act`` receives the env's observation and
returns an action inside the action space (nothing is clipped).

``AGENT`` may also be a directory (e.g. a run directory written by ``hebbbench train``):
then ``DIR/agent.py`` is the agent file, and it finds its own parameters next to itself
through ``__file__``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

AGENT_FILE_IN_DIR = "agent.py"

AgentFactory = Callable[[str, str, Any, Any], Any]


class AgentError(Exception):
    """The agent (its file, ``make_agent``, ``reset`` or ``act``) did something wrong.

    The message is one paragraph that names what failed and includes the agent's own
    message, so a command line can print it as is.
    """


class ReportedError(Exception):
    """An error the agent raised in its own process, already described there
    (``TypeName: message (at FILE:LINE)``): :func:`describe` gives that text as is."""


def resolve_agent_file(path: str | Path) -> Path:
    """The agent file for ``path``: the file itself, or ``path/agent.py`` for a directory."""
    path = Path(path)
    if path.is_dir():
        candidate = path / AGENT_FILE_IN_DIR
        if not candidate.is_file():
            raise AgentError(
                f"agent directory {str(path)!r} has no {AGENT_FILE_IN_DIR}; a directory AGENT "
                f"(such as a training run directory) must contain {AGENT_FILE_IN_DIR} defining make_agent."
            )
        return candidate
    if not path.exists():
        raise AgentError(
            f"agent file {str(path)!r} does not exist; pass a Python file that defines "
            "make_agent(task, holdout, observation_space, action_space), or a directory containing agent.py."
        )
    if not path.is_file():
        raise AgentError(f"agent path {str(path)!r} is neither a file nor a directory.")
    return path


def agent_sha256(path: str | Path) -> str:
    """sha256 hex digest identifying the agent at ``path``.

    For a file: of its bytes. For a directory: of every file under it (``__pycache__``
    excluded), sorted by relative POSIX path, each contributing its path, a NUL byte and
    the 32-byte sha256 of its contents; so parameters saved next to ``agent.py`` count.
    """
    path = Path(path)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    files = sorted(
        (p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(path).parts),
        key=lambda p: p.relative_to(path).as_posix(),
    )
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def load_agent_factory(path: str | Path) -> AgentFactory:
    """Import the agent file for ``path`` and return its ``make_agent``.

    The file's directory is on ``sys.path`` while it is imported, so it may import
    modules that sit next to it. Every problem raises :class:`AgentError`.
    """
    file = resolve_agent_file(path).resolve()
    module_name = "hebbbench_agent_" + hashlib.sha256(str(file).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise AgentError(f"cannot import agent file {str(file)!r}: not a Python source file.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.parent))
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise AgentError(
            f"agent file {str(file)!r} has a syntax error at line {error.lineno}: {error.msg}."
        ) from None
    except (Exception, SystemExit) as error:  # the user's module-level code failed (or called sys.exit)
        raise AgentError(
            f"importing agent file {str(file)!r} raised {describe(error)}{where(error)}."
        ) from None
    finally:
        sys.path.remove(str(file.parent))
    factory = getattr(module, "make_agent", None)
    if factory is None:
        raise AgentError(
            f"agent file {str(file)!r} defines no make_agent; it must define "
            "make_agent(task, holdout, observation_space, action_space) returning an object "
            "with reset(seed) and act(observation)."
        )
    if not callable(factory):
        raise AgentError(f"make_agent in agent file {str(file)!r} is not callable (it is a {type(factory).__name__}).")
    return factory


def make_checked_agent(factory: AgentFactory, task: str, holdout: str, observation_space: Any,
                       action_space: Any, options: dict[str, Any] | None = None) -> Any:
    """Call ``factory`` and check the result has callable ``reset`` and ``act``.

    ``options``: keyword arguments for ``make_agent`` (``hebbbench evaluate --agent-option``);
    an agent file whose ``make_agent`` does not take them gets a clear error."""
    options = options or {}
    if options:
        try:
            inspect.signature(factory).bind("task", "holdout", None, None, **options)
        except TypeError as error:
            raise AgentError(f"make_agent does not accept the agent options {sorted(options)} ({error}); "
                             "drop --agent-option, or give options its signature names.") from None
        except ValueError:  # no signature to check (a builtin): let the call tell
            pass
    try:
        agent = factory(task, holdout, observation_space, action_space, **options)
    except (Exception, SystemExit) as error:
        raise AgentError(f"make_agent({task!r}, {holdout!r}, ...) raised {describe(error)}{where(error)}.") from None
    missing = [name for name in ("reset", "act") if not callable(getattr(agent, name, None))]
    if missing:
        raise AgentError(
            f"make_agent returned a {type(agent).__name__} without callable {' and '.join(missing)}; "
            "the agent must have reset(seed) and act(observation) -> action."
        )
    return agent


def describe(error: BaseException) -> str:
    """``TypeName: message`` of an exception, for one-line error reports (an exception
    whose ``__str__`` itself raises is named without its message)."""
    try:
        message = str(error)
    except BaseException:
        message = "(its message could not be read: its __str__ raised)"
    if isinstance(error, ReportedError):
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def where(error: BaseException) -> str:
    """`` (at FILE:LINE)`` of the innermost frame of ``error``'s traceback, or ``""``."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames or isinstance(error, ReportedError):
        return ""
    frame = frames[-1]
    return f" (at {frame.filename}:{frame.lineno})"
