"""What every classifier of this library shares: texts in, labels out of ``predict_proba``."""

import numpy as np
from sklearn.base import ClassifierMixin


class TextClassifierMixin(ClassifierMixin):
    """``predict`` as the argmax of ``predict_proba``, and the tags of a raw-text estimator."""

    def predict(self, X):
        """Most probable class of each text.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
