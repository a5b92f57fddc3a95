"""--threads / $GANFIX_THREADS and the non-oversubscribing default."""
import os
import subprocess
import sys

import pytest

from ganfix.cli.app import _take_threads_option
from ganfix.errors import UsageError
from ganfix.threads import available_cpus, resolve_threads


def test_threads_option_is_taken_anywhere():
    assert _take_threads_option(["rank", "g", "--threads", "3", "--json"]) == (["rank", "g", "--json"], "3")
    assert _take_threads_option(["--threads=2", "layers", "g"]) == (["layers", "g"], "2")
    assert _take_threads_option(["layers", "g"]) == (["layers", "g"], None)


def test_resolve_threads(monkeypatch):
    monkeypatch.delenv("GANFIX_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert resolve_threads() == available_cpus()
    assert resolve_threads(3) == 3
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(available_cpus() * 4))  # torchrun: more processes than CPUs
    assert resolve_threads() == 1
    monkeypatch.setenv("GANFIX_THREADS", "2")
    assert resolve_threads() == 2 and resolve_threads(5) == 5  # the flag wins over the environment
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv("GANFIX_THREADS", bad)
        with pytest.raises(UsageError, match="GANFIX_THREADS"):
            resolve_threads()


@pytest.mark.slow
def test_bad_threads_is_one_line_exit_2():
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run([sys.executable, "-m", "ganfix", "layers", "toyscenes", "--threads", "0"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["error: --threads must be at least 1, got 0"]


def test_one_thread_fewer_leaves_at_least_one_and_restores():
    import torch

    from ganfix.threads import one_thread_fewer

    before = torch.get_num_threads()
    try:
        for n, inside in ((3, 2), (1, 1)):
            torch.set_num_threads(n)
            with pytest.raises(RuntimeError):
                with one_thread_fewer():
                    assert torch.get_num_threads() == inside
                    raise RuntimeError  # restored on error too
            assert torch.get_num_threads() == n
    finally:
        torch.set_num_threads(before)
