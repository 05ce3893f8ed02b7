"""The ``info`` command: what a saved model holds."""

# License: BSD 3 clause

import json
from pathlib import Path

from ._commands import _best_epoch
from ._models import _base_of, _is_calora, _load_fitted


def _shown(value):
    """A parameter value as ``info`` shows it: JSON data as it is, anything else as its repr."""
    from .._persistence.saved_model import is_json_data

    return value if is_json_data(value) else repr(value)


def _differs(value, default):
    try:
        return not bool(value == default)
    except (TypeError, ValueError):  # e.g. arrays, whose == is elementwise
        return True


def _settings(estimator, config):
    """``(parameters, routed)``: a model's named parameters, and its routed ones not at default.

    ``get_params``; for a saved directory, with the settings its ``config``
    restores as they were saved (``saved_params``), not as loading adjusted
    them to this machine (a CUDA ``device`` where there is none). Routed names
    are the ones with ``__`` (scikit-learn's nesting separator, which no named
    parameter contains).
    """
    from .._estimators.classifier import SharpReCLClassifier
    from .._persistence.saved_model import saved_params

    params = estimator.get_params(deep=False)
    if config is not None:
        params.update(saved_params(config))
    if _is_calora(estimator):
        params.pop("estimator", None)  # its base is described on its own
    defaults = SharpReCLClassifier.routed_parameters()
    named = {key: _shown(params[key]) for key in sorted(params) if "__" not in key}
    routed = {key: _shown(params[key]) for key in sorted(params) if "__" in key
              and (key not in defaults or _differs(params[key], defaults[key]))}
    return named, routed


def _describe(estimator, config=None):
    """What ``info`` shows of a fitted estimator (a model, or the base of a CALoRA model)."""
    history = estimator.net_.history
    best = _best_epoch(history)
    parameters, routed = _settings(estimator, config)
    return {
        "class": type(estimator).__name__,
        "class_counts": [int(n) for n in estimator.class_counts_],
        "epochs": len(history),
        "best_valid_f1_macro": best[1] if best else None,
        "parameters": parameters,
        "routed_parameters": routed,
        # A multi-label model's per-label decision thresholds.
        **({"thresholds": [float(t) for t in estimator.thresholds_]}
           if getattr(estimator, "thresholds_", None) is not None else {}),
    }


def _print_parameters(prefix, described):
    print(f"{prefix}parameters:")
    for key, value in described["parameters"].items():
        print(f"  {key} = {value!r}")
    if not described["routed_parameters"]:
        print(f"{prefix}routed parameters: all at their defaults")
        return
    print(f"{prefix}routed parameters (those not at their defaults):")
    for key, value in described["routed_parameters"].items():
        print(f"  {key} = {value!r}")


def _model_info(path, estimator):
    """The ``info`` of a loaded model, as JSON data."""
    from .._persistence.saved_model import library_versions, read_config

    base = _base_of(estimator)
    config = read_config(Path(path)) if Path(path).is_dir() else None
    own = _describe(estimator, config)
    info = {
        "model": str(path),
        "class": own.pop("class"),
        "encoder": base.encoder_name_,
        "precision": base.precision_,
        "head_init": base.head_init_,
        "contrastive": getattr(base, "contrastive_", base.contrastive),
        "classes": [c.item() if hasattr(c, "item") else c for c in estimator.classes_],
        **own,
    }
    if base is not estimator:
        info["base"] = _describe(base)
    info["saved_with"] = dict(getattr(base, "versions_", None) or {})
    info["versions"] = library_versions(also=("imbalanced-learn", "numpy"))
    return info


def _print_header(info, estimator):
    """The lines of ``info`` above the classes: what the model is and how it was trained."""
    base = _base_of(estimator)
    print(f"model:    {info['model']}")
    if base is estimator:
        print(f"class:    {info['class']}")
        print(f"encoder:  {info['encoder']}")
    else:
        print(f"class:    {info['class']} (rank {estimator.rank}, top_k {estimator.top_k}) "
              f"on a {info['base']['class']}")
        print(f"encoder:  {info['encoder']} (the base's, frozen)")
    chosen = " (chosen by precision='auto')" if base.precision == "auto" else ""
    print(f"precision: {info['precision']}{chosen}")
    chosen = " (chosen by head_init='auto')" if base.head_init == "auto" else ""
    print(f"head:     {info['head_init']}{chosen}")
    chosen = " (chosen by contrastive='auto')" if base.contrastive == "auto" else ""
    print(f"contrastive branch: {info['contrastive'] or 'none'}{chosen}")
    if base is estimator:
        print(f"epochs:   {info['epochs']}")
        if info["best_valid_f1_macro"] is not None:
            print(f"best validation macro-F1: {info['best_valid_f1_macro']:.4f}")
        split = " (after the validation split)" if estimator.validation_fraction else ""
        if "thresholds" in info:
            print(f"labels ({len(info['classes'])}) of a multi-label model, with the training "
                  f"texts carrying each{split} and its decision threshold:")
            return
        print(f"classes ({len(info['classes'])}), with training examples{split}:")
        return
    print(f"epochs:   {info['epochs']} of the class experts; the base: "
          f"{info['base']['epochs']}")
    if info["base"]["best_valid_f1_macro"] is not None:
        print(f"best validation macro-F1 of the base: "
              f"{info['base']['best_valid_f1_macro']:.4f}")
    print(f"classes ({len(info['classes'])}), with the training examples of the class "
          "experts:")


def _cmd_info(args):
    estimator = _load_fitted(args.model, "info MODEL")
    info = _model_info(args.model, estimator)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    _print_header(info, estimator)
    width = max(len(str(c)) for c in info["classes"])
    thresholds = info.get("thresholds")
    for j, (label, count) in enumerate(zip(info["classes"], info["class_counts"])):
        shown = "" if thresholds is None else f"  threshold {thresholds[j]:.3f}"
        print(f"  {str(label):<{width}}  {count}{shown}")
    _print_parameters("", info)
    if "base" in info:
        _print_parameters("base ", info["base"])
    if info["saved_with"]:
        print("saved with: " + ", ".join(f"{dist} {ver}" for dist, ver in
                                         info["saved_with"].items()))
    print("installed versions:")
    for dist, ver in info["versions"].items():
        print(f"  {dist} {ver or '(not installed)'}")
    return 0
