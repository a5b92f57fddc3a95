"""`ganfix --help` and every command's --help start without importing torch (start-up is most of a short
command's time), and the ranker names the help lists are the registry's."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys
from ganfix.cli.app import main
sys.argv = ["ganfix", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "numpy", "scipy", "torch_fidelity", "PIL") if m in sys.modules)
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["rank", "--help"], ["repair", "--help"], ["demo", "--help"]])
def test_help_imports_no_torch(args):
    res = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert "Usage" in res.stdout, res.stderr[-2000:]
    assert "HEAVY:\n" in res.stderr, res.stderr[-2000:]


def test_help_lists_the_registered_rankers():
    from ganfix import defaults
    from ganfix.ranking import ranker_names

    assert list(defaults.BUILTIN_RANKERS) == ranker_names()
