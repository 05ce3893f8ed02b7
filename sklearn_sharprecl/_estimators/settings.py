"""The settings of a fit: checked before anything trains, resolved, and warned about when inert."""

import warnings


from .._network.build import NetSettings, routed_of
from .._network.device import resolve_device, resolve_precision
from .._network.multilabel_loss import MULTILABEL_LOSSES
from .._text.encoder import check_max_length, load_tokenizer, resolve_encoder
from ..auto import resolve_contrastive
from .routing import SHARP_ONLY, check_routed_values


def check_settings(params, estimator_name):
    """Refuse routed values and combinations of settings that training would fail on."""
    check_routed_values(routed_of(params), estimator_name)
    if params["accelerate"] and params["head_init"] == "linear_probe":
        # Each process would probe its own shard and start from another head.
        raise ValueError("head_init='linear_probe' is not supported with accelerate; use "
                         "head_init='random' or train without accelerate.")
    if params["accelerate"] and params["precision"] == "bf16":
        raise ValueError("With accelerate, set mixed precision through the Accelerator, e.g. "
                         "accelerate={'mixed_precision': 'bf16'}, and leave precision='auto'.")
    if params["train_layers"] is not None and params.get("module__shared_view_layers"):
        raise ValueError(
            "module__shared_view_layers cannot be combined with train_layers: the frozen "
            "lower blocks draw no dropout, so the two views already share them.")


def check_multilabel_settings(params):
    """Refuse the settings a multi-label ``y`` cannot train or decide with."""
    if params["classification_loss"] not in MULTILABEL_LOSSES:
        raise ValueError(f"classification_loss={params['classification_loss']!r} is single-label; "
                         "with a multi-label y use 'logit_adjusted' (per-label logit-adjusted "
                         "binary cross-entropy) or 'cross_entropy' (plain binary cross-entropy).")
    if params["contrastive"] not in ("auto", None):
        raise ValueError(f"contrastive={params['contrastive']!r}: the contrastive branch is "
                         "single-label for now; with a multi-label y use contrastive=None (or "
                         "'auto', which resolves to None).")
    if params["decision_prior"] is not None:
        raise ValueError("decision_prior is single-label: a multi-label model decides by its "
                         "per-label thresholds_ (chosen on the validation texts); leave "
                         "decision_prior=None.")


def resolve_settings(params, n_classes, *, has_aug_texts=False, has_validation_set=False,
                     multilabel=False):
    """The :class:`NetSettings` of a fit on data with ``n_classes`` classes (labels, for a
    multi-label ``y``), with the choices ``'auto'`` makes.

    The tokenizer is loaded here, so a wrong encoder or ``max_length`` fails
    before training.
    """
    if has_validation_set and params["validation_fraction"] is not None:
        warnings.warn("X_val and y_val are given: validation_fraction is not used.", UserWarning,
                      stacklevel=4)
    # The branch is single-label: 'auto' has none for a multi-label y.
    contrastive = None if multilabel else resolve_contrastive(params["contrastive"], n_classes)
    warn_inert_settings(params, contrastive, has_aug_texts=has_aug_texts,
                        has_valid=has_validation_set or params["validation_fraction"] is not None)
    # With Accelerate, mixed precision is the Accelerator's: our autocast stays off.
    precision = "fp32" if params["accelerate"] else resolve_precision(
        params["precision"], resolve_device(params["device"]))
    encoder_name = resolve_encoder(params["encoder"])
    trust = params.get("module__trust_remote_code", False)
    tokenizer = load_tokenizer(encoder_name, trust)
    check_max_length(params["max_length"], encoder_name, tokenizer, trust)
    return NetSettings(params, encoder_name, tokenizer, contrastive, precision)


def second_view_of(params, contrastive, has_aug_texts):
    """How the training texts' second view is made (see ``training_datasets``)."""
    if not _uses_two_views(params, contrastive, has_aug_texts):
        return None
    if has_aug_texts:
        return "given"
    if needs_no_augmenter(params["augment"]):  # same ids, different dropout noise
        return "same"
    augment = params["augment"]

    def make(seed):
        # Imported late: augmentation pulls in nlpaug, which the default view never needs.
        from .._text.augment import make_augmenter

        return make_augmenter(augment, random_state=seed)

    return make


def needs_no_augmenter(augment):
    """Whether ``augment`` makes no text of its own (the dropout view, or no second view)."""
    return augment is None or (isinstance(augment, str) and augment == "dropout")


def _has_branch(params, contrastive):
    return contrastive is not None and params["mu"] > 0


def _uses_two_views(params, contrastive, has_aug_texts):
    return _has_branch(params, contrastive) and (params["augment"] is not None or has_aug_texts)


def warn_inert_settings(params, contrastive, *, has_aug_texts, has_valid):
    """Warn about every setting the others leave without effect."""
    two_views = _uses_two_views(params, contrastive, has_aug_texts)
    routed = routed_of(params)
    inert = []
    if not (contrastive == "sharp" and params["mu"] > 0):
        inert += [name for name in routed if name in SHARP_ONLY]
    if not has_valid:
        inert += list(routed_of(routed, "callbacks__early_stopping"))
    if params["head_init"] == "random":
        inert += list(routed_of(routed, "callbacks__head_init"))
    if not two_views or needs_no_augmenter(params["augment"]) or has_aug_texts:
        inert += list(routed_of(routed, "callbacks__refresh_view"))
    if not two_views or params["augment"] != "dropout" or has_aug_texts:
        inert += list(routed_of(routed, "module__shared_view_layers"))
    if not _has_branch(params, contrastive):
        inert += ["X_aug"] if has_aug_texts else []
        inert += [] if needs_no_augmenter(params["augment"]) else ["augment"]
    if inert:
        resolved = "" if contrastive == params["contrastive"] else f" (resolved to {contrastive!r})"
        warnings.warn(
            f"{', '.join(inert)} {'has' if len(inert) == 1 else 'have'} no effect with "
            f"contrastive={params['contrastive']!r}{resolved}, mu={params['mu']}, "
            f"validation_fraction={params['validation_fraction']!r}, head_init={params['head_init']!r} "
            f"and augment={params['augment']!r}.", UserWarning, stacklevel=5)


