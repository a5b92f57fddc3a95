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
