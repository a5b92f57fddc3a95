"""Progress for long passes: a rich bar on a terminal, periodic plain lines otherwise (CI logs, pipes).

Every long pass in the library takes one callback shape, `on_progress(n_done_since_last_call: int)`;
`progress(description, total)` gives such a callback and renders it on stderr.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

ProgressCallback = Callable[[int], None]

_stderr = Console(stderr=True)


class PlainProgress:
    """The subset of rich.Progress the CLI uses, printing one line every `interval` seconds (and at the end)."""

    def __init__(self, description: str, total: int, stream=None, interval: float = 10.0):
        self.description, self.total, self.interval = description, max(int(total), 0), interval
        self.stream = stream or sys.stderr
        self.done = 0
        self._printed = False
        self._shown = -1  # the count the last line showed
        self._start = self._last = time.monotonic()

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and self._printed and self._shown != self.done:  # short passes stay silent
            self._line()  # the final count, unless the last periodic line already showed it

    def add_task(self, *_args, **_kwargs) -> int:
        return 0

    def update(self, _task: int = 0, **_kwargs) -> None:
        pass

    def advance(self, _task: int = 0, n: float = 1) -> None:
        self.done += int(n)
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._line()

    def _line(self) -> None:
        elapsed = time.monotonic() - self._start
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        self.stream.write(f"{self.description}: {self.done}/{self.total}{pct}, {elapsed:.0f} s\n")
        self.stream.flush()
        self._printed, self._shown = True, self.done


def progress_bar(description: str, total: int, console: Console | None = None):
    """A rich progress bar on a terminal, else a PlainProgress writing periodic lines to stderr."""
    console = console or _stderr
    from .distributed import rank

    if rank() != 0:  # under torchrun rank 0 alone shows (global) progress
        return PlainProgress(description, total, interval=float("inf"))
    if not console.is_terminal:
        return PlainProgress(description, total)
    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


@contextmanager
def progress(description: str, total: int, console: Console | None = None) -> Iterator[ProgressCallback]:
    """`with progress("tally layer4", n) as step: run(..., on_progress=step)`."""
    with progress_bar(description, total, console) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


class StagedProgress:
    """Progress of a pass with named stages (e.g. sheets: tally, generate, render), each with its own
    total: rich bars on a terminal, periodic plain lines per stage otherwise. Call it as
    `update(stage, n, total)` (the shape of `ganfix.sheets.build_sheets`' progress callback)."""

    def __init__(self, console: Console | None = None, width: int = 9, interval: float = 10.0):
        from .distributed import rank

        self.console = console or _stderr
        self.interval = interval if rank() == 0 else float("inf")  # under torchrun rank 0 alone shows progress
        self.rich = self.console.is_terminal and rank() == 0
        self.bar = (Progress(TextColumn(f"{{task.description:>{width}}}"), BarColumn(), MofNCompleteColumn(),
                             TimeRemainingColumn(), console=self.console, transient=True) if self.rich else None)
        self.tasks: dict[str, object] = {}

    def __enter__(self) -> "StagedProgress":
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        else:
            for plain in self.tasks.values():
                plain.__exit__(*exc)

    def __call__(self, stage: str, n: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = (self.bar.add_task(stage, total=total) if self.bar is not None
                                 else PlainProgress(stage, total, interval=self.interval))
        if self.bar is not None:
            self.bar.advance(self.tasks[stage], n)
        else:
            self.tasks[stage].advance(0, n)
