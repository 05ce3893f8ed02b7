"""The building blocks of SharpReCLClassifier's skorch net, for your own torch or skorch code.

The estimator assembles these; use them directly to put the SharpReCL objective
in another training loop, or to time its parts (``benchmarks/speed.py``)::

    from sklearn_sharprecl.nn import SharpReCLLoss, SharpReCLModule

- :class:`SharpReCLModule`: encoder, classifier, projection and prototype heads.
- :class:`SharpReCLLoss`: ``L_CLS + mu * L_CL`` with the balanced synthetic sets.
- :class:`SharpReCLNet`: the skorch ``NeuralNet`` that trains them.
- :class:`HardMixupContrastiveLoss`, :func:`balanced_synthetic_sets`,
  :func:`make_classification_loss`: the loss's parts.
- :class:`TokenizedTexts`, :class:`PadCollator`, :func:`tokenize`: tokenised
  texts as a dataset, padded per batch; :func:`pool_hidden_states`.
- :func:`quantize_int8`: an int8 copy of a module's linear layers.
"""

from ._network.criterion import SharpReCLLoss
from ._network.loss import HardMixupContrastiveLoss, make_classification_loss
from ._network.module import SharpReCLModule, pool_hidden_states
from ._network.net import SharpReCLNet
from ._network.quantize import quantize_int8
from ._network.sampling import balanced_synthetic_sets
from ._text.data import PadCollator, TokenizedTexts, tokenize

__all__ = [
    "HardMixupContrastiveLoss",
    "PadCollator",
    "SharpReCLLoss",
    "SharpReCLModule",
    "SharpReCLNet",
    "TokenizedTexts",
    "balanced_synthetic_sets",
    "make_classification_loss",
    "pool_hidden_states",
    "quantize_int8",
    "tokenize",
]
