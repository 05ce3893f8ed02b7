"""Model files of the ``sharprecl`` command: save, load and check them, never overwriting a user's file."""

# License: BSD 3 clause

import contextlib
import os
import tempfile
from pathlib import Path

from ._data import _FORMATS
from ._errors import PROG, CLIError, _one_line

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
    from .._persistence.saved_model import holds_saved_model

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

    from .._persistence.saved_model import other_entries

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
        from .._estimators.classifier import SharpReCLClassifier

        return SharpReCLClassifier.load_pretrained(path)
    if not _is_pickle_path(path):
        raise ValueError(f"{path} is not a model path: a model is {_MODEL_PATH}.")
    import joblib

    return joblib.load(path)


def _check_model_path(path, usage):
    """A clear error for a MODEL argument that cannot be a model, before loading anything."""
    from .._persistence.saved_model import holds_saved_model

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
    from .._estimators.calora import CALoRAClassifier
    from .._estimators.classifier import SharpReCLClassifier

    return SharpReCLClassifier, CALoRAClassifier


def _is_calora(estimator):
    from .._estimators.calora import CALoRAClassifier

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
