"""The benchmark's methods and recipes, by name: the one registry that run.py,
peers.py, report.py and study_report.py read (names and settings only, so the
report needs no torch)."""

# Our estimator's switches: the paper's Table 2 peers and Table 4 ablations.
NEURAL = {
    "SharpReCL": {},
    # The paper's second view (WordNet synonym substitution) instead of our
    # default dropout view; needs WordNet (sharprecl-prepare-wordnet).
    "SharpReCL (WordNet view)": {"augment": "wordnet"},
    "w/o SS": {"simple_sampling": False},
    "w/o HM": {"hard_mixup": False},
    # The paper's Table 7 (II): the contrastive branch as is, plain CE in the classifier.
    "w/o δ_CLS": {"classification_loss": "cross_entropy"},
    "SCLCE (w/o SSHM)": {"contrastive": "supcon", "classification_loss": "cross_entropy"},
    "LA-CE (w/o CL)": {"contrastive": None},
    "CE": {"contrastive": None, "classification_loss": "cross_entropy"},
    "Focal": {"contrastive": None, "classification_loss": "focal"},
    "Dice": {"contrastive": None, "classification_loss": "dice"},
}
# Settings shared by every neural method: the method study (docs/method-study.md)
# changes what is not specific to the contrastive branch for all of them at once,
# so that no method gets a tuning budget the others lack. ``length_quantile``:
# ``max_length`` covers this quantile of the training texts' token lengths (cap 128).
RECIPES = {
    # The benchmark as of session 3 (the estimator's defaults until session 5).
    "v1": {"length_quantile": 0.95,
           "params": {"dropout": 0.1, "lr_schedule": "constant", "validation_fraction": 0.1,
                      "center_prototypes": False}},
    # No truncation of the training texts, no dropout before the classifier.
    "r1": {"length_quantile": 1.0,
           "params": {"dropout": 0.0, "lr_schedule": "constant", "validation_fraction": 0.1,
                      "center_prototypes": False}},
    # r1 + 10% linear warm-up, then linear decay to 0 over max_epochs.
    "r1-linear": {"length_quantile": 1.0,
                  "params": {"dropout": 0.0, "lr_schedule": "linear", "validation_fraction": 0.1,
                             "center_prototypes": False}},
    # r1-linear with no model selection: every training text is trained on and
    # the last epoch is kept (validation macro-F1 on CR rests on ~4 negatives).
    # The estimator's defaults in sessions 5 and 6; since session 7 the defaults
    # are this recipe with ``--set center_prototypes=true`` (method-study H11).
    "r1-linear-all": {"length_quantile": 1.0,
                      "params": {"dropout": 0.0, "lr_schedule": "linear", "validation_fraction": None,
                                 "center_prototypes": False}},
}
# Every recipe spells out the settings it is about, so that its records keep
# their meaning whatever the estimator's defaults become (center_prototypes
# only acts on methods with the 'sharp' branch).
CLASSIC = [
    "TF-IDF+LR (balanced)",
    "TF-IDF+LinearSVC (balanced)",
    "TF-IDF+ROS+LR",
    "TF-IDF+SMOTE+LR",
    "TF-IDF+RUS+LR",
    "Frozen MiniLM+LR",
]
OTHER = ["SetFit"]

# Run on every seed of the profile; the rest of NEURAL and OTHER on seed 0 only.
MAIN = ["SharpReCL", "CE", "LA-CE (w/o CL)", "SCLCE (w/o SSHM)"]
ONE_SEED = ["SharpReCL (WordNet view)", "w/o SS", "w/o HM", "w/o δ_CLS", "Focal", "Dice", "SetFit"]
# CALoRA's stage 2 runs on the fitted base of the same cell (seconds).
CALORA_BASES = {"CALoRA on SharpReCL": "SharpReCL", "CALoRA on CE": "CE"}
