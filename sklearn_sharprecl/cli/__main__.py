"""``python -m sklearn_sharprecl.cli``: the ``sharprecl`` command."""

from ._main import main

raise SystemExit(main())
