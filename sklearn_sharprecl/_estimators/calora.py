"""Class-aware LoRA expert routing on a frozen classification head (CALoRA).

Zhu, Wei and Cai, "Adaptive Fine-Tuning for Class Imbalance in NLP", Section 3.
A frozen linear layer ``W0`` gets one rank-``r`` LoRA expert per class; each
input uses only the experts of the classes the frozen layer itself ranks in its
top ``k`` (Eq. 4):

    h = W0 x + B M(x) A x,   A in R^{(C r) x d},  B in R^{d_out x (C r)},

with ``M(x)`` the block-diagonal 0/1 mask that keeps the ``r`` rows of ``A``
(columns of ``B``) of each top-``k`` class of ``W0 x``. The paper puts the
experts on the final classification layer only ("Routing at the Final Layer"),
which is what :class:`CALoRAClassifier` does: the encoder stays frozen, so the
pooled features of the training texts are computed once and only ``A`` and
``B`` are trained, on those cached features.
"""

import copy
import functools
import math
from numbers import Integral, Real

import numpy as np
import torch
# Private scikit-learn names on purpose: see the note in classifier.py.
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state, check_scalar
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from torch import nn
from torch.nn import functional as F

from .._network.loss import make_classification_loss
from .._network.seeding import seeded_torch
from .._shared.scores import decision_scores
from .._shared.texts import check_texts
from .._text.multilabel import is_label_lists, is_multilabel
from .._text.validation import check_labels
from .base import TextClassifierMixin
from .multilabel import is_multilabel_model


class ClassAwareLoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus one LoRA expert per class, routed by its own top-k.

    ``forward(x) = W0 x + b + scaling * B (M(x) * (A x))`` (paper Eq. 4), where
    ``W0, b`` are the weight and bias of ``base`` (frozen: their
    ``requires_grad`` is set to False), ``A`` of shape ``(C * rank, in_features)``
    and ``B`` of shape ``(out_features, C * rank)`` hold ``C`` rank-``rank``
    blocks, one per expert, and ``M(x)`` keeps the blocks of the ``top_k``
    largest entries of the base output ``base(x)``. So ``C`` is
    ``base.out_features``: the layer is meant to be a classification head whose
    outputs are class logits (the paper's "Routing at the Final Layer"); the
    routing is the base model's own prediction, computed in the same forward
    pass (no separate router, no second pass). ``top_k=1`` is the paper's
    pseudo-label routing (Eq. 3).

    The routing is not differentiable and depends on the frozen ``W0`` only, so
    an input always uses the same experts, in training and at inference.

    ``B`` starts at zero, so a freshly built layer returns exactly
    ``base(x)``; ``A`` starts as in LoRA (Kaiming-uniform, ``a=sqrt(5)``).

    Parameters
    ----------
    base : torch.nn.Linear
        The layer to adapt. It is wrapped as is (not copied) and frozen; pass
        ``copy.deepcopy(layer)`` to keep the original trainable.
    rank : int, default=8
        Rank ``r`` of each class's expert.
    top_k : int, default=2
        Number of experts (classes) each input uses, ``1 <= top_k <= C``.
    alpha : float or None, default=None
        LoRA scaling: the update is multiplied by ``alpha / rank``. ``None``
        means ``alpha = rank`` (scaling 1, the paper's Eq. 4 as printed).

    Attributes
    ----------
    lora_A : torch.nn.Parameter of shape (n_experts * rank, in_features)
    lora_B : torch.nn.Parameter of shape (out_features, n_experts * rank)
    n_experts : int
        ``C = base.out_features``.
    scaling : float

    Notes
    -----
    Inputs may have any leading shape ``(..., in_features)`` (e.g. token
    states of shape ``(batch, seq, hidden)``). Cost over the base layer: two
    matmuls of size ``C * rank`` and a ``top_k``; for a head this is negligible
    next to the encoder.
    """

    def __init__(self, base, rank=8, top_k=2, alpha=None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}.")
        rank = int(check_scalar(rank, "rank", Integral, min_val=1))
        top_k = int(check_scalar(top_k, "top_k", Integral, min_val=1))
        n_experts = base.out_features
        if top_k > n_experts:
            raise ValueError(
                f"top_k={top_k} is larger than the number of classes (experts) "
                f"{n_experts} of the base layer; use 1 <= top_k <= {n_experts}."
            )
        if alpha is not None:
            check_scalar(alpha, "alpha", Real, min_val=0, include_boundaries="neither")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.rank = rank
        self.top_k = top_k
        self.alpha = alpha
        self.n_experts = n_experts
        self.scaling = 1.0 if alpha is None else float(alpha) / rank
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(n_experts * rank, base.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, n_experts * rank, **factory))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    @property
    def in_features(self):
        return self.base.in_features

    @property
    def out_features(self):
        return self.base.out_features

    def _topk(self, base_out):
        return base_out.detach().topk(self.top_k, dim=-1).indices

    def mask_from_indices(self, indices):
        """The ``(..., C * rank)`` 0/1 diagonal of ``M`` for expert ``indices`` of shape ``(..., k)``."""
        classes = torch.zeros(
            *indices.shape[:-1], self.n_experts, dtype=self.lora_A.dtype, device=indices.device
        )
        classes.scatter_(-1, indices, 1.0)
        return classes.repeat_interleave(self.rank, dim=-1)

    @torch.no_grad()
    def route(self, x):
        """Experts used by each input: the top-k classes of ``base(x)``, shape ``(..., top_k)``.

        Sorted by decreasing base logit; ``route(x)[..., 0]`` is the base
        model's prediction.
        """
        return self._topk(self.base(x))

    @torch.no_grad()
    def routing_mask(self, x):
        """Diagonal of the routing mask ``M(x)``, shape ``(..., n_experts * rank)``."""
        return self.mask_from_indices(self.route(x))

    def forward(self, x):
        base_out = self.base(x)
        mask = self.mask_from_indices(self._topk(base_out))
        delta = F.linear(F.linear(x, self.lora_A) * mask, self.lora_B)
        if self.scaling != 1.0:
            delta = delta * self.scaling
        return base_out + delta

    def n_trainable_parameters(self):
        """Number of trainable parameters (``A`` and ``B``)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"n_experts={self.n_experts}, rank={self.rank}, top_k={self.top_k}, "
            f"scaling={self.scaling:g}"
        )


def _base_head(base):
    """The fitted base's classification layer (``net_.module_.classifier``)."""
    module = getattr(getattr(base, "net_", None), "module_", None)
    head = getattr(module, "classifier", None)
    if not isinstance(head, nn.Linear):
        raise TypeError(
            "estimator must be a SharpReCLClassifier (or expose a fitted skorch "
            "net_ whose module_.classifier is a torch.nn.Linear and a transform(X) "
            f"method returning the features that classifier reads); got {type(base).__name__}."
        )
    return head


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


class CALoRAClassifier(TextClassifierMixin, BaseEstimator):
    """Class-aware LoRA experts on the head of a SharpReCL classifier (CALoRA).

    Two-stage fine-tuning for imbalanced classes (Zhu et al., "Adaptive
    Fine-Tuning for Class Imbalance in NLP", Section 3). The classification
    layer ``W0`` of a fitted base model gets one rank-``rank`` LoRA expert per
    class; each text uses only the experts of the ``top_k`` classes the base
    model itself predicts for it (paper Eq. 4), see :class:`ClassAwareLoRALinear`::

        logits(x) = W0 f(x) + b + B M(f(x)) A f(x)

    with ``f(x)`` the base encoder's pooled features.

    Stage 1 (the base model). If ``estimator`` is None a
    ``SharpReCLClassifier()`` is used. An unfitted base is cloned and the clone
    is fitted on ``(X, y)``: everything the base trains (its encoder and
    heads) is trained here. A fitted base is used as is and never modified:
    nothing of it is trained, the head is deep-copied before it is wrapped.

    Stage 2 (the experts). The base stays frozen; only ``A`` (shape
    ``(C * rank, hidden)``) and ``B`` (shape ``(C, C * rank)``) are trained,
    ``C * rank * (hidden + C)`` parameters. As the encoder is frozen, the
    pooled features of the training texts are computed once, by the base in
    evaluation mode (no dropout), and the experts are trained on that cached
    feature matrix by a skorch ``NeuralNetClassifier`` (AdamW, weight decay
    0.01, shuffled mini-batches, no validation split). An epoch of stage 2
    costs a few milliseconds; the one encoder pass over the training texts
    dominates it.

    Inference: base features, then the wrapped head, then softmax.

    Parameters
    ----------
    estimator : SharpReCLClassifier or None, default=None
        The base model (see Stage 1). ``None`` uses
        ``SharpReCLClassifier(random_state=...)`` seeded from ``random_state``.
        Note that :func:`sklearn.base.clone` (and so ``GridSearchCV`` and
        ``cross_validate``) replaces a fitted base by an unfitted clone, which
        is then refitted; wrap a fitted base in
        :class:`sklearn.frozen.FrozenEstimator` to keep it through cloning
        (and mind that it has then seen every cross-validation fold).
    rank : int, default=8
        Rank of each class's expert (paper: 8 for CoNLL-2003, 1 for
        CIFAR-10-LT; its ablation peaks at 4).
    top_k : int, default=2
        Experts per text: the base's ``top_k`` most probable classes
        (``1 <= top_k <= n_classes``; 1 is pseudo-label routing). The paper
        uses 2, and finds the best ``k`` close to the average rank of the true
        class among the base's predictions for minority classes.
    lr : float, default=1e-3
        AdamW learning rate of stage 2.
    max_epochs : int, default=20
        Stage-2 epochs over the cached features.
    batch_size : int, default=64
        Stage-2 mini-batch size (also the batch size of the head at inference).
    classification_loss : {'logit_adjusted', 'cross_entropy', 'focal', 'dice'}, \
            default='logit_adjusted'
        Stage-2 loss on the adapted logits. ``'logit_adjusted'`` is
        ``CE(logits + log pi, y)`` with the stage-2 class prior ``pi``, the
        loss SharpReCL's head is trained with by default, so that the raw
        logits keep estimating the balanced posterior.
    random_state : int, RandomState instance or None, default=None
        Seeds the default base, the initialisation of ``A`` and the batch
        order of stage 2.
    verbose : int, default=0
        ``>0`` prints skorch's per-epoch log of stage 2.

    Attributes
    ----------
    estimator_ : SharpReCLClassifier
        The fitted base: the fitted clone, or the given fitted base itself
        (kept by reference, not modified; refitting it afterwards changes
        this model's features).
    classes_ : ndarray of shape (n_classes,)
        The base's classes.
    class_counts_ : ndarray of shape (n_classes,)
        Stage-2 training examples per class (the prior of the loss).
    head_ : ClassAwareLoRALinear
        The fitted head: a frozen copy of the base's classifier with the
        trained experts.
    net_ : skorch.NeuralNetClassifier
        The stage-2 net (``net_.history`` holds its per-epoch loss and
        duration).
    n_trainable_parameters_ : int
        Parameters trained in stage 2: ``C * rank * (hidden + C)``.

    Examples
    --------
    >>> from sklearn_sharprecl import CALoRAClassifier, SharpReCLClassifier
    >>> from sklearn_sharprecl.datasets import make_support_tickets
    >>> X, y = make_support_tickets(n_samples=120, random_state=0)
    >>> base = SharpReCLClassifier(max_epochs=1, random_state=0)
    >>> clf = CALoRAClassifier(base, rank=4, top_k=2, max_epochs=2, random_state=0).fit(X, y)
    >>> clf.predict(["my parcel never arrived"]).shape
    (1,)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "transform", "predict_proba"]), None],
        "rank": [Interval(Integral, 1, None, closed="left")],
        "top_k": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "classification_loss": [
            StrOptions({"logit_adjusted", "cross_entropy", "focal", "dice"})
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        rank=8,
        top_k=2,
        lr=1e-3,
        max_epochs=20,
        batch_size=64,
        classification_loss="logit_adjusted",
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.rank = rank
        self.top_k = top_k
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.classification_loss = classification_loss
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Fit the base if needed (stage 1), then the class experts (stage 2).

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)
            Training texts.
        y : array-like of shape (n_samples,)
            Labels; with a fitted base they must be among its ``classes_``.

        Returns
        -------
        self : CALoRAClassifier
        """
        given = self.estimator
        texts = check_texts(X)
        if is_multilabel(y) or is_label_lists(y) or is_multilabel_model(given):
            raise ValueError("CALoRAClassifier is single-label: its class experts are chosen among "
                             "exclusive classes. For multi-label y use SharpReCLClassifier.")
        y = check_labels(y, len(texts))
        rng = check_random_state(self.random_state)
        base_seed, head_seed = rng.randint(2**31 - 1, size=2)

        # Stage 1.
        if given is None:
            from .classifier import SharpReCLClassifier

            base = SharpReCLClassifier(random_state=int(base_seed)).fit(texts, y)
        elif _is_fitted(given):
            base = given
        else:
            base = clone(given).fit(texts, y)
        head = copy.deepcopy(_base_head(base)).float().cpu()
        classes = np.asarray(base.classes_)
        if self.top_k > len(classes):
            raise ValueError(
                f"top_k={self.top_k} is larger than the number of classes "
                f"{len(classes)} of the base estimator; use 1 <= top_k <= {len(classes)}."
            )
        known = np.isin(y, classes)
        if not known.all():
            raise ValueError(
                "y contains labels the fitted base estimator does not know, e.g. "
                f"{y[~known].tolist()[0]!r}; its classes are {classes.tolist()}."
            )
        y_enc = np.searchsorted(classes, y)

        # Stage 2: frozen encoder -> the features are fixed, compute them once.
        features = np.asarray(base.transform(texts), dtype=np.float32)
        self.estimator_ = base
        self.classes_ = classes
        self.class_counts_ = np.bincount(y_enc, minlength=len(classes))
        with seeded_torch(head_seed):
            self._fit_head(head, features, y_enc, classes)
        return self

    def _fit_head(self, head, features, y_enc, classes):
        """Stage 2: train the experts of ``head`` on the frozen ``features``."""
        module = ClassAwareLoRALinear(head, rank=self.rank, top_k=self.top_k)
        self.net_ = self._build_net(module, len(classes))
        self.net_.fit(features, y_enc.astype(np.int64))
        self.head_ = self.net_.module_
        self.head_.eval()
        self.n_trainable_parameters_ = self.head_.n_trainable_parameters()

    def _build_net(self, module, n_classes):
        """The stage-2 skorch net around the head ``module`` (``class_counts_`` set)."""
        return NeuralNetClassifier(
            module=module,
            criterion=make_classification_loss(self.classification_loss, self.class_counts_),
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            iterator_train__shuffle=True,
            classes=np.arange(n_classes),
            predict_nonlinearity=functools.partial(torch.softmax, dim=-1),
            device="cpu",
            verbose=self.verbose,
        )

    # ---------------------------------------------------------- persistence
    def save_pretrained(self, directory):
        """Save the fitted model without pickle: safetensors weights + JSON.

        The directory holds the head (the frozen copy of the base's classifier
        and the experts) in ``head.safetensors``, the stage-2 history, and the
        base in ``base/``, in the format of
        :meth:`SharpReCLClassifier.save_pretrained`; every file loaded is
        checked against a SHA-256 recorded at save time. The model is written
        into a new folder beside ``directory`` and swapped in once complete,
        so a failed save leaves ``directory`` as it was. A ``RandomState``
        given as ``random_state`` is saved as None.

        Parameters
        ----------
        directory : str or path-like
            Created if needed. It must be new, empty, or hold a saved CALoRA
            model, which is replaced (other files in it are kept); anything
            else raises ``FileExistsError``.

        Returns
        -------
        directory : pathlib.Path
        """
        from .._persistence.calora_model import write_calora_model

        check_is_fitted(self)
        return write_calora_model(self, directory)

    @classmethod
    def load_pretrained(cls, directory, device=None):
        """Load a model written by :meth:`save_pretrained`.

        Runs no code from the files. The loaded ``estimator`` parameter is an
        unfitted copy of the base (its settings), or None when the model was
        fitted with ``estimator=None``: fitting the loaded model again fits a
        new base, as fitting the original would have.

        Parameters
        ----------
        directory : str or path-like
        device : str, default=None
            Device of the base (the head runs on the CPU); ``None`` keeps the
            saved setting, as :meth:`SharpReCLClassifier.load_pretrained`.

        Returns
        -------
        estimator : CALoRAClassifier
        """
        from pathlib import Path

        from .._persistence.calora_model import read_calora_model
        from .._persistence.pretrained import _checked_estimator
        from .classifier import SharpReCLClassifier

        directory = Path(directory)
        saved = read_calora_model(directory)
        config = saved.config
        base = SharpReCLClassifier.load_pretrained(directory / "base", device=device)
        params = dict(config["params"])
        params["estimator"] = None if params.get("estimator") is None else clone(base)
        estimator = _checked_estimator(cls, params, directory / "config.json")
        shape = config["head"]
        linear = nn.Linear(shape["in_features"], shape["out_features"],
                           dtype=getattr(torch, shape.get("dtype", "float32")))
        with torch.random.fork_rng(devices=[]):  # the experts' initialisation is overwritten
            head = ClassAwareLoRALinear(linear, rank=shape["rank"], top_k=shape["top_k"],
                                        alpha=shape["alpha"])
        try:
            head.load_state_dict(saved.state, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{directory}: the head's weights do not fit the saved configuration: "
                             f"{exc}") from exc
        classes = np.asarray(config["classes"], dtype=np.dtype(config["classes_dtype"]))
        if classes.tolist() != base.classes_.tolist() or len(classes) != head.out_features:
            raise ValueError(f"{directory / 'config.json'}: the classes do not match the base's; the "
                             "configuration was modified.")
        vars(estimator).update(estimator_=base, classes_=classes,
                               class_counts_=np.asarray(config["class_counts"]))
        net = estimator._build_net(head, len(classes))
        net.initialize()
        net.history = saved.history
        head.eval()
        vars(estimator).update(net_=net, head_=net.module_,
                               n_trainable_parameters_=head.n_trainable_parameters())
        return estimator

    # ------------------------------------------------------------ inference
    def decision_function(self, X):
        """Adapted logits (before softmax), whose argmax :meth:`predict` takes.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, the logit of ``classes_[1]`` minus that of
            ``classes_[0]``, as scikit-learn's binary classifiers (and
            SharpReCLClassifier) return: its scorers, such as ``'roc_auc'``,
            read a binary decision function as one score per text.
        """
        check_is_fitted(self)
        features = np.asarray(self.estimator_.transform(X), dtype=np.float32)
        with torch.inference_mode():
            logits = self.head_.eval()(torch.from_numpy(features)).numpy()
        return decision_scores(logits)

    def predict_proba(self, X):
        """Class probabilities: softmax of the adapted logits.

        Parameters
        ----------
        X : sequence of str of shape (n_samples,)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        features = np.asarray(self.estimator_.transform(X), dtype=np.float32)
        return self.net_.predict_proba(features)

    def route(self, X):
        """Classes whose experts each text uses, shape (n_samples, top_k).

        The base's ``top_k`` most probable classes, most probable first.
        """
        check_is_fitted(self)
        features = np.asarray(self.estimator_.transform(X), dtype=np.float32)
        return self.classes_[self.head_.route(torch.from_numpy(features)).numpy()]
