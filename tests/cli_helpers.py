"""Helpers shared by the CLI tests: run a command in-process, and assert a user error is one line with exit 2."""
from __future__ import annotations

from typer.testing import CliRunner

from ganfix.cli.app import app

runner = CliRunner()


def cli(*args):
    """Run `ganfix ARGS…` in-process (arguments are str()-ed)."""
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles) -> str:
    """The command failed as a user error: exit 2, one line starting with 'error:', no traceback, every needle in it."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    text = result.output.strip()
    assert len(text.splitlines()) == 1 and text.startswith("error:") and "Traceback" not in text, text
    for n in needles:
        assert n in text, (n, text)
    return text
