"""Errors a user can cause. The CLI turns them into one actionable line and exit code 2."""


class GanfixError(Exception):
    """Base class: a problem with the user's input, printed as one line, exit code 2."""

    exit_code = 2


class UsageError(GanfixError):
    """Bad argument, file, spec or configuration."""


class NonFiniteActivations(GanfixError):
    """A layer produced NaN/Inf; the message names the units."""


class NonFiniteSamples(GanfixError):
    """Generated images (or their features) hold NaN/Inf; the message names how many samples and which ids."""
