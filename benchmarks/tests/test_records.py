"""The one record schema and loader (benchmarks/reporting/records.py), and the committed records."""

import json
from pathlib import Path

import pytest

from benchmarks.reporting.records import RECORD_SCHEMA, load_runs, read_records
from sklearn_sharprecl import SharpReCLClassifier

RESULTS = Path(__file__).resolve().parents[1] / "results"
RECORD = {"dataset": "trec", "imbalance_ratio": 50, "method": "CE", "seed": 0,
          "config": {"protocol": 2}, "macro_f1": 0.9, "fit_seconds": 10.0}


def test_a_file_that_is_no_record_is_skipped_with_its_reason(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(RECORD))
    (tmp_path / "b.json").write_text(json.dumps({**RECORD, "seed": "0"}))
    (tmp_path / "c.json").write_text(json.dumps({k: v for k, v in RECORD.items() if k != "fit_seconds"}))
    (tmp_path / "d.json").write_text("[1, 2]")
    (tmp_path / "e.json").write_text("{")
    assert [r["_file"] for r in read_records(tmp_path)] == ["a.json"]
    err = capsys.readouterr().err
    assert "b.json: not a run record (seed is str)" in err and "c.json: not a run record (no fit_seconds)" in err
    assert "d.json: not a run record (a list, not an object)" in err and "e.json" in err


def test_load_runs_keeps_the_newer_of_two_records_of_one_run(tmp_path, capsys):
    import os

    (tmp_path / "a.json").write_text(json.dumps(RECORD))
    (tmp_path / "b.json").write_text(json.dumps({**RECORD, "macro_f1": 0.8}))
    os.utime(tmp_path / "a.json", (2e9, 2e9))
    (only,) = load_runs(tmp_path)
    assert only["macro_f1"] == 0.9 and "same run" in capsys.readouterr().err


@pytest.mark.parametrize("folder", ["runs", "study"])
def test_every_committed_record_has_the_schema_and_todays_setting_names(folder, capsys):
    paths = sorted((RESULTS / folder).glob("*.json"))
    records = read_records(RESULTS / folder)
    assert len(records) == len(paths) and not capsys.readouterr().err
    assert set(RECORD_SCHEMA) <= set(records[0])
    for record in records:
        # The names run.py --set takes today, so that a rerun finds the record.
        SharpReCLClassifier().set_params(**record["config"].get("set", {}))


def test_the_reproduced_record_rebuilds_the_estimator_it_was_made_with():
    from benchmarks import reproduce

    record = json.loads(reproduce.RECORD.read_text())
    params = SharpReCLClassifier(**reproduce.settings_of(record, "fp32")).get_params()
    assert params["optimizer__betas"] == (0.9, 0.999) and params["precision"] == "fp32"
    assert {k: v for k, v in params.items() if k not in ("optimizer__betas", "precision")} == {
        k: v for k, v in record["estimator_params"].items() if k not in ("optimizer__betas", "precision")}


@pytest.mark.parametrize("augment", [None, "dropout"])
def test_a_refit_in_one_process_is_compared_weight_by_weight(tiny_encoder, tickets, augment):
    from benchmarks import reproduce

    X, y = tickets
    model = SharpReCLClassifier(encoder=tiny_encoder, max_length=16, max_epochs=2, batch_size=16, augment=augment,
                                precision="fp32", random_state=0).fit(X[:120], y[:120])
    again = reproduce.same_fit_again(model, X[:120], y[:120], X[120:160], (X[160:200], y[160:200]))
    assert again == {"max_abs_weight_difference": 0.0, "changed_predictions": 0, "texts": 80}
    stability = reproduce.dev_stability(model, X[160:200], X[120:160])
    assert stability["changed_after_diagnostics"] == stability["changed_in_reverse_order"] == 0
    assert stability["max_abs_proba_difference"] < 1e-5 and stability["smallest_top2_gap"] >= 0
