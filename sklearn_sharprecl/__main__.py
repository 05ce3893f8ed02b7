"""``python -m sklearn_sharprecl``: the ``sharprecl`` command."""

from .cli import main

raise SystemExit(main())
