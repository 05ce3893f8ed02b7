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

from ._data import read_data
from ._errors import CLIError
from ._main import main
from ._models import load_model, save_model

__all__ = ["CLIError", "load_model", "main", "read_data", "save_model"]
