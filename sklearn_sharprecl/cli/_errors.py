"""Errors of the ``sharprecl`` command, reported in one line."""

# License: BSD 3 clause




PROG = "sharprecl"


class CLIError(Exception):
    """An error to report to the user in one line, without a traceback."""


def _one_line(exc, limit=500):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
