"""The ``petground`` command: one sub-command per job, each defined next to the code it drives.

Each sub-command module exposes ``register(subparsers)``, adding a parser whose ``func`` default takes the
parsed arguments and returns an exit code. Modules are imported lazily so that ``petground --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import PetGroundError

# sub-command modules, in the order `petground --help` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "napari_petground.study.cli",  # view, info
    "napari_petground.phantom.cli",  # phantom
    "napari_petground.weaklabel.cli",  # weak-label
    "napari_petground.model.cli",  # ground, train, evaluate, describe
    "napari_petground.review.cli",  # review import/status/export
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="petground", description="PET/CT report grounding tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that part of the package is not built yet
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PetGroundError as exc:
        print(f"petground {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
