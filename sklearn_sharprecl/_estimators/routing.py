"""Routed parameters: the settings a user rarely touches, in skorch's prefix convention.

``SharpReCLClassifier(criterion__n_neg=200, module__proj_dim=64,
callbacks__lr_schedule__warmup_fraction=0.2)`` passes each setting to the part
of the skorch net it names, as skorch's own ``NeuralNet`` does. The names are
checked when they are given (a misspelt one fails with the allowed names and
a did-you-mean); the values are checked by the part that receives them, at
``fit``.
"""

import difflib
import inspect
from numbers import Integral, Real

# scikit-learn's (private) parameter validation, as in classifier.py: the routed values
# are checked by the same rules and raise the same errors as the estimator's own.
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from skorch.callbacks import Callback
from torch.optim import AdamW

from .._network.callbacks import DEFAULT_CALLBACK_PARAMETERS, DEFAULT_CALLBACKS
from .._network.criterion import SharpReCLLoss
from .._network.module import SharpReCLModule


def _init_parameters(cls, exclude):
    return tuple(name for name in inspect.signature(cls).parameters if name not in exclude)


#: What each prefix routes to, and the names it accepts. The estimator's own
#: parameters (``mu``, ``tau``, ``classification_loss``, ...) and what ``fit``
#: derives from the data (class counts, the encoder) are not routable.
ROUTED_PARAMETERS = {
    "module": _init_parameters(SharpReCLModule, {"encoder", "n_classes"}),
    "criterion": _init_parameters(
        SharpReCLLoss, {"class_counts", "classification_loss", "contrastive", "mu", "tau"}
    ),
    "optimizer": _init_parameters(AdamW, {"params", "lr"}),
    **{f"callbacks__{name}": params for name, params in DEFAULT_CALLBACK_PARAMETERS.items()},
}

_COUNT = [Interval(Integral, 0, None, closed="left")]
_POSITIVE_INT = [Interval(Integral, 1, None, closed="left")]

#: What each routed value may be, checked at ``fit`` as the estimator's own
#: ``_parameter_constraints`` are (AdamW checks its other settings itself).
ROUTED_CONSTRAINTS = {
    "module__pooling": [StrOptions({"mean", "cls"})],
    "module__dropout": [Interval(Real, 0, 1, closed="left")],
    "module__proj_dim": _POSITIVE_INT,
    "module__center_prototypes": ["boolean"],
    "module__trust_remote_code": ["boolean"],
    "module__shared_view_layers": _COUNT,
    "criterion__contrastive_prior": ["boolean"],
    "criterion__normalize_contrastive_prior": ["boolean"],
    "criterion__absent_prototype_anchors": ["boolean"],
    "criterion__n_pos": _COUNT,
    "criterion__n_neg": _COUNT,
    "criterion__k_hard": _POSITIVE_INT,
    "criterion__mixup_alpha": [Interval(Real, 0, None, closed="neither")],
    "criterion__simple_sampling": ["boolean"],
    "criterion__hard_mixup": ["boolean"],
    "criterion__cl_normalization": [StrOptions({"positives", "anchors"})],
    "criterion__focal_gamma": [Interval(Real, 0, None, closed="left")],
    "optimizer__weight_decay": [Interval(Real, 0, None, closed="left")],
    "callbacks__lr_schedule__warmup_fraction": [Interval(Real, 0, 1, closed="left")],
    "callbacks__hard_share__start": [Interval(Real, 0, 1, closed="both")],
    "callbacks__hard_share__per_step": ["boolean"],
    "callbacks__mu_warmup__fraction": [Interval(Real, 0, 1, closed="both")],
    "callbacks__refresh_view__each_epoch": ["boolean"],
    "callbacks__head_init__C": [Interval(Real, 0, None, closed="neither")],
    "callbacks__head_init__max_iter": _POSITIVE_INT,
    "callbacks__early_stopping__metric": [StrOptions({"f1_macro", "balanced_log_loss"})],
    "callbacks__early_stopping__patience": [*_POSITIVE_INT, None],
    # A whole callback: another skorch callback (instance or class), or None to drop it.
    **{f"callbacks__{name}": [None, Callback, type] for name in DEFAULT_CALLBACKS},
}


def check_routed_values(params, estimator_name):
    """Raise scikit-learn's ``InvalidParameterError`` for a routed value out of its constraints."""
    validate_parameter_constraints(ROUTED_CONSTRAINTS, params, caller_name=estimator_name)
    for name, value in params.items():
        if name.startswith("callbacks__") and name.count("__") == 1 and isinstance(value, type) \
                and not issubclass(value, Callback):
            raise ValueError(f"{name} must be a skorch callback or None; got the class {value.__name__}.")


#: Where the estimator's default differs from the part's own (AdamW's weight
#: decay is 0.01; the paper's, and ours, 5e-4).
ESTIMATOR_DEFAULTS = {"optimizer__weight_decay": 5e-4}

#: Routed settings that act only with the balanced contrastive branch
#: (``contrastive='sharp'`` and ``mu > 0``).
SHARP_ONLY = frozenset(
    [f"criterion__{name}" for name in ("contrastive_prior", "normalize_contrastive_prior",
                                       "absent_prototype_anchors", "n_pos", "n_neg", "k_hard",
                                       "mixup_alpha", "simple_sampling", "hard_mixup")]
    + ["module__center_prototypes"]
    + [f"callbacks__hard_share__{name}" for name in DEFAULT_CALLBACK_PARAMETERS["hard_share"]]
    + ["callbacks__mu_warmup__fraction"]
)


def allowed_names():
    """Every routed parameter name, sorted."""
    names = [f"{prefix}__{param}" for prefix, params in ROUTED_PARAMETERS.items() for param in params]
    # A default callback can be replaced (or disabled with None) as a whole.
    names += [f"callbacks__{name}" for name in DEFAULT_CALLBACK_PARAMETERS]
    return sorted(names)


def check_routed_names(names, estimator_name, plain=()):
    """Raise ``TypeError`` for a name that routes nowhere, with the closest allowed ones.

    ``plain`` are the estimator's own parameter names: a misspelt one of them
    (``max_lenght``) gets its closest name too.
    """
    allowed = set(allowed_names())
    for name in names:
        if name in allowed:
            continue
        # A bare name (``n_neg``) is matched against the last part of each routed one.
        by_suffix = sorted(n for n in allowed if n.rsplit("__", 1)[-1] == name)
        close = by_suffix or difflib.get_close_matches(name, sorted(allowed | set(plain)), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise TypeError(
            f"{estimator_name} got an unexpected parameter {name!r}.{hint} Routed parameters "
            "are module__<name>, criterion__<name>, optimizer__<name> and "
            f"callbacks__<callback>__<name>; {estimator_name}.routed_parameters() lists them all."
        )


def routed_defaults():
    """The default of every routed parameter, by name (one definition: the parts' signatures)."""
    defaults = {}
    for prefix, cls in (("module", SharpReCLModule), ("criterion", SharpReCLLoss), ("optimizer", AdamW)):
        signature = inspect.signature(cls).parameters
        for name in ROUTED_PARAMETERS[prefix]:
            defaults[f"{prefix}__{name}"] = signature[name].default
    for name, cls in DEFAULT_CALLBACKS.items():
        signature = inspect.signature(cls).parameters
        for param in DEFAULT_CALLBACK_PARAMETERS[name]:
            defaults[f"callbacks__{name}__{param}"] = signature[param].default
    return {**defaults, **ESTIMATOR_DEFAULTS}
