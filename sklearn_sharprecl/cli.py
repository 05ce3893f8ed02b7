"""The ``sharprecl`` command: fit, predict, evaluate and inspect models from the shell.

::

    sharprecl fit train.csv --model model/
    sharprecl fit train.csv --model model/ --set criterion__n_neg=200 --set module__proj_dim=64
    sharprecl predict model/ new.csv --output predictions.csv
    sharprecl evaluate model/ test.csv --output-dir report/
    sharprecl info model/

Data files are CSV (``.csv``), tab-separated (``.tsv``) or JSON lines
(``.jsonl``; ``.json`` is read as JSON lines, or else as one JSON array of
records), with one text per row. :func:`main` returns the exit status: 0 on
success, 1 on a data or model error (a one-line ``sharprecl: error: ...`` on
stderr), 2 on a usage error, 130 when interrupted (Ctrl-C).
"""

# License: BSD 3 clause

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

__all__ = ["CLIError", "load_model", "main", "read_data", "save_model"]

PROG = "sharprecl"


class CLIError(Exception):
    """An error to report to the user in one line, without a traceback."""


def _one_line(exc, limit=500):
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------- persistence
# Small functions so that the file format can change in one place.
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")
_MODEL_PATH = ("a model directory written by 'sharprecl fit', or a .joblib or .pkl file "
               "(a pickle: load only files you trust)")


def _is_pickle_path(path):
    return Path(path).suffix.lower() in _PICKLE_SUFFIXES


def _default_mode(directory):
    """The permissions ``mkdir``/``open`` would give (``mkdtemp``/``mkstemp`` give 0o700/0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _check_model_target(path):
    """Refuse a path a model cannot be written to without destroying something else."""
    from ._persistence.saved_model import holds_saved_model

    path = Path(path)
    if _is_pickle_path(path):
        if path.is_dir():
            raise FileExistsError(
                f"{path} is a directory; a model path ending in {path.suffix} is written "
                "as a pickle file")
        return
    if path.exists() and not path.is_dir():
        raise FileExistsError(
            f"{path} exists and is not a directory; a model is saved as a directory "
            "unless its name ends in .joblib or .pkl")
    if path.is_dir() and any(path.iterdir()) and not holds_saved_model(path):
        raise FileExistsError(
            f"{path} is a directory that holds no saved model; refusing to overwrite it")


def _remove(path):
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _copy_other_files(source, target):
    """Copy what the user keeps in a saved model directory (not the model's files)."""
    import shutil

    from ._persistence.saved_model import other_entries

    for entry in other_entries(source):
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, target / entry.name, follow_symlinks=False)


class _ModelWriter:
    """Write a model to ``path`` through a uniquely named sibling renamed into place.

    The temporary file or directory is made when the writer is created, so an
    unwritable folder fails before a long fit; its unique name never clashes
    with leftovers of earlier runs; an interrupted write leaves ``path`` as it
    was. Files that the user keeps in a saved model directory are carried over.
    """

    def __init__(self, path):
        self.path = Path(path)
        _check_model_target(self.path)
        self.pickle = _is_pickle_path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"prefix": f".{self.path.name}.", "suffix": ".tmp", "dir": self.path.parent}
        if self.pickle:
            fd, name = tempfile.mkstemp(**options)
            os.close(fd)
        else:
            name = tempfile.mkdtemp(**options)
        self.tmp = Path(name)

    def write(self, estimator):
        _check_model_target(self.path)  # again: it may have changed during a long fit
        os.chmod(self.tmp, _default_mode(directory=not self.pickle))
        if self.pickle:
            import joblib

            joblib.dump(estimator, self.tmp)
            os.replace(self.tmp, self.path)
            return
        estimator.save_pretrained(self.tmp)
        if not self.path.is_dir():
            os.replace(self.tmp, self.path)
            return
        _copy_other_files(self.path, self.tmp)
        holder = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".old",
                                       dir=self.path.parent))
        os.replace(self.path, holder / "model")
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            os.replace(holder / "model", self.path)  # put the previous model back
            holder.rmdir()
            raise
        _remove(holder)

    def discard(self):
        """Remove the temporary file or directory, if it is still there."""
        _remove(self.tmp)


def save_model(estimator, path):
    """Write a fitted estimator to ``path``.

    A path ending in ``.joblib``/``.pkl`` gets a joblib pickle; any other path
    becomes a directory in the pickle-free format of
    :meth:`SharpReCLClassifier.save_pretrained` (safetensors + JSON), which is
    safe to share. Either is written under a unique temporary name next to
    ``path`` first and then renamed, so an interrupted save never leaves a
    truncated model behind. An existing directory must be empty or hold a
    saved model (which is replaced; other files in it are kept).
    """
    writer = _ModelWriter(path)
    try:
        writer.write(estimator)
    finally:
        writer.discard()


def load_model(path):
    """Read an estimator written by :func:`save_model`.

    Directories load without running code from the files. Files ending in
    ``.joblib``/``.pkl`` are pickles: loading one runs code from the file, so
    load only models you trust. Any other path is refused (``ValueError``),
    whatever it holds.
    """
    path = Path(path)
    if path.is_dir():
        from ._estimators.classifier import SharpReCLClassifier

        return SharpReCLClassifier.load_pretrained(path)
    if not _is_pickle_path(path):
        raise ValueError(f"{path} is not a model path: a model is {_MODEL_PATH}.")
    import joblib

    return joblib.load(path)


def _check_model_path(path, usage):
    """A clear error for a MODEL argument that cannot be a model, before loading anything."""
    from ._persistence.saved_model import holds_saved_model

    path = Path(path)
    if not path.exists():
        raise CLIError(f"model not found: {path}")
    if path.is_dir():
        if not holds_saved_model(path):
            raise CLIError(f"{path} is a directory that holds no saved model "
                           f"(no sklearn-sharprecl config.json); MODEL must be {_MODEL_PATH}")
        return
    if _is_pickle_path(path):
        return
    what = "a data file" if path.suffix.lower() in _FORMATS else "not a model"
    raise CLIError(f"{path} is {what}: MODEL must be {_MODEL_PATH} (usage: {PROG} {usage})")


def _model_classes():
    """The classes of model that predict, evaluate and info take.

    A CALoRAClassifier comes from a pickle only (the directory format holds a
    SharpReCLClassifier); its fitted base is a SharpReCLClassifier.
    """
    from ._estimators.calora import CALoRAClassifier
    from ._estimators.classifier import SharpReCLClassifier

    return SharpReCLClassifier, CALoRAClassifier


def _is_calora(estimator):
    from ._estimators.calora import CALoRAClassifier

    return isinstance(estimator, CALoRAClassifier)


def _base_of(estimator):
    """The SharpReCLClassifier of a model: itself, or the base of a CALoRAClassifier."""
    return estimator.estimator_ if _is_calora(estimator) else estimator


def _load_fitted(path, usage):
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    path = Path(path)
    _check_model_path(path, usage)
    try:
        estimator = load_model(path)
    except EOFError as exc:
        raise CLIError(f"could not load a model from {path}: the file ends early, it is "
                       "truncated (EOFError); save or copy it again") from exc
    except Exception as exc:  # unpickling raises anything the file's bytes lead to
        raise CLIError(
            f"could not load a model from {path} (is it a model written by '{PROG} fit'?): "
            f"{_one_line(exc)}"
        ) from exc
    if not isinstance(estimator, _model_classes()):
        raise CLIError(f"{path} holds a {type(estimator).__name__}, not a "
                       f"{' or '.join(cls.__name__ for cls in _model_classes())}.")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise CLIError(f"the model in {path} is not fitted.") from exc
    return estimator


# -------------------------------------------------------------------- data
_FORMATS = {".csv": "CSV", ".tsv": "TSV", ".jsonl": "JSON lines", ".json": "JSON"}


def read_data(path):
    """Read a data file into a DataFrame.

    CSV and TSV cells are read as strings, exactly as written (no NA
    guessing, no number parsing: ``007`` stays ``007``); JSON values keep
    their JSON types.

    Raises
    ------
    CLIError
        When the file is missing or cannot be parsed, its suffix is not one
        of ``.csv``, ``.tsv``, ``.jsonl``, ``.json``, or it has no rows.
    """
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise CLIError(
            f"cannot tell the format of {path} from its suffix {suffix!r}: "
            "use .csv, .tsv, .jsonl or .json."
        )
    if not path.exists():
        raise CLIError(f"data file not found: {path}")
    if path.is_dir():
        raise CLIError(f"data path is a directory, not a file: {path}")
    try:
        if suffix in (".csv", ".tsv"):
            frame = pd.read_csv(
                path, sep="," if suffix == ".csv" else "\t", dtype=str, keep_default_na=False
            )
        else:
            # Values as written: no dtype guessing (pandas >= 3: this also
            # stops date parsing; before, that needs convert_dates=False).
            options = {"dtype": False}
            if int(pd.__version__.split(".")[0]) < 3:
                options["convert_dates"] = False
            try:
                frame = pd.read_json(path, lines=True, **options)
            except ValueError:
                if suffix == ".jsonl":
                    raise
                frame = pd.read_json(path, **options)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        # EmptyDataError is a ValueError too.
        raise CLIError(f"could not read {path} as {_FORMATS[suffix]}: {_one_line(exc)}") from exc
    if len(frame) == 0:
        raise CLIError(f"{path} has no data rows.")
    return frame


def _column(frame, name, option, path):
    if name not in frame.columns:
        present = ", ".join(repr(c) for c in frame.columns)
        raise CLIError(
            f"column {name!r} ({option}) not found in {path}; columns present: {present}"
        )
    values = frame[name]
    missing = values.isna().to_numpy()
    if missing.any():
        raise CLIError(
            f"column {name!r} of {path} has {int(missing.sum())} missing value(s) "
            f"(first in data row {int(missing.argmax()) + 1})."
        )
    return values


def _texts(frame, name, option, path):
    return _column(frame, name, option, path).astype(str).tolist()


def _labels(frame, name, option, path):
    values = _column(frame, name, option, path)
    empty = (values.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        raise CLIError(
            f"column {name!r} of {path} has {int(empty.sum())} empty label(s) "
            f"(first in data row {int(empty.argmax()) + 1})."
        )
    return values.to_numpy()


def _write_table(frame, output):
    """Write ``frame`` by the suffix of ``output``; ``-`` is CSV on stdout."""
    if output == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    path = Path(output)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False, sep="," if suffix == ".csv" else "\t")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def _check_output_file(output, data, force):
    """Refuse an output that would replace the input, or another file unless ``force``."""
    if output == "-":
        return
    path = Path(output)
    if path.suffix.lower() not in (".csv", ".tsv", ".jsonl"):
        raise CLIError(f"cannot write {path}: use an output ending in .csv, .tsv or .jsonl, or -")
    if path.is_dir():
        raise CLIError(f"--output {path} is a directory; give a file name")
    if path.exists() and _same_file(path, data):
        raise CLIError(f"--output {path} is the input file; write the predictions to another file")
    if path.exists() and not force:
        raise CLIError(f"{path} exists; use --force to overwrite it")


def _check_output_dir(out_dir, names, data, force):
    """Refuse report files that would replace the input, or other files unless ``force``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CLIError(f"--output-dir {out_dir} is a file, not a folder")
    existing = [name for name in names if (out_dir / name).exists()]
    for name in existing:
        if _same_file(out_dir / name, data):
            raise CLIError(f"{out_dir / name} is the input file and a report file; "
                           "choose another --output-dir")
    if existing and not force:
        raise CLIError(f"{out_dir} already holds {', '.join(existing)}; "
                       "use --force to overwrite them")


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


# ---------------------------------------------------------------- commands
# fit options that map onto SharpReCLClassifier parameters: (flag, parameter).
_FIT_PARAMETERS = (
    ("encoder", "encoder"),
    ("max_epochs", "max_epochs"),
    ("mu", "mu"),
    ("tau", "tau"),
    ("max_length", "max_length"),
    ("truncation", "truncation"),
    ("train_layers", "train_layers"),
    ("head_init", "head_init"),
    ("batch_size", "batch_size"),
    ("lr", "lr"),
    ("validation_fraction", "validation_fraction"),
    ("random_state", "random_state"),
    ("augment", "augment"),
    ("device", "device"),
    ("decision_prior", "decision_prior"),
)
_PRIORS = ("balanced", "train", "none")
_PRIOR_HELP = ("class prior of the texts to predict, applied by Bayes' rule: 'balanced' "
               "(uniform), 'train' (the training class frequencies) or 'none' (the "
               "posterior the loss estimates: balanced for the default loss)")
_NONE = "none"
_ESTIMATE = "estimate"
_ESTIMATE_HELP = ("; 'estimate': the prior of DATA's texts, estimated by EM from the "
                  "model's probabilities (no label is read; one extra pass over DATA)")
_MODEL_HELP = ("model directory written by 'fit', or a .joblib/.pkl file holding a "
               "SharpReCLClassifier or CALoRAClassifier (a pickle: load only files you trust)")


def _check_encoder(encoder):
    """``encoder`` with ``~`` expanded; a clear error for a path that does not exist.

    A name that is not an existing path is passed on as a hub id, unless it
    can only be a path (by the estimator's own rule: absolute, starting with
    ``.`` or ``~``, more than one ``/``, a trailing ``/``): transformers would
    report a confusing "repo id" error for it.
    """
    from ._text.encoder import looks_like_path

    path = Path(encoder).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CLIError(f"--encoder must be a directory or a hub id, got a file: {encoder}")
        return str(path)
    if looks_like_path(encoder):
        raise CLIError(f"encoder directory not found: {encoder}")
    return encoder


def _best_epoch(history):
    """``(epoch, macro-F1)`` of the best validation macro-F1 in ``history``; None without one."""
    scores = [(row["epoch"], row["valid_f1_macro"]) for row in history if "valid_f1_macro" in row]
    return max(scores, key=lambda pair: pair[1]) if scores else None


def _option_of_parameter():
    """The fit option that sets each estimator parameter, by parameter name."""
    options = {parameter: f"--{option.replace('_', '-')}" for option, parameter in _FIT_PARAMETERS}
    return {**options, "verbose": "-v"}


def _fit_params(args):
    """Constructor arguments from fit's options and its ``--set NAME=VALUE`` settings.

    A name that has an option of its own must be given there: one spelling
    per setting. Names and values are otherwise the estimator's to check.
    """
    options = _option_of_parameter()
    params = {}
    for option, parameter in _FIT_PARAMETERS:
        value = getattr(args, option)
        if value is not None:
            params[parameter] = None if value == _NONE else value
    params["verbose"] = int(args.verbose > 0)
    given = set()
    for name, value in args.settings:
        if name in options:
            raise CLIError(f"--set {name}=...: {name} has an option of its own; use {options[name]}")
        if name in given:
            raise CLIError(f"--set {name}=... is given twice; give each setting once")
        given.add(name)
        params[name] = value
    return params


def _parameter_error(exc, params):
    """scikit-learn's InvalidParameterError as a CLIError naming the option that gave the value."""
    options = _option_of_parameter()
    for name in params:
        if f"{name!r} parameter" in str(exc):
            where = options.get(name, f"--set {name}")
            return CLIError(f"{where}: {_one_line(exc)}")
    return CLIError(_one_line(exc))


def _cmd_fit(args):
    from sklearn.utils._param_validation import InvalidParameterError

    from ._estimators.classifier import SharpReCLClassifier
    from ._persistence.saved_model import check_savable

    model = Path(args.model)
    _check_model_target(model)
    if args.encoder is not None:
        args.encoder = _check_encoder(args.encoder)
    params = _fit_params(args)
    estimator = SharpReCLClassifier(**params)  # a misspelt --set name fails here, at once
    if not _is_pickle_path(model):
        try:
            check_savable(estimator)
        except ValueError as exc:
            raise CLIError(f"{_one_line(exc)} (here: a --model name ending in .joblib)") from exc
    frame = read_data(args.data)
    texts = _texts(frame, args.text_column, "--text-column", args.data)
    labels = _labels(frame, args.label_column, "--label-column", args.data)
    aug = None
    if args.aug_column is not None:
        aug = _texts(frame, args.aug_column, "--aug-column", args.data)

    writer = _ModelWriter(model)  # an unwritable folder fails now, not after training
    try:
        start = time.perf_counter()
        fitted = False
        with _recording_interrupts() as interrupt, _plain_output():
            try:
                estimator.fit(texts, labels, X_aug=aug)
            except InvalidParameterError as exc:  # checked first thing, before any loading
                raise _parameter_error(exc, params) from exc
            fitted = True
        seconds = time.perf_counter() - start
        if interrupt["interrupted"]:
            return _interrupted_fit(estimator if fitted else None, model)
        writer.write(estimator)
    finally:
        writer.discard()
    _print_fit_summary(estimator, len(texts), seconds, model)
    return 0


def _print_fit_summary(estimator, n_texts, seconds, model):
    history = estimator.net_.history
    n_train = int(estimator.class_counts_.sum())
    held_out = n_texts - n_train
    print(
        f"fitted on {n_train} texts"
        + (f" ({held_out} more held out for validation)" if held_out else "")
        + f", {len(estimator.classes_)} classes, {len(history)} epoch(s) in {seconds:.1f} s"
    )
    best = _best_epoch(history)
    if best:
        print(f"best validation macro-F1: {best[1]:.4f} (epoch {best[0]})")
    print(f"model written to {model}")


def _new_sibling(path, label):
    """Create and return a new path next to ``path``: never one that exists.

    ``model/`` gives ``model.interrupted/`` (or ``model.interrupted-2/``, ...),
    ``model.joblib`` gives ``model.interrupted.joblib``; the returned path is
    created empty (a directory, or a file for pickles) so that no other run
    can take it.
    """
    pickle = _is_pickle_path(path)
    stem, suffix = (path.stem, path.suffix) if pickle else (path.name, "")
    for n in range(1, 1000):
        candidate = path.with_name(f"{stem}.{label}{'' if n == 1 else f'-{n}'}{suffix}")
        try:
            if pickle:
                with open(candidate, "x"):
                    pass
            else:
                candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not find a free name next to {path}")


def _interrupted_fit(estimator, model):
    """Report a fit stopped by Ctrl-C; keep what it trained under a new name, never ``model``."""
    unchanged = f"{model} was left as it was" if model.exists() else f"{model} was not written"
    history = estimator.net_.history if estimator is not None else []
    completed = sum(1 for row in history if "dur" in row)  # epochs that ran to their end
    if not completed:
        print(f"{PROG}: interrupted before the first epoch ended; nothing was written "
              f"({unchanged})", file=sys.stderr)
        return 130
    target = _new_sibling(model, "interrupted")
    try:
        save_model(estimator, target)
    except BaseException:
        with contextlib.suppress(OSError):  # only while it is still the empty placeholder
            if target.is_dir():
                target.rmdir()
            elif target.stat().st_size == 0:
                target.unlink()
        raise
    best = _best_epoch(row for row in history if "dur" in row)
    if best:
        weights = (f"the weights of epoch {best[0]}, the best so far "
                   f"(validation macro-F1 {best[1]:.4f})")
    else:
        weights = "the weights at the interrupt"
    print(f"{PROG}: interrupted after {completed} complete epoch(s) of "
          f"{estimator.max_epochs}; {unchanged}; {weights} were saved to {target}",
          file=sys.stderr)
    return 130


def _with_decision_prior(estimator, prior, model, texts):
    """``estimator`` deciding under ``prior`` (a --decision-prior value), if one was given.

    The prior is applied at prediction time only, so it can differ from the
    one the model was fitted with; the model file is left as it is.
    ``'estimate'`` estimates it from ``texts``, the texts about to be
    predicted, and prints it. A CALoRAClassifier has no decision prior: its
    class experts give its probabilities.
    """
    if prior is None:
        return estimator
    if _is_calora(estimator):
        raise CLIError(f"--decision-prior applies to a SharpReCLClassifier, and {model} holds a "
                       "CALoRAClassifier, whose class experts give its probabilities; "
                       "leave --decision-prior out")
    if prior == _ESTIMATE:
        prior = estimator.estimate_decision_prior(texts)
        shown = ", ".join(f"{label}: {share:.3f}" for label, share in zip(estimator.classes_, prior))
        print(f"{PROG}: estimated class prior of the texts: {shown}", file=sys.stderr)
    elif prior == _NONE:
        prior = None
    return estimator.set_params(decision_prior=prior)


class _CALoRAForReport:
    """A CALoRAClassifier as :func:`~sklearn_sharprecl.plotting.evaluation_report` reads it.

    Its predictions, classes and training counts are its own. What the report
    draws of a model's insides, the training curves and the embeddings with
    the class prototypes, is its base SharpReCLClassifier's: the class experts
    have neither, and the base's encoder is the one CALoRA uses, frozen.
    """

    def __init__(self, model):
        self._model = model
        self.classes_ = model.classes_
        self.class_counts_ = model.class_counts_

    def predict_proba(self, X):
        return self._model.predict_proba(X)

    def predict(self, X):
        return self._model.predict(X)

    def __getattr__(self, name):
        return getattr(self._model.estimator_, name)


def _show_progress(args):
    """Progress bars for predict and evaluate: on a terminal, or when asked for with -v."""
    return bool(args.verbose) or _isatty(sys.stderr)


def _cmd_predict(args):
    _check_model_path(args.model, "predict MODEL DATA --output OUT")
    _check_output_file(args.output, args.data, args.force)
    frame = read_data(args.data)
    texts = _texts(frame, args.text_column, "--text-column", args.data)
    estimator = _with_decision_prior(_load_fitted(args.model, "predict MODEL DATA --output OUT"),
                                     args.decision_prior, args.model, texts)
    proba = _WithProgress(estimator, _show_progress(args)).predict_proba(texts)

    out = frame.copy()
    new = {"prediction": estimator.classes_[proba.argmax(axis=1)]}
    for j, label in enumerate(estimator.classes_):
        new[f"proba_{label}"] = proba[:, j]
    clash = [name for name in new if name in out.columns]
    if clash:
        print(f"{PROG}: warning: overwriting input column(s) {', '.join(clash)}", file=sys.stderr)
    for name, values in new.items():
        out[name] = values
    _write_table(out, args.output)
    message = f"wrote {len(out)} predictions to {args.output}"
    print(message, file=sys.stderr if args.output == "-" else sys.stdout)
    return 0


def _cmd_evaluate(args):
    try:
        import matplotlib
    except ImportError as exc:
        raise CLIError(
            "evaluate draws plots with matplotlib: pip install 'sklearn-sharprecl[plots]'"
        ) from exc
    matplotlib.use("Agg")  # files only; never open a window
    from .plotting import REPORT_FILES, evaluation_report

    usage = "evaluate MODEL DATA --output-dir DIR"
    _check_model_path(args.model, usage)
    _check_output_dir(args.output_dir, REPORT_FILES.values(), args.data, args.force)
    frame = read_data(args.data)
    texts = _texts(frame, args.text_column, "--text-column", args.data)
    labels = _labels(frame, args.label_column, "--label-column", args.data)
    estimator = _load_fitted(args.model, usage)
    classes = list(estimator.classes_)
    if all(isinstance(c, str) for c in classes):
        labels = labels.astype(str)  # e.g. JSON numbers against CSV-trained string labels
    unseen = sorted({str(v) for v in labels} - {str(c) for c in classes})
    if len(unseen) == len({str(v) for v in labels}):
        raise CLIError(
            f"none of the labels in column {args.label_column!r} are classes of the model "
            f"(model classes: {', '.join(map(str, classes))})"
        )
    if unseen:
        print(
            f"{PROG}: warning: label(s) not seen in training, never predicted: "
            f"{', '.join(unseen)}",
            file=sys.stderr,
        )
    # After the label checks: 'estimate' costs a pass over the texts.
    estimator = _with_decision_prior(estimator, args.decision_prior, args.model, texts)

    if _is_calora(estimator):
        print(f"{PROG}: note: {args.model} holds a CALoRAClassifier: training_curves.png and "
              "embeddings.png show its base SharpReCLClassifier (whose encoder it uses, "
              "frozen); the scores, report.txt and the other plots are its own",
              file=sys.stderr)
        estimator = _CALoRAForReport(estimator)
    paths = evaluation_report(
        _WithProgress(estimator, _show_progress(args)), texts, labels, args.output_dir,
        embeddings_method=args.embeddings,
    )
    metrics = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    print(paths["report"].read_text(encoding="utf-8"))
    print(
        f"macro-F1: {metrics['f1_macro']:.4f}   accuracy: {metrics['accuracy']:.4f}   "
        f"balanced accuracy: {metrics['balanced_accuracy']:.4f}   ({metrics['n_samples']} texts)"
    )
    print(f"files written to {args.output_dir}: " + ", ".join(p.name for p in paths.values()))
    return 0


def _shown(value):
    """A parameter value as ``info`` shows it: JSON data as it is, anything else as its repr."""
    from ._persistence.saved_model import is_json_data

    return value if is_json_data(value) else repr(value)


def _differs(value, default):
    try:
        return not bool(value == default)
    except (TypeError, ValueError):  # e.g. arrays, whose == is elementwise
        return True


def _settings(estimator, config):
    """``(parameters, routed)``: a model's named parameters, and its routed ones not at default.

    ``get_params``; for a saved directory, with the settings its ``config``
    restores as they were saved (``saved_params``), not as loading adjusted
    them to this machine (a CUDA ``device`` where there is none). Routed names
    are the ones with ``__`` (scikit-learn's nesting separator, which no named
    parameter contains).
    """
    from ._estimators.classifier import SharpReCLClassifier
    from ._persistence.saved_model import saved_params

    params = estimator.get_params(deep=False)
    if config is not None:
        params.update(saved_params(config))
    if _is_calora(estimator):
        params.pop("estimator", None)  # its base is described on its own
    defaults = SharpReCLClassifier.routed_parameters()
    named = {key: _shown(params[key]) for key in sorted(params) if "__" not in key}
    routed = {key: _shown(params[key]) for key in sorted(params) if "__" in key
              and (key not in defaults or _differs(params[key], defaults[key]))}
    return named, routed


def _describe(estimator, config=None):
    """What ``info`` shows of a fitted estimator (a model, or the base of a CALoRA model)."""
    history = estimator.net_.history
    best = _best_epoch(history)
    parameters, routed = _settings(estimator, config)
    return {
        "class": type(estimator).__name__,
        "class_counts": [int(n) for n in estimator.class_counts_],
        "epochs": len(history),
        "best_valid_f1_macro": best[1] if best else None,
        "parameters": parameters,
        "routed_parameters": routed,
    }


def _print_parameters(prefix, described):
    print(f"{prefix}parameters:")
    for key, value in described["parameters"].items():
        print(f"  {key} = {value!r}")
    if not described["routed_parameters"]:
        print(f"{prefix}routed parameters: all at their defaults")
        return
    print(f"{prefix}routed parameters (those not at their defaults):")
    for key, value in described["routed_parameters"].items():
        print(f"  {key} = {value!r}")


def _model_info(path, estimator):
    """The ``info`` of a loaded model, as JSON data."""
    from ._persistence.saved_model import library_versions, read_config

    base = _base_of(estimator)
    config = read_config(Path(path)) if Path(path).is_dir() else None
    own = _describe(estimator, config)
    info = {
        "model": str(path),
        "class": own.pop("class"),
        "encoder": base.encoder_name_,
        "precision": base.precision_,
        "classes": [c.item() if hasattr(c, "item") else c for c in estimator.classes_],
        **own,
    }
    if base is not estimator:
        info["base"] = _describe(base)
    info["saved_with"] = dict(getattr(base, "versions_", None) or {})
    info["versions"] = library_versions(also=("imbalanced-learn", "numpy"))
    return info


def _print_header(info, estimator):
    """The lines of ``info`` above the classes: what the model is and how it was trained."""
    base = _base_of(estimator)
    print(f"model:    {info['model']}")
    if base is estimator:
        print(f"class:    {info['class']}")
        print(f"encoder:  {info['encoder']}")
    else:
        print(f"class:    {info['class']} (rank {estimator.rank}, top_k {estimator.top_k}) "
              f"on a {info['base']['class']}")
        print(f"encoder:  {info['encoder']} (the base's, frozen)")
    chosen = " (chosen by precision='auto')" if base.precision == "auto" else ""
    print(f"precision: {info['precision']}{chosen}")
    if base is estimator:
        print(f"epochs:   {info['epochs']}")
        if info["best_valid_f1_macro"] is not None:
            print(f"best validation macro-F1: {info['best_valid_f1_macro']:.4f}")
        split = " (after the validation split)" if estimator.validation_fraction else ""
        print(f"classes ({len(info['classes'])}), with training examples{split}:")
        return
    print(f"epochs:   {info['epochs']} of the class experts; the base: "
          f"{info['base']['epochs']}")
    if info["base"]["best_valid_f1_macro"] is not None:
        print(f"best validation macro-F1 of the base: "
              f"{info['base']['best_valid_f1_macro']:.4f}")
    print(f"classes ({len(info['classes'])}), with the training examples of the class "
          "experts:")


def _cmd_info(args):
    estimator = _load_fitted(args.model, "info MODEL")
    info = _model_info(args.model, estimator)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    _print_header(info, estimator)
    width = max(len(str(c)) for c in info["classes"])
    for label, count in zip(info["classes"], info["class_counts"]):
        print(f"  {str(label):<{width}}  {count}")
    _print_parameters("", info)
    if "base" in info:
        _print_parameters("base ", info["base"])
    if info["saved_with"]:
        print("saved with: " + ", ".join(f"{dist} {ver}" for dist, ver in
                                         info["saved_with"].items()))
    print("installed versions:")
    for dist, ver in info["versions"].items():
        print(f"  {dist} {ver or '(not installed)'}")
    return 0


# ------------------------------------------------------------------ parser
def _number_or_none(text):
    """A number, or 'none' for None (the estimator checks the range)."""
    if text.lower() == _NONE:
        return _NONE
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def _setting(text):
    """``NAME=VALUE`` of ``--set`` as ``(NAME, value)``: VALUE read as JSON, else as text."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _add_data_arguments(parser, *, labels, text_help="column holding the texts"):
    parser.add_argument("--text-column", default="text", metavar="COL",
                        help=f"{text_help} (default: %(default)s)")
    if labels:
        parser.add_argument("--label-column", default="label", metavar="COL",
                            help="column holding the labels (default: %(default)s)")


_MODELS_PRIOR = "the model's; not for a CALoRAClassifier"


def _add_decision_prior(parser, default, estimate=False):
    """--decision-prior; ``estimate``: also 'estimate' (predict and evaluate, which have texts)."""
    parser.add_argument("--decision-prior", choices=_PRIORS + ((_ESTIMATE,) if estimate else ()),
                        help=f"{_PRIOR_HELP}{_ESTIMATE_HELP if estimate else ''} (default: {default})")


def _add_fit_command(commands, data_help):
    """The ``fit`` subcommand: its options map onto SharpReCLClassifier parameters."""
    fit = commands.add_parser(
        "fit", help="fine-tune a classifier on a labelled data file and save it",
        description="Fine-tune a SharpReCLClassifier on the texts and labels of DATA and "
                    "write the fitted model to --model. Options left out keep the "
                    "estimator's defaults (shown); --set gives any other setting. The "
                    "estimator checks the values: one it refuses is an error (exit status "
                    "1). The model is saved as a directory of "
                    "safetensors weights and JSON, safe to share and to load; a name "
                    "ending in .joblib or .pkl gives a pickle instead, which runs code "
                    "when loaded: load only pickles you trust. Ctrl-C stops training "
                    "without replacing --model (exit status 130).",
    )
    fit.add_argument("data", metavar="DATA", help=data_help)
    fit.add_argument("--model", "-o", required=True, metavar="OUT",
                     help="where to write the fitted model: a directory in the safe "
                          "safetensors+JSON format (e.g. model/; an existing one must be "
                          "empty or hold a saved model, which is replaced), or a joblib "
                          "pickle if the name ends in .joblib or .pkl")
    _add_data_arguments(fit, labels=True)
    fit.add_argument("--aug-column", metavar="COL",
                     help="column with a precomputed augmented view of each text "
                          "(the contrastive second view; overrides --augment)")
    _add_model_options(fit.add_argument_group("model options"))
    fit.add_argument("-v", "--verbose", action="count", default=0,
                     help="print the per-epoch training log and progress bars (without "
                          "colours and bars where the output is not a terminal)")
    fit.set_defaults(handler=_cmd_fit)


def _add_model_options(hyper):
    """fit's options for SharpReCLClassifier parameters; their values are the estimator's to check."""
    from ._estimators.classifier import SharpReCLClassifier

    defaults = SharpReCLClassifier().get_params()
    hyper.add_argument("--encoder", metavar="PATH",
                       help="local transformer directory or hub id (default: the "
                            "packaged all-MiniLM-L6-v2, offline)")
    hyper.add_argument("--max-epochs", type=int, metavar="N",
                       help="training epochs (fewer only with early stopping on a "
                            f"--validation-fraction split) (default: {defaults['max_epochs']})")
    hyper.add_argument("--mu", type=float,
                       help=f"weight of the contrastive loss (default: {defaults['mu']})")
    hyper.add_argument("--tau", type=float,
                       help=f"contrastive temperature (default: {defaults['tau']})")
    hyper.add_argument("--max-length", type=int, metavar="TOKENS",
                       help=f"truncate texts to this many tokens (default: "
                            f"{defaults['max_length']})")
    hyper.add_argument("--truncation", metavar="MODE",
                       help="what of a longer text is kept: 'head', its first --max-length "
                            "tokens; 'head_tail', the first quarter and last three quarters of "
                            "them; 'chunks', every token, in windows whose features are pooled "
                            f"(default: {defaults['truncation']})")
    hyper.add_argument("--train-layers", type=int, metavar="K",
                       help="train only the top K transformer blocks; the frozen ones run once "
                            "per fit (default: all)")
    hyper.add_argument("--head-init", metavar="INIT",
                       help="start the classifier at 'random' or from a 'linear_probe' fitted "
                            "to the encoder's features of DATA (default: "
                            f"{defaults['head_init']})")
    hyper.add_argument("--batch-size", type=int, metavar="N",
                       help=f"texts per training step (default: {defaults['batch_size']})")
    hyper.add_argument("--lr", type=float,
                       help=f"encoder learning rate (default: {defaults['lr']})")
    hyper.add_argument("--validation-fraction", type=_number_or_none, metavar="FRACTION",
                       help="share of each class held out for early stopping and best-epoch "
                            "selection, or 'none': train on every text and keep the last epoch "
                            "(default: none)")
    hyper.add_argument("--random-state", type=int, metavar="SEED",
                       help="seed for a reproducible fit (default: none)")
    hyper.add_argument("--augment", metavar="PRESET",
                       help="second view: dropout, wordnet, random_swap, random_delete or "
                            f"contextual:<mlm-path> (default: {defaults['augment']})")
    hyper.add_argument("--device", help=f"torch device, e.g. cpu or cuda (default: "
                                        f"{defaults['device']})")
    _add_decision_prior(hyper, default="none; predict and evaluate can override it")
    hyper.add_argument("--set", type=_setting, action="append", default=[], dest="settings",
                       metavar="NAME=VALUE",
                       help="any other estimator setting, repeatable: a routed one such as "
                            "criterion__n_neg=200, module__proj_dim=64, "
                            "optimizer__weight_decay=0.01 or callbacks__lr_schedule=null (a "
                            "constant learning rate), or e.g. head_lr=null, precision=auto. "
                            "VALUE is read as JSON (numbers, true, false, null), else as text; "
                            "SharpReCLClassifier.routed_parameters() lists the routed names "
                            "with their defaults")


_PROGRESS_HELP = "show a progress bar on stderr (shown anyway when stderr is a terminal)"
_DATA_HELP = ("data file: .csv, .tsv, .jsonl (JSON lines) or .json (JSON lines, "
              "or an array of records), one text per row")


def build_parser():
    """The ``sharprecl`` argument parser."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="SharpReCL transformer text classification for imbalanced classes: "
                    "fit a model on labelled texts, predict, evaluate, inspect.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command. Exit status: "
               "0 success, 1 data or model error, 2 usage error, 130 interrupted (Ctrl-C).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="on a data or model error, show the full Python traceback")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_fit_command(commands, _DATA_HELP)
    _add_predict_command(commands)
    _add_evaluate_command(commands)
    _add_info_command(commands)
    return parser


def _add_predict_command(commands):
    predict = commands.add_parser(
        "predict", help="predict the classes of the texts of a data file",
        description="Write the rows of DATA with a 'prediction' column and one "
                    "'proba_<class>' column per class (the columns sum to 1).",
    )
    predict.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    predict.add_argument("data", metavar="DATA", help=_DATA_HELP)
    predict.add_argument("--output", "-o", required=True, metavar="OUT",
                         help="output file: .csv, .tsv or .jsonl, never the input file; "
                              "'-' writes CSV to stdout")
    predict.add_argument("--force", "-f", action="store_true",
                         help="overwrite OUT if it exists")
    _add_data_arguments(predict, labels=False)
    _add_decision_prior(predict, default=_MODELS_PRIOR, estimate=True)
    predict.add_argument("-v", "--verbose", action="count", default=0, help=_PROGRESS_HELP)
    predict.set_defaults(handler=_cmd_predict)


def _add_evaluate_command(commands):
    evaluate = commands.add_parser(
        "evaluate", help="score a model on a labelled data file; write plots and metrics",
        # Wrapped by hand: argparse would break the pip line at its hyphen.
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Predict the texts of DATA, print imbalanced-learn's per-class report\n"
                    "and the macro-F1, and write f1_by_class.png, confusion_matrix.png,\n"
                    "training_curves.png, embeddings.png, report.txt and metrics.json\n"
                    "to --output-dir.\n\n"
                    "Needs matplotlib: pip install 'sklearn-sharprecl[plots]'",
    )
    evaluate.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    evaluate.add_argument("data", metavar="DATA",
                          help=_DATA_HELP + "; use texts the model was not trained on")
    evaluate.add_argument("--output-dir", "-o", required=True, metavar="DIR",
                          help="folder for the report files (created if needed)")
    evaluate.add_argument("--force", "-f", action="store_true",
                          help="overwrite report files already in DIR")
    _add_data_arguments(evaluate, labels=True)
    _add_decision_prior(evaluate, default=_MODELS_PRIOR, estimate=True)
    evaluate.add_argument("--embeddings", choices=("pca", "tsne"), default="pca",
                          help="2-D projection of embeddings.png (default: %(default)s)")
    evaluate.add_argument("-v", "--verbose", action="count", default=0, help=_PROGRESS_HELP)
    evaluate.set_defaults(handler=_cmd_evaluate)


def _add_info_command(commands):
    info = commands.add_parser(
        "info", help="show a model's classes, encoder, parameters and library versions",
        description="Show the model's class, its classes and their training counts, the "
                    "encoder, the training epochs, the estimator parameters and the "
                    "installed library versions; for a CALoRAClassifier also its rank, "
                    "top_k and the parameters of its base.",
    )
    info.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    info.add_argument("--json", action="store_true", help="print the information as JSON")
    info.set_defaults(handler=_cmd_info)


def _transformers_output(verbose):
    """transformers' log messages and progress bars: shown with -v, else silenced."""
    from ._text.encoder import quiet_transformers

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


if __name__ == "__main__":
    raise SystemExit(main())
