"""`ganfix` entry point. Each command lives in its own module under ganfix.cli and registers itself.

Errors a user can cause (GanfixError) print one line on stderr and exit 2; a failed quality gate
exits 1; anything else is an internal error: one line and exit 3 (the traceback with `ganfix --debug …`
or GANFIX_DEBUG=1).
"""
from __future__ import annotations

import importlib
import os
import sys

import typer

from ..errors import GanfixError

app = typer.Typer(
    name="ganfix",
    help="Debug and repair trained GAN generators (GAN Dissection, offline, on CPU or GPU). "
         "Every command also takes --threads N (CPU threads for torch; default: $GANFIX_THREADS, else the CPUs "
         "this process may use, divided among torchrun's processes on the node).\n\n"
         "Exit codes: 0 success, 1 a failed quality gate (check), 2 bad input (one line), 3 an internal error "
         "(one line; the traceback with --debug). GEN specs of the form file.py:factory (and --features "
         "file.py:factory) import and run that file: use only code you trust there.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# One module per command (group). Each defines `register(app: typer.Typer)`. Listed (and shown in
# --help) in the order of the workflow: try it, find the units, label, repair, score, gate; then
# the rest of GAN Dissection and the embedded world.
COMMAND_MODULES = [
    "demo_cmd",
    "layers_cmd",
    "rank_cmd",
    "annotate_cmd",
    "worst_cmd",
    "repair_cmd",
    "score_cmd",
    "check_cmd",
    "study_cmd",
    "paint_cmd",
    "dissect_cmd",
    "ace_cmd",
    "world_cmd",
]


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback of internal errors (also GANFIX_DEBUG=1)."),
) -> None:
    """Global options (before the command: `ganfix --debug score …`)."""
    if debug:
        os.environ["GANFIX_DEBUG"] = "1"


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(app)


_register_all()


def _take_threads_option(argv: list[str]) -> tuple[list[str], str | None]:
    """`--threads N` is accepted anywhere on the command line, for every command; it is taken out
    before the command's own options are parsed."""
    rest, value, i = [], None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--threads" and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--threads="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return rest, value


def _join_torchrun() -> None:
    """Under torchrun: join the process group; ranks other than 0 print nothing on stdout (rank 0 renders)."""
    from .. import distributed

    if distributed.init_from_env() and distributed.rank() != 0:
        import os

        sys.stdout = open(os.devnull, "w")


def main() -> None:
    from ..threads import configure_threads

    try:
        argv, threads = _take_threads_option(sys.argv[1:])
        if "--help" not in argv and argv:
            configure_threads(threads)
        _join_torchrun()
        app(args=argv, standalone_mode=True)
    except GanfixError as exc:  # raised outside a command body (e.g. during parsing callbacks)
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 — outside a command body: still one line and exit 3, never 1
        from .common import report_internal_error

        sys.exit(report_internal_error(exc))


if __name__ == "__main__":
    main()
