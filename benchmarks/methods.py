"""The benchmark's methods, recipes and profiles, by name: the one registry that
run.py, peers.py, report.py and study_report.py read (names and settings only,
so the report needs no torch).

Settings are spelt as ``SharpReCLClassifier`` takes them (routed
``module__``/``criterion__``/``callbacks__`` parameters), in the records too.
"""

# The branch, named: ``contrastive='auto'`` (the estimator's default) leaves it
# out from 10 classes on, and a method named after the branch must run it there too.
BRANCH = {"contrastive": "sharp"}
# Our estimator's switches: the paper's Table 2 peers and Table 4 ablations.
NEURAL = {
    "SharpReCL": {**BRANCH},
    # The paper's second view (WordNet synonym substitution) instead of our
    # default dropout view; needs WordNet (sharprecl-prepare-wordnet).
    "SharpReCL (WordNet view)": {**BRANCH, "augment": "wordnet"},
    "w/o SS": {**BRANCH, "criterion__simple_sampling": False},
    "w/o HM": {**BRANCH, "criterion__hard_mixup": False},
    # The paper's Table 7 (II): the contrastive branch as is, plain CE in the classifier.
    "w/o δ_CLS": {**BRANCH, "classification_loss": "cross_entropy"},
    "SCLCE (w/o SSHM)": {"contrastive": "supcon", "classification_loss": "cross_entropy"},
    "LA-CE (w/o CL)": {"contrastive": None},
    "CE": {"contrastive": None, "classification_loss": "cross_entropy"},
    "Focal": {"contrastive": None, "classification_loss": "focal"},
    "Dice": {"contrastive": None, "classification_loss": "dice"},
}
# Settings shared by every neural method: the method study (docs/method-study.md)
# changes what is not specific to the contrastive branch for all of them at once,
# so that no method gets a tuning budget the others lack. ``length_quantile``:
# ``max_length`` covers this quantile of the training texts' token lengths (at
# most MAX_LENGTH_CAP).
# ``callbacks__lr_schedule: None`` is a constant learning rate; a recipe that
# spells ``callbacks__lr_schedule__warmup_fraction`` keeps the linear warm-up
# and decay. Recipes with a validation split stop after 2 epochs without a
# better validation macro-F1 and restore the best epoch.
RECIPES = {
    # The benchmark's own recipe (the estimator's defaults before H4 and H8).
    "v1": {"length_quantile": 0.95,
           "params": {"module__dropout": 0.1, "callbacks__lr_schedule": None, "validation_fraction": 0.1,
                      "callbacks__early_stopping__patience": 2, "module__center_prototypes": False,
                      "head_init": "random"}},
    # No truncation of the training texts, no dropout before the classifier.
    "r1": {"length_quantile": 1.0,
           "params": {"module__dropout": 0.0, "callbacks__lr_schedule": None, "validation_fraction": 0.1,
                      "callbacks__early_stopping__patience": 2, "module__center_prototypes": False,
                      "head_init": "random"}},
    # r1 + 10% linear warm-up, then linear decay to 0 over max_epochs.
    "r1-linear": {"length_quantile": 1.0,
                  "params": {"module__dropout": 0.0, "callbacks__lr_schedule__warmup_fraction": 0.1,
                             "validation_fraction": 0.1, "callbacks__early_stopping__patience": 2,
                             "module__center_prototypes": False, "head_init": "random"}},
    # r1-linear with no model selection: every training text is trained on and
    # the last epoch is kept (validation macro-F1 on CR rests on ~4 negatives).
    # The estimator's defaults since H4 and H8; since H11 the defaults are this
    # recipe with ``--set module__center_prototypes=true``.
    "r1-linear-all": {"length_quantile": 1.0,
                      "params": {"module__dropout": 0.0, "callbacks__lr_schedule__warmup_fraction": 0.1,
                                 "validation_fraction": None, "module__center_prototypes": False,
                                 "head_init": "random"}},
}
# Every recipe spells out the settings it is about, so that its records keep
# their meaning whatever the estimator's defaults become (module__center_prototypes
# only acts on methods with the 'sharp' branch; the estimator warns at fit
# where a setting has no effect). ``head_init='random'``: every record made
# before ``head_init='auto'`` existed started from a random head.
CLASSIC = [
    "TF-IDF+LR (balanced)",
    "TF-IDF+LinearSVC (balanced)",
    "TF-IDF+ROS+LR",
    "TF-IDF+SMOTE+LR",
    "TF-IDF+RUS+LR",
    "Frozen MiniLM+LR",
]
OTHER = ["SetFit"]

# The longest ``max_length`` a recipe's ``length_quantile`` may choose (tokens).
MAX_LENGTH_CAP = 128
# The batch size of every neural method (peers.neural_params).
NEURAL_BATCH_SIZE = 32

# Run on every seed of the profile; the rest of NEURAL and OTHER on seed 0 only.
MAIN = ["SharpReCL", "CE", "LA-CE (w/o CL)", "SCLCE (w/o SSHM)"]
ONE_SEED = ["SharpReCL (WordNet view)", "w/o SS", "w/o HM", "w/o δ_CLS", "Focal", "Dice", "SetFit"]
# CALoRA's stage 2 runs on the fitted base of the same cell (seconds).
CALORA_BASES = {"CALoRA on SharpReCL": "SharpReCL", "CALoRA on CE": "CE"}

# ``run.py --profile``: the cells (dataset, imbalance ratio; None: the original
# split), the seeds of the multi-seed methods, and the epochs per dataset.
PROFILES = {
    "quick": {"cells": [("trec", 50), ("cr", 50)], "seeds": 3, "max_epochs": {None: 4}},
    "full": {
        "cells": [("trec", 50), ("cr", 50), ("trec", 20), ("cr", 20), ("trec", 10), ("cr", 10),
                  ("r52", None), ("ohsumed", None)],
        "seeds": 3,
        # Long texts on a CPU: train the top two of MiniLM's six layers for two
        # epochs, the frozen four run once per fit (train_layers; recorded per
        # run; ``--max-epochs 4`` on a GPU). The earliest records froze the
        # four with skorch's Freezer and recomputed them every step (records
        # with "freeze_layers": 4).
        "max_epochs": {"r52": 2, "ohsumed": 2, None: 4},
        "train_layers": {"r52": 2, "ohsumed": 2, None: None},
    },
    # The development suite defaults are chosen on (issue #25): four short-text
    # cells long-tailed at ir=50 and the two long-document sets as they are.
    "suite": {
        "cells": [("trec", 50), ("cr", 50), ("stackoverflow", 50), ("banking77", 50),
                  ("r52", None), ("ohsumed", None)],
        "seeds": 5,
        "max_epochs": {"r52": 2, "ohsumed": 2, None: 4},
        "train_layers": {"r52": 2, "ohsumed": 2, None: None},
    },
    # The authors' TREC release (lower-cased, tokenised, with their augmented
    # view ``aug_text``): the same questions and split as ``trec``, so the same
    # seed keeps the same rows. Method-study hypothesis H7 (``--aug-text``).
    "authors-trec": {"cells": [("trec-sharprecl", 50)], "seeds": 3, "max_epochs": {None: 4}},
}

def neural_settings(recipe, overrides=None, **extra):
    """The settings a neural method of ``recipe`` is built with, beside the method's own.

    Parameters
    ----------
    recipe : str
        A key of :data:`RECIPES`.
    overrides : dict, optional
        ``run.py --set`` overrides (estimator parameters).
    **extra
        Settings of the profile (``train_layers``), applied last.

    Returns
    -------
    settings : dict
        Estimator parameters. A callback disabled with ``None`` takes no
        parameters of its own (skorch refuses them), so those are left out.
    """
    merged = {**RECIPES[recipe]["params"], **(overrides or {}), **extra}
    disabled = [name for name, value in merged.items() if name.startswith("callbacks__") and value is None]
    return {name: value for name, value in merged.items()
            if not any(name.startswith(f"{d}__") for d in disabled)}
