"""Pip constraints that pin each direct dependency to the floor pyproject.toml declares.

    python .ci/floors.py [EXTRA ...] > floors.txt
    pip install -c floors.txt -e ".[EXTRA,...]"

One line ``name==floor`` for every requirement of ``[project] dependencies`` and of
the extras named, the floor being the version of its ``>=`` (or ``==``, ``~=``)
bound. A package named twice (numpy, in the dependencies and the onnx extra) gets the
higher of its floors, the one that a full install must satisfy. pyproject.toml stays
the one place where the floors are written; ``make test-floors`` installs them.
"""

import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def floors(extras=(), pyproject=PYPROJECT):
    """``{name: floor}`` of the direct dependencies and of ``extras``."""
    project = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"no such extra in {pyproject}: {', '.join(unknown)}")
    lines = list(project["dependencies"]) + [r for extra in extras for r in optional[extra]]
    pins = {}
    for line in lines:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate():
            continue
        bounds = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
        if not bounds:
            raise SystemExit(f"{line!r} in {pyproject} declares no floor (>=)")
        name = canonicalize_name(req.name)
        pins[name] = max([max(bounds)] + ([pins[name]] if name in pins else []))
    return pins


def main(argv=None):
    extras = sys.argv[1:] if argv is None else argv
    for name, floor in sorted(floors(extras).items()):
        print(f"{name}=={floor}")


if __name__ == "__main__":
    main()
