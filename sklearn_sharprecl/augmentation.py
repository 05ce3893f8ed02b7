"""The second view's augmenters, as ``SharpReCLClassifier(augment=...)`` builds them.

:func:`make_augmenter` turns a preset name (``'wordnet'``, ``'random_swap'``,
``'random_delete'``, ``'contextual:<mlm-path>'``) or a ``(preset, params)``
pair into an object with nlpaug's ``augment(list) -> list``; see the
augmentation guide.
"""

from ._text.augment import make_augmenter

__all__ = ["make_augmenter"]
