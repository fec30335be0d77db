"""The `gansynth` command line: a thin layer over the library.

Each area keeps its subcommands in a module of `gansynth.commands` with a `register(subparsers)`
function (listed in COMMAND_MODULES); library modules define no commands. Each benchmark is a module of
`gansynth.bench` with `add_arguments` and `run` (listed in BENCH_MODULES). `run_handler` is the one
place where errors a user can cause (`GansynthError`) become one line on stderr and exit status 2;
heavy imports happen inside the handlers.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting make small convolutions up to 14x slower when other
# processes share the cores (measured in `gansynth bench train`); must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import importlib  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import TYPE_CHECKING, NoReturn  # noqa: E402

from gansynth import __version__  # noqa: E402
from gansynth.errors import GansynthError  # noqa: E402

if TYPE_CHECKING:
    from gansynth.synth import NoteModel

# modules with `register(subparsers: argparse._SubParsersAction) -> None`
COMMAND_MODULES: tuple[str, ...] = (
    "gansynth.commands.render",
    "gansynth.commands.evaluate",
    "gansynth.commands.sequence",
    "gansynth.commands.data",
    "gansynth.commands.train",
)

# name -> module with `add_arguments(parser)` and `run(args) -> None`
BENCH_MODULES: dict[str, str] = {
    "spectral": "gansynth.bench.spectral",
    "render": "gansynth.bench.render",
    "data": "gansynth.bench.data",
    "train": "gansynth.bench.train",
}


def _run_bench(args: argparse.Namespace) -> None:
    module = importlib.import_module(BENCH_MODULES[args.bench_name])
    module.run(args)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr ("gansynth X: error: ...,
    see gansynth X --help") and exit status 2, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="gansynth",
        description="GANSynth-style neural note synthesizer: train, render notes and MIDI scores.")
    parser.add_argument("--version", action="version", version=f"gansynth {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    bench = subparsers.add_parser("bench", help="measure throughput against a reference in one run")
    bench_sub = bench.add_subparsers(dest="bench_name", metavar="WHAT", required=True)
    for name, module_name in BENCH_MODULES.items():
        module = importlib.import_module(module_name)
        sub = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(sub)
        sub.set_defaults(handler=_run_bench)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def run_handler(args: argparse.Namespace) -> int:
    """Run the parsed command's handler; a `GansynthError` or an `OSError` (a file system fault
    the library did not name) becomes one line on stderr and exit status 2, Ctrl-C exit status
    130."""
    try:
        result = args.handler(args)
    except GansynthError as err:
        print(f"gansynth: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"gansynth: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gansynth: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def run_cli(argv: Sequence[str] | None = None, model: NoteModel | None = None) -> int:
    """Run `gansynth ARGV` and return its exit status. `model`: an already-built note model used in
    place of `--model` by the rendering commands (for notebooks and tests)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # usage errors (one line, exit 2), --help and --version
        return stop.code if isinstance(stop.code, int) else 2
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    if model is not None:
        args.model_object = model
    return run_handler(args)


def main(argv: Sequence[str] | None = None) -> int:
    """The `gansynth` console script."""
    return run_cli(argv)
