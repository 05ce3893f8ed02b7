"""sklearn-sharprecl: transformer text classification that keeps minority classes alive."""

from ._calora import CALoRAClassifier, ClassAwareLoRALinear
from ._classifier import SharpReCLClassifier

__version__ = "0.1.0"

__all__ = ["CALoRAClassifier", "ClassAwareLoRALinear", "SharpReCLClassifier", "__version__"]
