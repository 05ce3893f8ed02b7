"""``save_pretrained`` / ``load_pretrained``: a fitted estimator to files and back, without pickle."""

from pathlib import Path

import torch
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from .._network.build import NetSettings, build_net
from .._network.device import resolve_device, resolve_precision
from .saved_model import read_saved_model, warn_on_version_mismatch, write_saved_model


def _checked_estimator(cls, params, config_file):
    """``cls(**params)``, its settings checked as ``fit`` checks them, errors naming ``config_file``."""
    try:
        estimator = cls(**params)
    except TypeError as exc:  # a setting that is no parameter of cls
        raise ValueError(f"{config_file} holds an unknown setting: {exc}") from exc
    try:
        estimator._validate_params()  # the estimator's own constraints, routed values included
    except (InvalidParameterError, ValueError) as exc:
        raise ValueError(f"{config_file} holds an invalid setting, refusing to load the model: "
                         f"{exc}") from exc
    return estimator


class PretrainedMixin:
    """Saving and loading for an estimator whose fitted state is its skorch net and tokenizer.

    Loading rebuilds the net from the saved settings and weights alone; pickling
    (joblib) warns, as loading the files does, when the saving library
    versions differ from these.
    """

    def save_pretrained(self, directory):
        """Save the fitted model without pickle: safetensors weights + JSON.

        Loading it back (:meth:`load_pretrained`) executes no code from the
        files. Parameters that are objects (``callbacks``, an augmenter, a
        RandomState) are saved as their defaults. The fine-tuned encoder and
        its tokenizer are written in the transformers layout in ``encoder/``
        (``transformers.AutoModel.from_pretrained(directory / "encoder")``
        loads them without this package), and a model card, ``README.md``, is
        generated from the saved configuration and history.

        The model is written into a new folder beside ``directory`` and
        swapped in by renames once every file is written: a save that fails
        leaves ``directory`` as it was.

        Parameters
        ----------
        directory : str or path-like
            Created if needed. It must be new, empty, or hold a saved model,
            which is replaced (other files in it, such as notes or a README
            of your own, are kept); anything else raises ``FileExistsError``.

        Returns
        -------
        directory : pathlib.Path
        """
        check_is_fitted(self)
        return write_saved_model(self, directory)

    @classmethod
    def load_pretrained(cls, directory, device=None):
        """Load a model written by :meth:`save_pretrained`.

        The files are checked against the SHA-256 recorded at save time: a
        truncated or modified file raises ``ValueError``. A model saved under
        other library versions loads with a ``UserWarning``.

        Parameters
        ----------
        directory : str or path-like
        device : str, default=None
            Device to load onto; ``None`` keeps the saved ``device`` setting,
            falling back to CPU when it names CUDA and none is present.

        Returns
        -------
        estimator : SharpReCLClassifier
        """
        saved = read_saved_model(directory)
        estimator = _checked_estimator(cls, saved.params, Path(directory) / "config.json")
        if device is not None or (estimator.device not in ("auto", "cpu") and not torch.cuda.is_available()):
            estimator.set_params(device=device or "cpu")
        fitted = saved.fitted
        try:
            estimator._check_decision_prior(len(fitted["classes"]))  # its length depends on the classes
        except ValueError as exc:
            raise ValueError(f"{Path(directory) / 'config.json'} holds an invalid setting: {exc}") from exc
        params = estimator.get_params()
        settings = NetSettings(
            params, fitted["encoder_name"], fitted["tokenizer"],
            fitted["contrastive"], resolve_precision(fitted["precision"], resolve_device(params["device"])),
            fitted["head_init"])
        net = build_net(settings, n_classes=len(fitted["classes"]), class_counts=fitted["class_counts"],
                        encoder=fitted["encoder"], label_prior=fitted.get("label_prior"))
        net.initialize()
        try:
            net.module_.load_state_dict({k: v.to(net.device) for k, v in fitted["state"].items()}, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{directory}: the weights do not fit the saved configuration: {exc}") from exc
        net.history = fitted["history"]
        vars(estimator).update(
            classes_=fitted["classes"], class_counts_=fitted["class_counts"],
            encoder_name_=settings.encoder_name, tokenizer_=settings.tokenizer,
            versions_=fitted["versions"], head_init_=settings.head_init,
            contrastive_=settings.contrastive, precision_=settings.precision, net_=net)
        if fitted.get("thresholds") is not None:  # a multi-label model
            vars(estimator).update(thresholds_=fitted["thresholds"], label_prior_=fitted["label_prior"])
        return estimator

    def __setstate__(self, state):
        super().__setstate__(state)
        # scikit-learn warns about its own version in BaseEstimator.__setstate__.
        saved = {k: v for k, v in state.get("versions_", {}).items() if k != "scikit-learn"}
        warn_on_version_mismatch(saved)
