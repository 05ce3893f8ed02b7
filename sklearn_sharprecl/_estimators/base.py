"""What every classifier of this library shares: texts in, labels out of ``predict_proba``."""

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils._set_output import _SetOutputMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted



def _has_transform(estimator):
    return hasattr(estimator, "transform")


class TextClassifierMixin(_SetOutputMixin, ClassifierMixin):
    """``predict`` as the argmax of ``predict_proba``, its log, the tags of a raw-text
    estimator, and scikit-learn's ``set_output`` for a ``transform`` that embeds texts.

    A subclass that defines ``transform`` (text embeddings) gets
    :meth:`get_feature_names_out` and ``set_output(transform='pandas' | 'polars')``,
    as scikit-learn's transformers do; one whose ``net_.module_.classifier`` is the
    linear layer on those embeddings needs nothing more.
    """

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

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities of :meth:`predict_proba`.

        Computed from the class scores as a log-softmax where the classifier
        has them (a multi-label model: each label's log-sigmoid), so a
        probability too small for a float stays a finite log.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_sharprecl import SharpReCLClassifier
        >>> texts = ["what is the capital of france", "who wrote hamlet"] * 20
        >>> clf = SharpReCLClassifier(max_epochs=1, max_length=16, random_state=0)
        >>> clf = clf.fit(texts, ["LOC", "HUM"] * 20)
        >>> log_proba = clf.predict_log_proba(["who painted the mona lisa"])
        >>> log_proba.shape
        (1, 2)
        >>> bool(np.allclose(np.exp(log_proba), clf.predict_proba(["who painted the mona lisa"])))
        True
        """
        log_proba = getattr(self, "_log_proba", None)  # from the scores, where a model has them
        if log_proba is not None:
            return log_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @property
    def _n_features_out(self):
        """Number of features ``transform`` returns: the inputs of the classifier layer."""
        check_is_fitted(self)
        return self.net_.module_.classifier.in_features

    @available_if(_has_transform)
    def get_feature_names_out(self, input_features=None):
        """Names of the embedding dimensions :meth:`transform` returns.

        scikit-learn's names for the new features of a transformer: the
        class name in lower case and the index, e.g. ``sharpreclclassifier0``,
        ``sharpreclclassifier1``, ... They name the columns of the
        DataFrame ``transform`` returns after ``set_output(transform='pandas')``
        (or ``'polars'``), scikit-learn's ``set_output`` API: the estimator's
        own setting, or ``sklearn.set_config(transform_output='pandas')`` for
        every estimator. A one-column DataFrame of texts keeps its index.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored: the embedding dimensions are not functions of named input
            columns. Accepted for scikit-learn's API.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (hidden_size,)

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn_sharprecl import SharpReCLClassifier
        >>> texts = ["what is the capital of france", "who wrote hamlet"] * 20
        >>> clf = SharpReCLClassifier(max_epochs=1, max_length=16, random_state=0)
        >>> clf = clf.fit(texts, ["LOC", "HUM"] * 20)
        >>> clf.get_feature_names_out()[:2].tolist()
        ['sharpreclclassifier0', 'sharpreclclassifier1']
        >>> frame = pd.DataFrame({"text": ["who painted the mona lisa", "where is rome"]},
        ...                      index=["q1", "q2"])
        >>> embeddings = clf.set_output(transform="pandas").transform(frame)
        >>> embeddings.shape, list(embeddings.index)
        ((2, 384), ['q1', 'q2'])
        """
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(self._n_features_out)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
