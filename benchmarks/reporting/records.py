"""The run records written by ``benchmarks/run.py``: loading, indexing, row keys and labels."""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

DATASET_ORDER = ["trec", "cr", "r52", "ohsumed"]
DATASET_NAMES = {"trec": "TREC", "cr": "CR", "r52": "R52", "ohsumed": "Ohsumed",
                 "dblp": "DBLP", "biomedical": "Biomedical"}


#: The fields every run record of ``benchmarks/run.py`` holds, and their types: the one
#: schema the reports read. A record also holds ``accuracy``, ``per_class``, the training
#: counts, the estimator's settings where it has some, and per-split results (``dev``).
RECORD_SCHEMA = {"dataset": str, "imbalance_ratio": (int, type(None)), "method": str, "seed": int,
                 "config": dict, "macro_f1": float, "fit_seconds": float}


def schema_errors(record):
    """What makes ``record`` no run record (empty when it is one)."""
    if not isinstance(record, dict):
        return [f"a {type(record).__name__}, not an object"]
    missing = [name for name in RECORD_SCHEMA if name not in record]
    wrong = [f"{name} is {type(record[name]).__name__}" for name, kind in RECORD_SCHEMA.items()
             if name in record and not isinstance(record[name], kind)]
    return [f"no {name}" for name in missing] + wrong


def read_records(folder):
    """Every run record in ``folder`` (``*.json``, sorted by file name), each checked against
    :data:`RECORD_SCHEMA`, with its file name as ``_file``; a file that is not a run record is
    skipped with a warning. The one loader of the reports."""
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            print(f"warning: skipping {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        errors = schema_errors(record)
        if errors:
            print(f"warning: skipping {path.name}: not a run record ({'; '.join(errors)})", file=sys.stderr)
            continue
        record["_file"] = path.name
        record["_mtime"] = path.stat().st_mtime
        records.append(record)
    return records


def load_runs(runs_dir):
    """The run records of ``runs_dir`` (:func:`read_records`), one per dataset, ratio, method
    and seed: two records of the same run (e.g. after a config change) would make the seeds
    unpaired, so the newest file wins and a warning says so."""
    records = {}
    for rec in read_records(runs_dir):
        key = (rec["dataset"], rec["imbalance_ratio"], rec["method"], rec["seed"])
        if key in records:
            old = records[key]
            print(f"warning: {old['_file']} and {rec['_file']} are the same run; keeping the newer",
                  file=sys.stderr)
            if old["_mtime"] > rec["_mtime"]:
                continue
        records[key] = rec
    return [records[k] for k in sorted(records, key=lambda k: records[k]["_file"])]


def index_runs(records):
    """``{(dataset, ratio): {method: {seed: record}}}``."""
    grid = defaultdict(lambda: defaultdict(dict))
    for rec in records:
        grid[(rec["dataset"], rec["imbalance_ratio"])][rec["method"]][int(rec["seed"])] = rec
    return grid


def row_sort_key(row):
    dataset, ratio = row
    d = DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else len(DATASET_ORDER)
    # ir=50 (hardest) first, then 20, 10, then the original split.
    return (d, dataset, ratio is None, -(ratio or 0))


def rows_of(grid):
    return sorted(grid, key=row_sort_key)


def row_label(row):
    dataset, ratio = row
    return f"{DATASET_NAMES.get(dataset, dataset)} {'org' if ratio is None else f'ir={ratio}'}"


def ratio_slug(ratio):
    return "org" if ratio is None else str(ratio)


def present_methods(grid, rows, candidates):
    """The ``candidates`` that have a record in one of ``rows``, in the candidates' order."""
    found = {m for row in rows for m in grid[row]}
    return [m for m in candidates if m in found]


def all_records(grid, rows=None):
    """Every record of ``rows`` (default: all rows)."""
    rows = rows_of(grid) if rows is None else rows
    return [rec for row in rows for runs in grid.get(row, {}).values() for rec in runs.values()]


def last_failures(log_path, done_keys=()):
    """``{run key: error}`` of the last failed attempt of each run in ``failures.log``
    that has no record (``done_keys``: the stems of the record files)."""
    log = Path(log_path)
    if not log.is_file():
        return {}
    last = {}
    for line in log.read_text().splitlines():
        match = re.match(r"\S+ \S+ (\S+): (.*)", line)
        if match:
            last[match.group(1)] = match.group(2)
    return {key: why for key, why in last.items() if key not in set(done_keys)}


def write_results(results, name, text, out):
    """Write a benchmark's ``results`` as ``<out>/<name>.json`` and its table ``text`` as ``.md``;
    print the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=1))
    (out / f"{name}.md").write_text(text)
    print(text)


def cpu_model():
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` says."""
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        return model
