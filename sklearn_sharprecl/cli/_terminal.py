"""What the ``sharprecl`` command shows on a terminal: plain output, progress bars, interrupts."""

# License: BSD 3 clause

import contextlib
import re
import signal
import sys
import threading

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class _PlainStream:
    """A text stream for a pipe or file: no ANSI colours, no progress-bar redraws."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if text.startswith("\r"):  # a progress bar (tqdm) redrawing its line
            return len(text)
        return self._stream.write(_ANSI_ESCAPE.sub("", text))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


@contextlib.contextmanager
def _plain_output():
    """Strip colours (skorch's epoch log) and progress bars from output that is not a terminal."""
    with contextlib.ExitStack() as stack:
        if not _isatty(sys.stdout):
            stack.enter_context(contextlib.redirect_stdout(_PlainStream(sys.stdout)))
        if not _isatty(sys.stderr):
            stack.enter_context(contextlib.redirect_stderr(_PlainStream(sys.stderr)))
        yield


@contextlib.contextmanager
def _recording_interrupts():
    """Record Ctrl-C (SIGINT) during a block, even where the KeyboardInterrupt is caught.

    skorch's ``partial_fit`` catches KeyboardInterrupt and returns normally,
    so the fit looks finished. The handler still raises KeyboardInterrupt
    (skorch stops training as before) after noting the interrupt in the
    yielded dict. Outside the main thread no handler can be installed; a
    KeyboardInterrupt escaping the block is recorded there too.
    """
    state = {"interrupted": False}
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
    if previous is None or previous == signal.SIG_IGN:  # nothing to record, or Ctrl-C ignored
        try:
            yield state
        except KeyboardInterrupt:
            state["interrupted"] = True
        return

    def record(signum, frame):
        state["interrupted"] = True
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, record)
    try:
        yield state
    except KeyboardInterrupt:
        state["interrupted"] = True
    finally:
        signal.signal(signal.SIGINT, previous)


_CHUNK = 1024  # texts per step of the progress bar of predict and evaluate


class _WithProgress:
    """A fitted estimator whose predict_proba, predict and transform show a progress bar.

    The texts are passed on in chunks of ``_CHUNK`` (each sorted by length for
    batching, as the estimator does); everything else is the estimator's.
    """

    def __init__(self, estimator, show):
        self._estimator = estimator
        self._show = show

    def __getattr__(self, name):
        return getattr(self._estimator, name)

    def _in_chunks(self, method, X, desc):
        import numpy as np
        from tqdm import tqdm

        texts = list(X)
        parts = []
        with tqdm(total=len(texts), desc=desc, unit="text", disable=not self._show,
                  file=sys.stderr, leave=False) as bar:
            for start in range(0, len(texts), _CHUNK):
                chunk = texts[start:start + _CHUNK]
                parts.append(getattr(self._estimator, method)(chunk))
                bar.update(len(chunk))
        return np.concatenate(parts)

    def predict_proba(self, X):
        return self._in_chunks("predict_proba", X, "predicting")

    def predict(self, X):
        return self._estimator.classes_[self.predict_proba(X).argmax(axis=1)]

    def transform(self, X):
        return self._in_chunks("transform", X, "embedding")
