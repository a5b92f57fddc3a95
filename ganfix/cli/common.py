"""Shared CLI plumbing: error handling, console on stderr, JSON on stdout, generator options."""
from __future__ import annotations

import functools
import inspect
import json
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

import click
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import GanfixError
from ..generator import output_resolution  # noqa: F401  (re-exported for commands)

# Logs, tables and progress go to stderr when --json is used, so stdout stays machine-readable.
err_console = Console(stderr=True)
out_console = Console()


def console_for(json_output: bool) -> Console:
    return err_console if json_output else out_console


INTERNAL_ERROR_EXIT = 3  # distinct from 1 (a failed gate) and 2 (bad input): CI can tell a crash from a failing model


def debug_enabled() -> bool:
    """--debug (the global option) or GANFIX_DEBUG=1: internal errors show their traceback."""
    return os.environ.get("GANFIX_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def internal_error_line(exc: BaseException) -> str:
    """One line for a crash: what failed and how to get the traceback."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"internal error (a bug in ganfix or in code it ran): {type(exc).__name__}"
            f"{': ' + first if first else ''}; re-run with --debug (or GANFIX_DEBUG=1) for the traceback")


def report_internal_error(exc: BaseException) -> int:
    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    err_console.print(f"[bold red]error:[/] {escape(internal_error_line(exc))}", highlight=False, soft_wrap=True)
    return INTERNAL_ERROR_EXIT


def _rank_prefix() -> str:
    from ..distributed import rank, world_size

    return f"rank {rank()}: " if world_size() > 1 else ""


def handle_errors(fn: Callable) -> Callable:
    """User-caused errors: one line on stderr and exit 2 (no traceback). Internal errors: one line and
    exit 3, the traceback only with --debug / GANFIX_DEBUG=1. A failed gate (typer.Exit(1)) passes through."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GanfixError as exc:
            # escape: messages quote config tables like [gates] that rich would eat as markup
            err_console.print(f"[bold red]error:[/] {_rank_prefix()}{escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 — the point: no crash reads as a failed gate (exit 1)
            raise typer.Exit(report_internal_error(exc))

    return wrapper


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")
    sys.stdout.flush()


def parse_floats(text: Optional[str], name: str, count: int | None = None) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise GanfixError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise GanfixError(f"{name} needs {count} comma-separated numbers, got {text!r}")
    return values


def parse_ints(text: Optional[str], name: str) -> Optional[tuple[int, ...]]:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        raise GanfixError(f"{name} must be comma-separated integers, got {text!r}") from None


# Reusable typer options for loading a generator spec.
GenArg = typer.Argument(..., metavar="GEN", help="Generator spec: built-in name (e.g. toyscenes), TorchScript file, ProGAN state dict (.pt/.pth), or file.py:factory with --weights (imports and runs that file: only your own code).")
WeightsOpt = typer.Option(None, "--weights", help="Checkpoint for a file.py:factory spec (loaded with weights_only=True).")
ZShapeOpt = typer.Option(None, "--z-shape", help="Latent shape per sample, e.g. 128 or 128,1,1 (default: from the module).")
OutputRangeOpt = typer.Option("-1,1", "--output-range", help="Generator output range lo,hi.")
DeviceOpt = typer.Option(None, "--device", help="cpu or cuda[:i]; default cuda when available, else cpu.")
TrustOpt = typer.Option(False, "--trust-pickle", help="Allow unpickling code (e.g. StyleGAN2-ADA .pkl). Only for files you trust.")
SeedOpt = typer.Option(0, "--seed", help="Seed: the same seed gives the same samples and numbers.")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout (logs go to stderr).")


WeightsKeyOpt = typer.Option(None, "--weights-key", help="Dotted key of the generator's state dict inside the checkpoint, e.g. netG_state_dict or state_dict.g_ema (default: found automatically, EMA copies preferred).")
StripPrefixOpt = typer.Option(None, "--strip-prefix", help="Keep only state-dict keys starting with this prefix, without it (e.g. 'generator.' in Lightning checkpoints).")
ImageShapeOpt = typer.Option(None, "--image-shape", help="C,H,W to view a flat output (e.g. [N, 784]) as images, e.g. 1,28,28.")


def load_gen(gen: str, weights, z_shape, output_range, device, trust_pickle=False, weights_key=None, strip_prefix=None,
             image_shape=None):
    from ..generator import load_generator

    g = load_generator(
        gen,
        weights=weights,
        z_shape=parse_ints(z_shape, "--z-shape"),
        output_range=parse_floats(output_range, "--output-range", 2),
        device=device,
        trust_pickle=trust_pickle,
        weights_key=weights_key,
        strip_prefix=strip_prefix,
        image_shape=parse_ints(image_shape, "--image-shape"),
    )
    for note in getattr(g, "notes", []):
        err_console.print(note, highlight=False, soft_wrap=True)
    return g


@dataclass(frozen=True)
class GenOptions:
    """The options every command that loads a generator spec shares."""
    weights: Optional[str] = None
    z_shape: Optional[str] = None
    output_range: str = "-1,1"
    device: Optional[str] = None
    trust_pickle: bool = False
    weights_key: Optional[str] = None
    strip_prefix: Optional[str] = None
    image_shape: Optional[str] = None

    def load(self, spec: str):
        return load_gen(spec, self.weights, self.z_shape, self.output_range, self.device, self.trust_pickle,
                        self.weights_key, self.strip_prefix, self.image_shape)


_GEN_PARAMS = [("weights", WeightsOpt, Optional[str]), ("z_shape", ZShapeOpt, Optional[str]),
               ("output_range", OutputRangeOpt, str), ("device", DeviceOpt, Optional[str]), ("trust_pickle", TrustOpt, bool),
               ("weights_key", WeightsKeyOpt, Optional[str]), ("strip_prefix", StripPrefixOpt, Optional[str]),
               ("image_shape", ImageShapeOpt, Optional[str])]


def option_group(field: str, cls: type, params: list[tuple[str, Any, Any]]) -> Callable[[Callable], Callable]:
    """A decorator that gives a command the options `params` ([(name, typer.Option, type)]) and hands them to
    it as one `cls(**values)` in its parameter `field` (replaced in the signature typer reads)."""

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.name != field]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann) for n, opt, ann in params]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **{field: cls(**{n: kwargs.pop(n) for n, _, _ in params})}, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=own + added)
        wrapper.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != field},
                                   **{n: ann for n, _, ann in params}}
        return wrapper

    return decorate


# --weights, --z-shape, --output-range, --device, --trust-pickle → `gen_opts: GenOptions`
generator_options = option_group("gen_opts", GenOptions, _GEN_PARAMS)
