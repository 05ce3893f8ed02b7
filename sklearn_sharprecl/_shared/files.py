"""File checks shared by the saved-model and the ONNX-export formats (standard library only)."""

import hashlib


def sha256(path):
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_format_config(path, fmt, version, what):
    """The JSON configuration at ``path``, checked to be of format ``fmt`` at a version up to
    ``version``; ``what`` names the thing for the errors (e.g. "saved model")."""
    import json

    if not path.is_file():
        raise FileNotFoundError(f"No {what} in {path.parent}: {path.name} is missing.")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); the file is damaged.") from exc
    if not isinstance(config, dict) or config.get("format") != fmt:
        raise ValueError(f"{path} is not a {fmt} configuration.")
    if config.get("format_version", 0) > version:
        raise ValueError(f"{path.parent} holds format version {config['format_version']}; this "
                         f"sklearn-sharprecl reads up to {version}. Upgrade the library.")
    return config


def json_default(value):
    """``default=`` for :func:`json.dumps`: numpy scalars and arrays as their Python values.

    Anything with ``tolist()`` (numpy scalars and arrays, torch tensors) is
    written as that; other objects raise ``TypeError`` as ``json`` does.
    """
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _default_mode():
    """The permissions ``mkdir`` gives a new directory (``mkdtemp`` gives 0o700)."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _copy_entry(entry, target):
    """Copy a file, folder or link ``entry`` to ``target`` (replacing what is there)."""
    import shutil

    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    if entry.is_dir() and not entry.is_symlink():
        shutil.copytree(entry, target, symlinks=True)
    else:
        shutil.copy2(entry, target, follow_symlinks=False)


def write_directory_atomically(directory, write, *, holds, is_own, what, verb="save"):
    """Write a model directory through a sibling folder swapped in by renames.

    ``write(folder)`` writes every file of the model into a new, empty
    folder next to ``directory``. Only once it has returned is that folder
    renamed to ``directory``; if it raises, the folder is removed and
    ``directory`` is left exactly as it was.

    ``directory`` must be new, empty, or hold a model of this kind
    (``holds(directory)`` is true); anything else raises ``FileExistsError``
    before anything is written. The entries of an existing model directory
    for which ``is_own(entry)`` is false (a user's notes, a README) are
    copied into the new folder before the swap, so they are kept.

    The swap is two renames (the old directory aside, the new one in its
    place), then the old directory is deleted. The target is missing only
    between the two renames; a process killed during the write leaves a
    ``.<name>.*.tmp`` folder beside the target and the target as it was.

    Parameters
    ----------
    directory : str or path-like
    write : callable
        ``write(folder)``, with ``folder`` a new empty :class:`pathlib.Path`.
    holds : callable
        ``holds(directory)``: whether an existing, non-empty directory holds a
        model that may be replaced.
    is_own : callable
        ``is_own(entry)``: whether an entry of an existing model directory
        belongs to the model (replaced) rather than to the user (kept).
    what : str
        The kind of model, for the errors (e.g. ``"saved model"``).
    verb : str, default="save"
        The action, for the errors (e.g. ``"export"``).

    Returns
    -------
    directory : pathlib.Path
    """
    import os
    import shutil
    import tempfile
    from pathlib import Path

    directory = Path(directory)
    if directory.is_symlink() and directory.is_dir():
        directory = directory.resolve()  # replace the folder the link points to, keep the link
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"Cannot {verb} a model to {directory}: it exists and is a file.")
    existing = directory.is_dir()
    if existing and any(directory.iterdir()) and not holds(directory):
        raise FileExistsError(f"Cannot {verb} a model to {directory}: the directory is not empty and "
                              f"holds no {what}. Choose a new or empty directory.")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        write(tmp)
        if existing:
            if any(directory.iterdir()) and not holds(directory):  # changed during the write
                raise FileExistsError(f"Cannot {verb} a model to {directory}: it no longer holds a "
                                      f"{what}.")
            for entry in directory.iterdir():
                if not is_own(entry):
                    _copy_entry(entry, tmp / entry.name)
            shutil.copymode(directory, tmp)
            holder = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".old",
                                           dir=directory.parent))
            os.replace(directory, holder / "previous")
            try:
                os.replace(tmp, directory)
            except BaseException:
                os.replace(holder / "previous", directory)  # put the previous model back
                holder.rmdir()
                raise
            shutil.rmtree(holder, ignore_errors=True)
        else:
            os.chmod(tmp, _default_mode())
            os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory
