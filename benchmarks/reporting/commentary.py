"""The hand-written part of the reading: judgement, causes and facts from outside the records.

Rules (checked by tests/test_report.py):

- no digit outside backticks (code) and paper-table references ("Table 7"): a number about
  our runs belongs in :mod:`reporting.facts` and is computed at each regeneration;
- fields in braces are names (a class label, a method), filled in by :mod:`reporting.reading`;
- most of these sentences are shown only when the computed numbers support them (the condition
  is next to the call in ``reading.py``); the reading renders them in italics.

Facts from outside the records that come with numbers are in ``OUTSIDE`` (and ``PAPER_SETUP``
in :mod:`reporting.paper`), named once.
"""

# Numbers from outside the records, with their source.
OUTSIDE = {
    # The issue that set up the benchmark asked for a quick profile of about two hours.
    "quick_profile_budget_hours": 2,
}

COMMENTARY = {
    # status
    "calora_seeds": "CALoRA rows are an extra beyond the issue's list of methods. A CALoRA run needs its "
                    "base fitted in the same invocation; `run.py` now saves bases, so a later run can add "
                    "the missing seeds.",
    "fidelity_link": "Fidelity check of our implementation against the paper and the authors' code: "
                     "[docs/fidelity.md](../../docs/fidelity.md).",
    # summary
    "summary_lead": "SharpReCL's logit-adjusted training pays off when the tail is rare in training but not "
                    "in use.",
    "cr_gain_from_la": "So on CR the gain comes from the logit-adjusted classifier, not from the contrastive "
                       "branch.",
    "trec_cause": "The cause is its balanced posterior, which over-predicts {rare}, a class that is rare in "
                  "the test split too.",
    "trec_branch_earns": "Its contrastive branch does earn its cost there.",
    "under_trained": "These runs are under-trained on a CPU budget.",
    "probe_elsewhere": "They start from a random classifier; the same recipe started from a linear probe "
                       "(`head_init='linear_probe'`, method study H15) is in [study.md](study.md), "
                       "\"Long documents\".",
    # CR
    "cr_balanced_wins": "the balanced branch wins.",
    "cr_subset_matters": "Which {minority} examples the long-tailed subset keeps matters.",
    "cr_branch_not_earned": "On CR the contrastive branch has not earned its cost beyond seed noise: the "
                            "logit-adjusted classifier does the work.",
    "delta_cls_reading": "So the balanced contrastive branch does what the paper says on a CE classifier; on "
                         "top of the logit-adjusted one it is largely redundant on CR.",
    # TREC
    "trec_one_class": "The cause is one class.",
    "balanced_posterior": "The logit-adjusted branch predicts the balanced posterior. {rare} is rare in the "
                          "test split too (rare in the original data, not only in our subset), so a "
                          "uniform-prior decision over-predicts it.",
    "train_prior_diagnostic": "The diagnostic recorded in the runs (`train_prior_decision`: the same fitted "
                              "model, decided under the training prior; never used for selection) tests this:",
    "deployment_prior": "No fixed decision rule wins both datasets: the right prior is the deployment one. "
                        "Hence the `decision_prior` parameter ('train', 'balanced' or an array, applied at "
                        "predict time). We do not tune it on test sets here.",
    "stronger_encoder": "That suggests a stronger, longer-trained encoder makes the {rare} boundary sharp "
                        "enough for the prior shift not to matter.",
    # CALoRA
    "calora_verdict": "It is a cheap repair for a biased base, not a default.",
    # cost
    "two_views": "(two encoder views per step)",
    "shared_machine": "It was shared, partly while tests ran, so compare run times only within a row.",
    # one-seed extras
    "one_seed_extras": "compare them with the same seed of the main methods.",
    "setfit_reduced": "That fits the CPU budget: the library's default samples many more pairs per text, so "
                      "this is a reduced SetFit.",
    "ablations_not_established": "So these rows do not establish an effect of SS or HM.",
    # run time
    "shared_with_tests": "Some runs shared the machine with the test suite.",
    "budget_ways": "Ways to bring it in:",
    # investigation
    "fidelity_matches": "Every part of the method matches the paper.",
    "authors_code": "The authors' released code departs from the paper in ways that cannot be reproduced: "
                    "it normalises the logits to unit length; it adds BatchNorm heads; it uses effective-number "
                    "contrastive weights, on a line that cannot run as released; its default is "
                    "`n_pos = n_neg = 0`; it picks the best epoch on test accuracy.",
    "our_differences": "Differences of ours that plausibly cost points:",
    "second_view": "The second view. Ours is dropout noise on the same text; the paper uses WordNet synonym "
                   "substitution.",
    "single_seed_lead": "A single seed is a lead, not a result: if it holds over seeds, `augment='wordnet'` "
                        "should become the benchmark's setting for SharpReCL.",
    "delta_weights": "The paper's δ = −log π weights make the contrastive term weak on a skewed prior.",
    "delta_fits": "That fits the branch adding little over LA-CE there.",
    "training_length": "Training length.",
    "tau_mu_k": "τ, μ, k and the set sizes follow the paper. We did not tune them on test data.",
    # R52 / Ohsumed
    "recorded_in_run": "All of it is recorded in each run.",
    "smote_single_example": "SMOTE interpolates between examples of the same class, so it cannot run on a "
                            "class of a single example.",
    "loss_in_tail": "The loss is in the tail:",
    "r52_no_verdict": "A single seed, under-trained: this says SharpReCL does not win R52 and Ohsumed on this "
                      "CPU budget. It is no verdict on the method. A GPU session should run "
                      "`python benchmarks/run.py --profile full --cells r52 ohsumed --max-epochs 4` (or more "
                      "epochs, unfrozen). The records are keyed by config, so those runs sit beside these.",
}


def note(key, **fields):
    """The commentary sentence ``key`` in italics, with its name fields filled in."""
    return f"*{COMMENTARY[key].format(**fields)}*"
