"""Errors a user can cause and fix: shown as one line, without a traceback."""


class InputError(ValueError):
    """A command-line value, file or request the user supplied is invalid; the message names the field."""


class ScenarioError(InputError):
    """A scenario or scenario override is invalid; the message names the field."""
