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

What ran is identified by :func:`agent_sha256`: a directory's every file; a single file
with the modules beside it that it imports (found in its source), so a changed
``params.py`` changes the hash. Data files a single-file agent reads beside itself, or
modules it imports under a name computed at run time, are not found: pass such an
agent's directory instead. Agents over :data:`MAX_AGENT_BYTES` are refused by their files'
sizes before anything is read.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

AGENT_FILE_IN_DIR = "agent.py"
#: Largest agent hebbbench hashes (and so evaluates): its files' sizes together, as
#: ``stat`` gives them (a sparse file counts with its apparent size), 1 GiB.
MAX_AGENT_BYTES = 1 << 30
#: Bytes read at a time while hashing (files are streamed, never read whole).
HASH_CHUNK_BYTES = 1 << 20
#: Suffixes of the files a module beside the agent file may be imported from.
MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")

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

    For a file that imports no module beside it: of its bytes. For a directory: of every
    file under it (``__pycache__`` excluded), sorted by relative POSIX path, each
    contributing its path, a NUL byte and the 32-byte sha256 of its contents; so parameters
    saved next to ``agent.py`` count. For a file that imports modules beside it
    (:func:`sibling_modules`): the same over the file and those modules' files only,
    relative to its folder. Raises :class:`AgentError` for an agent over
    :data:`MAX_AGENT_BYTES`, before reading any of it.
    """
    path = Path(path)
    if path.is_file():
        _check_size([path], path)
        siblings = sibling_modules(path)
        if not siblings:
            return _file_sha256(path).hexdigest()
        return _files_sha256(path.parent, [path, *siblings], path)
    files = [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(path).parts]
    return _files_sha256(path, files, path)


def _files_sha256(root: Path, files: list[Path], agent: Path) -> str:
    """The directory digest of ``files`` (paths relative to ``root``), size-checked first."""
    _check_size(files, agent)
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(_file_sha256(file).digest())
    return digest.hexdigest()


def _file_sha256(file: Path) -> Any:
    """sha256 of ``file``'s bytes, read :data:`HASH_CHUNK_BYTES` at a time."""
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest


def _check_size(files: list[Path], agent: Path) -> None:
    """Refuse (:class:`AgentError`) an agent whose ``files`` are over :data:`MAX_AGENT_BYTES`
    together, by their sizes from ``stat`` alone: a huge or sparse file is never read."""
    sizes = {file: file.stat().st_size for file in files}
    total = sum(sizes.values())
    if total > MAX_AGENT_BYTES:
        largest = max(sizes, key=sizes.__getitem__)
        raise AgentError(
            f"agent {str(agent)!r} is too large to hash and run: its files hold {total:,} bytes together "
            f"(largest: {str(largest)!r}, {sizes[largest]:,} bytes, as stat gives a sparse file's size), over "
            f"the limit of {MAX_AGENT_BYTES:,} bytes (1 GiB). Keep only what the agent loads in its directory.")


def sibling_modules(file: str | Path) -> list[Path]:
    """The files of the modules beside ``file`` that it imports, and that those import in
    turn: ``name.py`` (or a compiled ``name.*.so``) or a package folder ``name/`` (all its
    files), for every ``import name``, ``from name import ...`` or
    ``importlib.import_module("name")`` / ``__import__("name")`` in their source. These are
    what Python finds first on ``sys.path`` when the agent file is imported; a name built
    at run time is not found (pass the agent's directory then)."""
    file = Path(file)
    folder, found, todo = file.parent, set(), [file]
    while todo:
        for name in _imported_names(todo.pop(), file):
            for module_file in _module_files(folder, name):
                if module_file != file and module_file not in found:
                    found.add(module_file)
                    if module_file.suffix == ".py":
                        todo.append(module_file)
    return sorted(found)


def _module_files(folder: Path, name: str) -> list[Path]:
    """The files a module or package ``name`` beside ``folder``'s agent file consists of."""
    package = folder / name
    if package.is_dir():
        return [p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(folder).parts]
    return [p for p in folder.glob(f"{name}.*")
            if p.is_file() and p.suffix in MODULE_SUFFIXES and p.name.split(".")[0] == name]


def _imported_names(source: Path, agent: Path) -> set[str]:
    """Top-level module names ``source`` imports (its syntax errors are left for the import to report)."""
    _check_size([source], agent)
    try:
        tree = ast.parse(source.read_bytes())
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_import_call(node):
            names.add(node.args[0].value.split(".")[0])
    return names


def _is_import_call(node: ast.Call) -> bool:
    """Whether ``node`` is ``import_module("name")`` or ``__import__("name")`` with a literal name."""
    function = node.func
    called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    return (called in ("import_module", "__import__") and bool(node.args)
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str))


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
