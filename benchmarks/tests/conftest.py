"""The benchmark suite's fixtures: the library suite's tiny random encoder and tickets.

Imported rather than written again, so that both suites test on the same
encoder (``python -m pytest`` from the repository root puts it on the path).
"""

from tests.conftest import _torch_threads, tickets, tiny_encoder  # noqa: F401
