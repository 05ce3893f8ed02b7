"""Data files of the ``sharprecl`` command: read texts and labels, write tables, check output paths."""

# License: BSD 3 clause

import os
import sys
from pathlib import Path

from ._errors import CLIError, _one_line

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
