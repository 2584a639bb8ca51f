"""Errors a user can cause and fix: shown as one line, without a traceback."""


class ScenarioError(ValueError):
    """A scenario, override or command-line value is invalid; the message names the field."""
