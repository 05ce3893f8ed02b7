"""The skorch net of a fit or of a loaded model, configured from the estimator's settings."""

import functools
from dataclasses import dataclass

import torch

from .._text.data import PadCollator, tokenize
from .criterion import SharpReCLLoss
from .device import resolve_device
from .module import SharpReCLModule
from .net import AcceleratedSharpReCLNet, SharpReCLNet
from .user_callbacks import copy_user_callbacks

# Randomly initialised parts of SharpReCLModule (fnmatch patterns, skorch param groups).
_HEAD_PARAMETERS = ("classifier.*", "proj_f.*", "prototype_head.*")

#: The prefixes of routed settings (skorch's convention): each names the part it configures.
ROUTE_PREFIXES = ("module__", "criterion__", "optimizer__", "callbacks__")


def routed_of(params, prefix=""):
    """The routed settings among ``params`` (those starting with ``prefix``, if given)."""
    return {k: v for k, v in params.items() if k.startswith(ROUTE_PREFIXES) and k.startswith(prefix)}


#: Routed settings whose default here differs from the part's own (AdamW's
#: weight decay is 0.01; the paper's, and ours, 5e-4).
NET_DEFAULTS = {"optimizer__weight_decay": 5e-4}


@dataclass(frozen=True)
class NetSettings:
    """What a net is built from: the estimator's parameters and what they resolved to.

    ``params`` holds every parameter of the estimator (``get_params()``); ``contrastive``,
    ``precision`` and ``head_init`` are the resolved choices (never
    ``'auto'``), ``encoder_name`` and ``tokenizer`` the encoder's.
    """

    params: dict
    encoder_name: str
    tokenizer: object
    contrastive: object
    precision: str
    head_init: str = "random"

    def routed(self):
        """The routed settings the net is built with: the user's over :data:`NET_DEFAULTS`."""
        return {**NET_DEFAULTS, **routed_of(self.params)}

    def collator(self):
        params = self.params
        chunk_length = params["max_length"] if params["truncation"] == "chunks" else None
        shared = self.params.get("module__shared_view_layers", 0) > 0
        return PadCollator(self.tokenizer.pad_token_id, chunk_length=chunk_length, share_views=shared)


class HeldOut:
    """A skorch ``train_split`` that validates on a given dataset (skorch's ``predefined_split``),
    kept as ``dataset`` so that a callback can replace its contents (frozen-state caching)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __call__(self, dataset, y=None, groups=None):
        return dataset, self.dataset


def build_net(settings, *, n_classes, class_counts, encoder=None, valid_set=None,
              augmentation=None, train_lengths=None, label_prior=None):
    """The skorch net of ``settings``, not yet initialised.

    ``label_prior`` (each label's training frequency) makes it a multi-label
    net: one sigmoid per label, trained by per-label binary losses, with
    ``class_counts`` the labels' positive counts.

    ``encoder`` replaces the encoder's name (a loaded model passes its saved
    configuration); ``valid_set`` is validated on each epoch; ``augmentation``
    (``(texts, augmenter)``) lets the ``refresh_view`` callback redraw an
    augmented view; ``train_lengths`` drive ``group_by_length``'s sampler.
    """
    params = settings.params
    net_class, placement = SharpReCLNet, {"device": resolve_device(params["device"])}
    if params["accelerate"]:
        from accelerate import Accelerator

        kwargs = params["accelerate"] if isinstance(params["accelerate"], dict) else {}
        net_class = AcceleratedSharpReCLNet
        placement = {"device": None, "accelerator": Accelerator(**kwargs)}
    routed = settings.routed()
    if augmentation is not None:
        texts, augmenter = augmentation
        routed.update({"callbacks__refresh_view__texts": texts,
                       "callbacks__refresh_view__augmenter": augmenter,
                       "callbacks__refresh_view__to_ids": _Tokenize(settings)})
    if train_lengths is not None and params["group_by_length"]:
        # Imported late: transformers' Trainer utilities are slow to import. Not exported
        # at transformers' top level, but in this module since 4.x and still in 5.x; the
        # group_by_length tests run it on the newest versions and at the floors. Its
        # permutation draws from torch's generator, which the fit seeds.
        from transformers.trainer_pt_utils import LengthGroupedSampler

        routed["iterator_train__sampler"] = LengthGroupedSampler(
            params["batch_size"], lengths=train_lengths.tolist())
    head_lr = params["head_lr"]
    param_groups = [] if head_lr is None else [(p, {"lr": head_lr}) for p in _HEAD_PARAMETERS]
    refresh_each_epoch = bool(params.get("callbacks__refresh_view__each_epoch"))
    return net_class(
        module=SharpReCLModule,
        module__encoder=settings.encoder_name if encoder is None else encoder,
        module__n_classes=n_classes,
        criterion=SharpReCLLoss,
        criterion__class_counts=class_counts,
        criterion__classification_loss=params["classification_loss"],
        criterion__contrastive=settings.contrastive,
        criterion__mu=params["mu"],
        criterion__tau=params["tau"],
        criterion__label_prior=label_prior,
        predict_nonlinearity=(torch.sigmoid if label_prior is not None
                              else functools.partial(torch.softmax, dim=-1)),
        multilabel=label_prior is not None,
        optimizer=torch.optim.AdamW,
        optimizer__param_groups=param_groups,
        lr=params["lr"],
        batch_size=params["batch_size"],
        max_epochs=params["max_epochs"],
        train_split=None if valid_set is None else HeldOut(valid_set),
        iterator_train__shuffle=not params["group_by_length"],
        iterator_train__collate_fn=settings.collator(),
        iterator_valid__collate_fn=settings.collator(),
        callbacks=copy_user_callbacks(params["callbacks"]),  # skorch initialises and mutates them
        precision=settings.precision,
        head_init=settings.head_init,
        second_view="dropout" if augmentation is None else "augmented",
        train_layers=params["train_layers"],
        cache_frozen=not (refresh_each_epoch or params["accelerate"]),
        verbose=params["verbose"],
        **placement,
        **routed,
    )


class _Tokenize:
    """Token ids of texts under ``settings`` (picklable, unlike a closure)."""

    def __init__(self, settings):
        self.settings = settings

    def __call__(self, texts):
        params = self.settings.params
        return tokenize(self.settings.tokenizer, texts, params["max_length"], params["truncation"])
