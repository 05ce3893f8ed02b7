"""What the estimators, the saved-model format and the torch-free ONNX loader share.

The bottom layer of the package: numpy and the standard library only, and no
import of any other module of the package, so that
:mod:`sklearn_sharprecl.deploy` can stand on it without torch, transformers or
scikit-learn. ``tests/shared/test_layers.py`` keeps it so.

- :mod:`.texts`: the input check of every ``fit``/``predict`` text collection.
- :mod:`.scores`: the decision-prior shift (its one definition), and from
  class scores to ``decision_function`` and ``predict_proba``.
- :mod:`.files`: SHA-256 and the versioned configuration of a model directory.

Nothing is imported here: each module is imported by name.
"""
