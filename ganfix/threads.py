"""How many CPU threads torch may use: `--threads N`, else $GANFIX_THREADS, else a default that does
not oversubscribe — the CPUs this process may run on, shared among the processes torchrun started on
this node (so 1 per process on a small machine). Oversubscribed threads on a busy 2-core machine made
`rank` 2.5× slower than one thread (issue 17)."""
from __future__ import annotations

import os
from contextlib import contextmanager

from .errors import UsageError

ENV = "GANFIX_THREADS"


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)  # set by torchrun
    return max(1, available_cpus() // max(per_node, 1))


def resolve_threads(threads: int | str | None = None) -> int:
    """The thread count to use: the argument, else $GANFIX_THREADS, else `default_threads()`."""
    source = "--threads"
    if threads is None and os.environ.get(ENV):
        threads, source = os.environ[ENV], ENV
    if threads is None:
        return default_threads()
    try:
        n = int(threads)
    except (TypeError, ValueError):
        raise UsageError(f"{source} must be a whole number of threads, got {threads!r}") from None
    if n < 1:
        raise UsageError(f"{source} must be at least 1, got {n}")
    return n


def configure_threads(threads: int | str | None = None) -> int:
    import torch

    n = resolve_threads(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


@contextmanager
def one_thread_fewer():
    """torch uses one intra-op thread fewer (at least one) inside the block, restored after: for passes whose own
    Python threads keep a core busy beside torch (the sheets draw while the generator runs), so they don't
    oversubscribe the CPUs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, before - 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)
