"""Shared CLI plumbing: error handling, console on stderr, JSON on stdout, generator options."""
from __future__ import annotations

import functools
import inspect
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Optional

import click
import typer
from rich.console import Console
from rich.markup import escape

from ..errors import GanfixError

# Logs, tables and progress go to stderr when --json is used, so stdout stays machine-readable.
err_console = Console(stderr=True)
out_console = Console()


def console_for(json_output: bool) -> Console:
    return err_console if json_output else out_console


def note(line: str | None) -> None:
    """One note or warning line on stderr (under torchrun: from rank 0 only); None: nothing."""
    from .. import distributed

    if line and distributed.rank() == 0:
        err_console.print(line, highlight=False, soft_wrap=True)


def warn_if_near_constant(gen) -> None:
    """One warning line on stderr when the generator's output barely depends on the latent (ganfix.sanity)."""
    from ..sanity import near_constant_warning

    note(near_constant_warning(gen))


def cli_progress(description: str, total: int):
    """The progress factory the commands hand to the library: a bar on stderr (periodic lines when piped)."""
    from ..progress import progress

    return progress(description, total, err_console)


# Library errors name Python parameters (`bootstrap must be at least 0, got -5`, `pool=50 must be at least
# samples=100`); a command shows them as its flags (`--bootstrap must be …`, `--pool 50 must be at least --samples 100`). The flags come from the command's own
# options; LIBRARY_NAMES maps the few library parameter names that differ from the command's parameter names.
LIBRARY_NAMES = {"selection": "select", "formats": "export_format", "layers": "sequential"}
NEGATED = {"use_cache": "no_cache"}  # library flag=False ↔ a CLI switch that turns it off
_LEADING_NAME = re.compile(r"(^|; )([a-z][a-z0-9_]*)(?= must )")
_PARAM_REF = re.compile(r"(?<![\w.-])([a-z][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;:()'\"]*)")


def command_flags(fn: Callable) -> dict[str, str]:
    """{parameter name: its long flag} of a typer command function (e.g. {"kid_subset_size": "--kid-subset-size"})."""
    flags = {}
    for p in inspect.signature(fn).parameters.values():
        decls = getattr(p.default, "param_decls", None) or ()
        longs = [d.split("/")[0] for d in decls if d.startswith("--")]
        if longs:
            flags[p.name] = longs[0]
    return flags


def flag_message(message: str, flags: dict[str, str]) -> str:
    """`name=value` → `--flag value` for the names the command has as flags; others stay as they are."""

    def sub(m: re.Match) -> str:
        name, value = m.group(1), m.group(2).strip("'\"")
        if name in NEGATED and value == "False" and NEGATED[name] in flags:
            return flags[NEGATED[name]]
        flag = flags.get(LIBRARY_NAMES.get(name, name))
        if flag is None:
            return m.group(0)
        return flag if value in ("", "True") else f"{flag} {value}"

    message = _PARAM_REF.sub(sub, message)
    # a parameter that opens a clause: "bootstrap must be at least 0, got -5" → "--bootstrap must be …"
    return _LEADING_NAME.sub(lambda m: m.group(1) + flags.get(LIBRARY_NAMES.get(m.group(2), m.group(2)), m.group(2)),
                             message)


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
    """User-caused errors: one line on stderr (in the command's flags) and exit 2, no traceback. Internal errors:
    one line and exit 3, the traceback only with --debug / GANFIX_DEBUG=1. A failed gate (typer.Exit(1)) passes.
    Before the command runs: its --out folder can be written, and the cache too when it takes --no-cache."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            preflight(kwargs.get("out"), not kwargs["no_cache"] if "no_cache" in kwargs else False)
            return fn(*args, **kwargs)
        except GanfixError as exc:
            text = flag_message(str(exc), command_flags(wrapper))
            # escape: messages quote config tables like [gates] that rich would eat as markup
            err_console.print(f"[bold red]error:[/] {_rank_prefix()}{escape(text)}", highlight=False, soft_wrap=True)
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
GenArg = typer.Argument(..., metavar="GEN", help="Generator spec: built-in name (e.g. toyscenes), torch.export .pt2 or TorchScript file, ProGAN state dict (.pt/.pth), or file.py:factory with --weights (imports and runs that file: only your own code).")


def optional_gen_arg(when_optional: str):
    """GEN for commands that can do without it (e.g. `paint --replay`, `study --report`)."""
    return typer.Argument(None, metavar="[GEN]", help=f"Generator spec ({when_optional}).")


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
    from .. import distributed

    for note in getattr(g, "notes", []) if distributed.rank() == 0 else []:  # once under torchrun, not per rank
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
    it as one `cls(**values)` in its parameter `field` (replaced, at its place, in the signature typer reads)."""

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        names = list(sig.parameters)
        at = names.index(field) if field in names else len(names)  # the options stand where the group's parameter was
        own = [p for p in sig.parameters.values() if p.name != field]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=ann) for n, opt, ann in params]
        # typer passes options by keyword; after a keyword-only parameter every parameter must be one too
        after = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind == p.POSITIONAL_OR_KEYWORD else p for p in own[at:]]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **{field: cls(**{n: kwargs.pop(n) for n, _, _ in params})}, **kwargs)

        wrapper.__signature__ = sig.replace(parameters=own[:at] + added + after)
        wrapper.__annotations__ = {**{k: v for k, v in fn.__annotations__.items() if k != field},
                                   **{n: ann for n, _, ann in params}}
        return wrapper

    return decorate


# --weights, --z-shape, --output-range, --device, --trust-pickle → `gen_opts: GenOptions`
generator_options = option_group("gen_opts", GenOptions, _GEN_PARAMS)


def preflight(out=None, use_cache: bool = True, files: tuple = ()) -> None:
    """Before any work: the output folder and files can be written, and so can the cache (when it is used)."""
    from ..preflight import check_cache_writable, check_output_dir, check_output_file

    check_output_dir(out)
    for path, option in files:
        check_output_file(path, option)
    check_cache_writable(use_cache)


NoCacheOpt = typer.Option(False, "--no-cache", help="Recompute everything instead of reading cached features/statistics/scores "
                          "(results are the same; caches are checksummed).")


PortOpt = typer.Option(0, "--port", help="Local port of the page (0: any free port).")
OpenOpt = typer.Option(False, "--open", help="Also open the page in the default browser.")


def serve_page(page, name: str, port: int, open_browser: bool, console: Console, json_output: bool, facts: dict,
               lines: list[str], stopped: Callable[[], str]) -> None:
    """Serve a local page (ganfix.pages) until Ctrl-C. Once it listens: `<name>: URL` and `lines` (with --json:
    {"url", **facts} on stdout); at Ctrl-C, the line stopped() gives."""
    from ..pages import PageServer

    with PageServer(page, port=port) as server:
        if json_output:
            print_json({"url": server.url, **facts})
        else:
            console.print(f"{name}: [bold]{server.url}[/]", soft_wrap=True, highlight=False)
            for line in lines:
                console.print(line, highlight=False, soft_wrap=True)
        if open_browser:
            import webbrowser
            webbrowser.open(server.url)
        try:
            server.wait()
        except KeyboardInterrupt:
            err_console.print(stopped(), highlight=False)
