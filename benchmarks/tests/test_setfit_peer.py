"""SetFit, the few-shot peer: a class-balanced head and a step budget of SharpReCL's fit time."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import run
from benchmarks.peers import SetFitClassifier
from sklearn_sharprecl.datasets import make_support_tickets


def test_a_time_budget_sets_the_steps_from_the_measured_step_time():
    X, y = make_support_tickets(n_samples=60, imbalance_ratio=5, random_state=0)
    clf = SetFitClassifier(seed=0, max_length=32, time_budget=2.0, calibration_steps=4).fit(X, y)
    assert clf.max_steps_ == max(1, int(2.0 / clf.seconds_per_step_))
    assert clf.model_.model_head.class_weight == "balanced"
    assert set(clf.predict(X[:10])) <= set(np.unique(y))


def _args(tmp_path):
    return SimpleNamespace(max_epochs=None, encoder=None, protocol=2, recipe="r1-linear-all",
                           overrides={"precision": "bf16"}, aug_text=False)


def test_the_budget_is_sharprecls_fit_time_on_the_same_cell_and_seed(tmp_path):
    args, spec = _args(tmp_path), run.PROFILES["suite"]
    with pytest.raises(FileNotFoundError, match="run SharpReCL first"):
        run.time_budget(args, spec, "trec", 50, 0, tmp_path)
    config = run.run_config(args, spec, "trec", "SharpReCL", study=True)
    key = run.run_key("trec", 50, "SharpReCL", 0, config)
    (tmp_path / f"{key}.json").write_text(json.dumps({"fit_seconds": 123.0}))
    assert run.time_budget(args, spec, "trec", 50, 0, tmp_path) == 123.0
    assert run.run_config(args, spec, "trec", "SetFit", study=True)["time_budget_of"] == "SharpReCL"
