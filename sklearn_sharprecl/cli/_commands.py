"""The ``fit``, ``predict`` and ``evaluate`` commands."""

# License: BSD 3 clause

import contextlib
import json
import math
import sys
import time
from pathlib import Path

from ._data import (
    _check_output_dir,
    _check_output_file,
    _labels,
    _texts,
    _write_table,
    read_data,
)
from ._errors import PROG, CLIError, _one_line
from . import _multilabel as multilabel
from ._models import (
    _check_model_path,
    _check_model_target,
    _is_calora,
    _is_pickle_path,
    _load_fitted,
    _ModelWriter,
    save_model,
)
from ._terminal import _isatty, _plain_output, _recording_interrupts, _WithProgress

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
    ("contrastive", "contrastive"),
    ("device", "device"),
    ("decision_prior", "decision_prior"),
)
_NONE = "none"  # the spelling of None on the command line
_ESTIMATE = "estimate"  # --decision-prior estimate: the prior of the data, by EM


def _check_encoder(encoder):
    """``encoder`` with ``~`` expanded; a clear error for a path that does not exist.

    A name that is not an existing path is passed on as a hub id, unless it
    can only be a path (by the estimator's own rule: absolute, starting with
    ``.`` or ``~``, more than one ``/``, a trailing ``/``): transformers would
    report a confusing "repo id" error for it.
    """
    from .._text.encoder import looks_like_path

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
    # The error scikit-learn's (private) parameter validation raises; no public name has it.
    from sklearn.utils._param_validation import InvalidParameterError

    from .._estimators.classifier import SharpReCLClassifier
    from .._persistence.saved_model import check_savable

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
    labels, label_names = _fit_labels(frame, args, args.data), None
    aug = None
    if args.aug_column is not None:
        aug = _texts(frame, args.aug_column, "--aug-column", args.data)
    validation = {}
    if args.validation is not None:
        valid_frame = read_data(args.validation)
        validation = {
            "X_val": _texts(valid_frame, args.text_column, "--text-column", args.validation),
            "y_val": _fit_labels(valid_frame, args, args.validation)}
    if args.label_separator is not None:  # label names joined by the separator
        labels, validation["y_val"], label_names = multilabel.binarize(
            labels, validation.get("y_val"), args.validation)
        validation = {k: v for k, v in validation.items() if v is not None}

    writer = _ModelWriter(model)  # an unwritable folder fails now, not after training
    try:
        start = time.perf_counter()
        fitted = False
        with _recording_interrupts() as interrupt, _plain_output():
            try:
                estimator.fit(texts, labels, X_aug=aug, **validation)
            except InvalidParameterError as exc:  # checked first thing, before any loading
                raise _parameter_error(exc, params) from exc
            fitted = True
            if label_names is not None:  # the saved model names its labels
                estimator.classes_ = label_names
        seconds = time.perf_counter() - start
        if interrupt["interrupted"]:
            return _interrupted_fit(estimator if fitted else None, model)
        writer.write(estimator)
    finally:
        writer.discard()
    _print_fit_summary(estimator, len(texts), seconds, model, split=args.validation is None)
    return 0


def _fit_labels(frame, args, path):
    """The label column: one label per row, or each row's label names (``--label-separator``)."""
    if args.label_separator is None:
        return _labels(frame, args.label_column, "--label-column", path)
    return multilabel.label_sets(frame, args.label_column, "--label-column", path,
                                 args.label_separator)


def _print_fit_summary(estimator, n_texts, seconds, model, split=True):
    """``split``: whether ``validation_fraction`` held texts out (no --validation file)."""
    history = estimator.net_.history
    if multilabel.is_multilabel_model(estimator):  # class counts are per label
        fraction = estimator.validation_fraction if split else None
        held_out = math.ceil(fraction * n_texts) if fraction else 0  # as train_test_split
        n_train, kind = n_texts - held_out, "labels"
    else:
        n_train, kind = int(estimator.class_counts_.sum()), "classes"
    held_out = n_texts - n_train
    print(
        f"fitted on {n_train} texts"
        + (f" ({held_out} more held out for validation)" if held_out else "")
        + f", {len(estimator.classes_)} {kind}, {len(history)} epoch(s) in {seconds:.1f} s"
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
    if multilabel.is_multilabel_model(estimator):
        new = multilabel.prediction_columns(estimator, proba,
                                            args.label_separator or multilabel.DEFAULT_SEPARATOR)
    else:
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
    from ..plotting import REPORT_FILES, evaluation_report

    usage = "evaluate MODEL DATA --output-dir DIR"
    _check_model_path(args.model, usage)
    _check_output_dir(args.output_dir, REPORT_FILES.values(), args.data, args.force)
    frame = read_data(args.data)
    texts = _texts(frame, args.text_column, "--text-column", args.data)
    estimator = _load_fitted(args.model, usage)
    if multilabel.is_multilabel_model(estimator):
        return _evaluate_multilabel(args, estimator, frame, texts)
    labels = _labels(frame, args.label_column, "--label-column", args.data)
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


def _evaluate_multilabel(args, estimator, frame, texts):
    """evaluate for a multi-label model: per-label precision, recall, F1 and support."""
    if args.decision_prior is not None:
        raise CLIError(f"--decision-prior is single-label; {args.model} holds a multi-label "
                       "model, which decides by its per-label thresholds; leave it out")
    separator = args.label_separator or multilabel.DEFAULT_SEPARATOR
    rows = multilabel.label_sets(frame, args.label_column, "--label-column", args.data, separator)
    model = _WithProgress(estimator, _show_progress(args))
    report, metrics = multilabel.evaluate(model, texts, rows, args.output_dir, args.label_column)
    if metrics["unknown_labels"]:
        print(f"{PROG}: warning: label(s) the model does not have, never predicted: "
              f"{', '.join(metrics['unknown_labels'])}", file=sys.stderr)
    print(report)
    print(f"macro-F1: {metrics['f1_macro']:.4f}   micro-F1: {metrics['f1_micro']:.4f}   "
          f"subset accuracy: {metrics['subset_accuracy']:.4f}   ({metrics['n_samples']} texts)")
    print(f"files written to {args.output_dir}: report.txt, metrics.json, f1_by_class.png")
    return 0
