"""The ``petground`` command: one sub-command per job, each defined next to the code it drives.

Each sub-command module exposes ``register(subparsers)``, adding a parser whose ``func`` default takes the
parsed arguments and returns an exit code. Modules are imported lazily so that ``petground --help`` is fast.

Errors a user can cause (the package's own errors, files that cannot be read or written, wrong arguments)
end the command with one line, ``petground <command>: error: ...``, and exit status 2; ``--debug`` shows the
traceback instead. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from .errors import PetGroundError, WriteError

# sub-command modules, in the order `petground --help` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "napari_petground.study.cli",  # view, info
    "napari_petground.phantom.cli",  # phantom
    "napari_petground.weaklabel.cli",  # weak-label
    "napari_petground.model.cli",  # ground, train, evaluate, describe
    "napari_petground.review.cli",  # review import/status/export
)
USER_ERROR = 2  # exit status of every error the user can fix (as argparse uses for wrong arguments)
DEBUG_HELP = "show the full traceback of an error (for a bug report)"


class UsageError(Exception):
    """Wrong command-line arguments, reported by ``main`` as one line like every other user error."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are raised, not printed with the usage block and exited on."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="petground", description="PET/CT report grounding tools")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of the package is not built yet
                continue
            raise
        module.register(subparsers)
    _add_debug(parser)
    return parser


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """``--debug`` also after the sub-command (``petground ground ... --debug``), at every level, and the
    sub-command's full name for the error line."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                if not any("--debug" in a.option_strings for a in sub._actions):
                    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
                sub.set_defaults(command_prog=sub.prog)  # "petground review status": named in error lines
                _add_debug(sub)


def writable_file(path: str | os.PathLike, option: str) -> Path:
    """``path`` when a file can be written there (its folders may be missing); WriteError before any work
    when it names a folder, lies below a file or in a folder this user cannot write in."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise WriteError(f"{option} {path} is a folder; give a file name in it")
    _writable_place(path.parent, f"{option} {path}")
    return path


def writable_folder(path: str | os.PathLike, option: str) -> Path:
    """``path`` when it is, or can be made, a folder this user can write in; WriteError before any work."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise WriteError(f"{option} {path} is a file, not a folder; choose a folder")
    _writable_place(path, f"{option} {path}")
    return path


def _writable_place(folder: Path, what: str) -> None:
    existing = folder.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise WriteError(f"{what}: {existing} is a file, not a folder; choose a path in a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".petground-probe-")
    except OSError as exc:
        raise WriteError(f"{what}: cannot write in {existing} ({exc.strerror or exc}); choose a folder you "
                         "can write in") from exc
    os.close(handle)
    Path(probe).unlink(missing_ok=True)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _os_message(exc: OSError) -> str:
    """``cannot use PATH: Permission denied`` from an OSError, without the errno noise."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [n for n in (exc.filename, exc.filename2) if n]
    if not names:
        return _one_line(reason)
    return _one_line(f"cannot use {' -> '.join(str(n) for n in names)}: {reason}")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush does not raise into the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced by something without a descriptor
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{exc.prog}: error: {_one_line(exc)} (see {exc.prog} --help)", file=sys.stderr)
        return USER_ERROR
    if not getattr(args, "func", None):
        parser.print_help()
        return USER_ERROR
    debug = bool(getattr(args, "debug", False))
    command = getattr(args, "command_prog", None) or f"petground {args.command}"
    try:
        return int(args.func(args) or 0)
    except PetGroundError as exc:
        if debug:
            raise
        print(f"{command}: error: {_one_line(exc)}", file=sys.stderr)
        return USER_ERROR
    except BrokenPipeError:  # output piped into a program that stopped reading (`| head`): not an error
        _silence_stdout()
        return 141
    except OSError as exc:  # a path the user gave cannot be read or written (permissions, full disk, a file)
        if debug:
            raise
        print(f"{command}: error: {_os_message(exc)}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
