"""Inference of a fitted text-classification net: scores, probabilities, embeddings."""

import functools

import numpy as np
import torch
from sklearn.utils._set_output import _SetOutputMixin  # private: see the class docstring
from sklearn.utils.validation import check_is_fitted

from .._network.build import NetSettings
from .._network.net import SharpReCLNet
from .._text.data import TokenizedTexts, tokenize
from .._shared.scores import decision_scores, log_softmax, softmax
from .._shared.texts import check_texts


class NetInferenceMixin(_SetOutputMixin):
    """:meth:`decision_function`, :meth:`predict_proba`, :meth:`transform` of a fitted ``net_``.

    Needs the fitted ``net_`` and ``tokenizer_`` and the ``max_length``,
    ``truncation`` and ``batch_size`` settings; the decision prior comes from
    :class:`~sklearn_sharprecl._estimators.prior.DecisionPriorMixin`.
    scikit-learn's ``_SetOutputMixin`` wraps the ``transform`` defined here, so
    that ``set_output`` applies to it (it wraps a class's own methods only).
    """

    def _forward(self, X, output):
        """One output of the network (0: logits, 2: pooled features) for each text of ``X``.

        Texts are batched by length and returned in input order. Nothing of
        the estimator or its net is set: the batches come from a local loader.
        """
        check_is_fitted(self)
        dataset, restore = TokenizedTexts([tokenize(self.tokenizer_, check_texts(X), self.max_length, self.truncation)]).sorted_by_length()
        loader = torch.utils.data.DataLoader(dataset, batch_size=self.batch_size, collate_fn=self._collator())
        # SharpReCLNet's own step, also for an Accelerate-trained net: the loader is this
        # process's alone, so nothing is gathered from other processes.
        step = functools.partial(SharpReCLNet.evaluation_step, self.net_)
        parts = [step((inputs, None))[output].cpu() for inputs, _ in loader]
        return torch.cat(parts).numpy()[restore]

    def _log_proba(self, X):
        """What :meth:`predict_log_proba` returns: the log-softmax of :meth:`_scores`."""
        return log_softmax(self._scores(X))

    def _scores(self, X):
        """Log-posterior scores under the decision prior (up to a constant per text)."""
        logits = self._forward(X, 0).astype(np.float64)
        shift = self._prior_shift()
        return logits if shift is None else logits + np.log(shift)

    def decision_function(self, X):
        """Scores whose argmax :meth:`predict` takes, under the decision prior.

        The classifier's logits plus ``log(decision_prior / trained_prior)``:
        log-posteriors up to a constant per text. For two classes, the score
        of ``classes_[1]`` minus that of ``classes_[0]``, as scikit-learn's
        binary classifiers return.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
        """
        return decision_scores(self._scores(X))

    def predict_proba(self, X):
        """Class probabilities under the decision prior.

        With ``classification_loss='logit_adjusted'`` and the default
        ``decision_prior=None`` these estimate the balanced posterior (each
        class equally likely a priori).

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        return softmax(self._scores(X))

    def transform(self, X):
        """Learned sentence embeddings (the encoder's pooled features).

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        embeddings : ndarray of shape (n_samples, hidden_size)
        """
        return self._forward(X, 2)

    def _collator(self):
        settings = NetSettings(self.get_params(), self.encoder_name_, self.tokenizer_, None, self.precision_)
        return settings.collator()

    @property
    def prototypes_(self):
        """L2-normalised class prototypes, shape (n_classes, proj_dim)."""
        check_is_fitted(self)
        with torch.inference_mode():
            return self.net_.module_.prototypes().float().cpu().numpy()
