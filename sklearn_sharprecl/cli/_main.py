"""The entry point: run a command, report its errors in one line."""

# License: BSD 3 clause

import contextlib
import os
import sys
import warnings

from ._errors import PROG, CLIError, _one_line
from ._parser import build_parser


def _transformers_output(verbose):
    """transformers' log messages and progress bars: shown with -v, else silenced."""
    from .._text.encoder import quiet_transformers

    return contextlib.nullcontext() if verbose else quiet_transformers()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (e.g. from the estimator) as one ``sharprecl: warning:`` line."""
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the ``sharprecl`` command line; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 1 on a data or model error. Usage errors and
        ``--help`` exit through :class:`SystemExit` (status 2 and 0), as
        :mod:`argparse` does.
    """
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings(), _transformers_output(getattr(args, "verbose", 0)):
            warnings.showwarning = _show_warning
            return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error
        # worth a message. Point stdout at devnull so the interpreter's final
        # flush does not raise again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except (CLIError, ValueError, TypeError, OSError, ImportError) as exc:
        # CLIError: our checks. The others: the estimator's parameter and data
        # validation, unreadable encoders, missing optional dependencies.
        if args.traceback:
            raise
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
