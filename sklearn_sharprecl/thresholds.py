"""Per-label decision thresholds of a multi-label model, chosen on validation scores.

A multi-label :class:`~sklearn_sharprecl.SharpReCLClassifier` chooses its
``thresholds_`` with :func:`f1_thresholds` on its validation texts; the same
function gives any other multi-label model (a one-vs-rest scikit-learn
pipeline, say) thresholds chosen the same way, so that two models are
compared on equal terms. Scores may be probabilities or any score that grows
with the label's presence (``decision_function``). This module needs numpy only.

Examples
--------
>>> import numpy as np
>>> from sklearn_sharprecl.thresholds import f1_thresholds
>>> scores = np.array([[0.9, 0.2], [0.6, 0.4], [0.3, 0.1]])
>>> Y = np.array([[1, 0], [1, 1], [0, 0]])
>>> f1_thresholds(scores, Y)
array([0.45, 0.3 ])
"""

from ._shared.thresholds import FALLBACK_THRESHOLD, f1_thresholds

__all__ = ["FALLBACK_THRESHOLD", "f1_thresholds"]
