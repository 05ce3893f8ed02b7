import json
import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.cli import CLIError, load_model, main, save_model

pytest.importorskip("matplotlib")

REPORT_FILES = {"f1_by_class.png", "confusion_matrix.png", "training_curves.png",
                "embeddings.png", "report.txt", "metrics.json"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, tickets):
    """train.csv (with a zero-padded id column) and test.jsonl written from the tickets."""
    path = tmp_path_factory.mktemp("cli-data")
    X, y = tickets
    ids = [f"{i:04d}" for i in range(len(X))]
    pd.DataFrame({"id": ids, "text": X, "label": y}).to_csv(path / "train.csv", index=False)
    pd.DataFrame({"text": X[:60], "label": y[:60]}).to_json(
        path / "test.jsonl", orient="records", lines=True)
    return path


@pytest.fixture(scope="module")
def model_path(data_dir, tiny_encoder):
    path = data_dir / "models" / "tiny.joblib"  # the models/ folder does not exist yet
    status = main([
        "fit", str(data_dir / "train.csv"), "--model", str(path), "--encoder", tiny_encoder,
        "--max-epochs", "1", "--max-length", "32", "--batch-size", "16", "--lr", "1e-3",
        "--random-state", "0",
    ])
    assert status == 0
    return path


def _run(capsys, argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_fit_writes_a_loadable_model(model_path, tiny_encoder, tickets):
    assert model_path.is_file()
    assert [p.name for p in model_path.parent.iterdir()] == [model_path.name]  # no temp files
    model = load_model(model_path)
    assert isinstance(model, SharpReCLClassifier)
    assert list(model.classes_) == sorted(set(tickets[1]))
    params = model.get_params()
    assert (params["max_epochs"], params["max_length"], params["batch_size"]) == (1, 32, 16)
    assert params["lr"] == 1e-3 and params["random_state"] == 0
    assert params["encoder"] == tiny_encoder and params["verbose"] == 0
    assert params["mu"] == SharpReCLClassifier().mu  # options left out keep the defaults
    assert len(model.net_.history) == 1


def test_fit_validates_on_the_validation_file(data_dir, tiny_encoder, tmp_path, capsys):
    status, out, _ = _run(capsys, [
        "fit", data_dir / "train.csv", "--model", tmp_path / "m.joblib", "--encoder", tiny_encoder,
        "--max-epochs", "1", "--max-length", "16", "--validation", data_dir / "test.jsonl"])
    assert status == 0
    assert "held out" not in out  # every text of DATA trained
    assert "best validation macro-F1" in out
    assert "valid_f1_macro" in load_model(tmp_path / "m.joblib").net_.history[-1]


def test_fit_prints_a_summary(data_dir, tiny_encoder, tmp_path, capsys):
    status, out, _ = _run(capsys, [
        "fit", data_dir / "test.jsonl", "-o", tmp_path / "m.joblib", "--encoder", tiny_encoder,
        "--max-epochs", "1", "--max-length", "16", "--validation-fraction", "none",
        "--aug-column", "text",
    ])
    assert status == 0
    assert "fitted on 60 texts, 6 classes, 1 epoch(s)" in out  # nothing held out
    assert f"model written to {tmp_path / 'm.joblib'}" in out
    assert load_model(tmp_path / "m.joblib").validation_fraction is None


def test_fit_takes_the_long_document_options(data_dir, tiny_encoder, tmp_path, capsys):
    status, _, err = _run(capsys, [
        "fit", data_dir / "test.jsonl", "-o", tmp_path / "m.joblib", "--encoder", tiny_encoder,
        "--max-epochs", "1", "--truncation", "chunks", "--train-layers", "1", *FAST_FIT,
        "--head-init", "linear_probe",
    ])
    assert status == 0, err
    params = load_model(tmp_path / "m.joblib").get_params()
    assert (params["truncation"], params["train_layers"], params["head_init"]) == ("chunks", 1, "linear_probe")
    # A value the estimator refuses is its error, naming the option.
    status, _, err = _run(capsys, ["fit", data_dir / "test.jsonl", "-o", tmp_path / "t.joblib",
                                   "--truncation", "tail"])
    _assert_one_line_error(status, err, "--truncation: The 'truncation' parameter of "
                           "SharpReCLClassifier must be a str among", "Got 'tail' instead")


def test_set_gives_routed_parameters_and_info_shows_them(data_dir, tiny_encoder, tmp_path,
                                                         capsys):
    model = tmp_path / "model"
    status, _, err = _run(capsys, [
        "fit", data_dir / "test.jsonl", "-o", model, "--encoder", tiny_encoder,
        "--max-epochs", "1", *FAST_FIT, "--set", "criterion__n_neg=200",
        "--set", "module__proj_dim=16", "--set", "callbacks__lr_schedule=null",
        "--set", "module__pooling=cls", "--set", "optimizer__weight_decay=0.0005",
        "--set", "precision=auto"])
    assert status == 0, err
    fitted = load_model(model)
    params = fitted.get_params()
    assert (params["criterion__n_neg"], params["module__proj_dim"]) == (200, 16)
    assert params["callbacks__lr_schedule"] is None and params["module__pooling"] == "cls"
    assert fitted.prototypes_.shape == (6, 16)  # the net was built with them
    assert "lr_schedule" not in dict(fitted.net_.callbacks_)

    status, out, err = _run(capsys, ["info", model])
    assert status == 0, err
    lines = out.splitlines()
    assert f"precision: {fitted.precision_} (chosen by precision='auto')" in lines
    chosen = " (chosen by head_init='auto')" if fitted.head_init == "auto" else ""
    assert f"head:     {fitted.head_init_}{chosen}" in lines
    routed = out.split("routed parameters (those not at their defaults):\n", 1)[1].splitlines()
    # The weight decay given equals its default: not shown.
    assert routed[:4] == ["  callbacks__lr_schedule = None", "  criterion__n_neg = 200",
                          "  module__pooling = 'cls'", "  module__proj_dim = 16"]
    assert routed[4] == "saved with: " + ", ".join(
        f"{dist} {ver}" for dist, ver in fitted.versions_.items())
    status, out, _ = _run(capsys, ["info", model, "--json"])
    info = json.loads(out)
    assert info["precision"] == fitted.precision_
    assert info["routed_parameters"] == {"callbacks__lr_schedule": None, "criterion__n_neg": 200,
                                         "module__pooling": "cls", "module__proj_dim": 16}
    assert "criterion__n_neg" not in info["parameters"]  # named parameters only there


@pytest.mark.parametrize("settings, fragments", [
    (["criterion__n_negs=200"], ["unexpected parameter 'criterion__n_negs'",
                                 "Did you mean 'criterion__n_neg'"]),
    (["pooling=cls"], ["unexpected parameter 'pooling'", "Did you mean 'module__pooling'"]),
    (["mu=0.5"], ["--set mu=...: mu has an option of its own; use --mu"]),
    (["verbose=1"], ["use -v"]),
    (["criterion__n_neg=1", "criterion__n_neg=2"], ["--set criterion__n_neg=... is given twice"]),
    # Not plain data: the safe directory format cannot hold it, known before any training.
    (["optimizer__betas=[0.9, 0.99]"], ["Cannot save parameter optimizer__betas=[0.9, 0.99]",
                                        "a --model name ending in .joblib"]),
])
def test_bad_set_names_are_one_line_errors_before_the_data_is_read(settings, fragments, tmp_path,
                                                                   capsys):
    argv = ["fit", tmp_path / "absent.csv", "--model", tmp_path / "m"]
    for setting in settings:
        argv += ["--set", setting]
    status, _, err = _run(capsys, argv)
    _assert_one_line_error(status, err, *fragments)  # not "data file not found"
    assert list(tmp_path.iterdir()) == []


def test_predict_writes_input_columns_prediction_and_probabilities(
        model_path, data_dir, tmp_path, capsys):
    output = tmp_path / "out" / "pred.csv"
    status, out, _ = _run(capsys, ["predict", model_path, data_dir / "train.csv",
                                   "--output", output])
    assert status == 0 and f"wrote 241 predictions to {output}" in out
    model = load_model(model_path)
    pred = pd.read_csv(output, dtype={"id": str}, keep_default_na=False)
    proba_columns = [f"proba_{c}" for c in model.classes_]
    assert list(pred.columns) == ["id", "text", "label", "prediction", *proba_columns]
    assert pred["id"].iloc[7] == "0007"  # input cells are written back as they were read
    proba = pred[proba_columns].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(pred["prediction"], model.classes_[proba.argmax(axis=1)])
    np.testing.assert_array_equal(pred["prediction"], model.predict(pred["text"].tolist()))


def test_predict_to_stdout(model_path, data_dir, capsys):
    status, out, err = _run(capsys, ["predict", model_path, data_dir / "test.jsonl",
                                     "--output", "-"])
    assert status == 0 and "wrote 60 predictions to -" in err
    lines = out.splitlines()
    assert lines[0].startswith("text,label,prediction,proba_") and len(lines) == 61


def test_evaluate_writes_the_report(model_path, data_dir, tmp_path, capsys):
    out_dir = tmp_path / "eval"
    status, out, _ = _run(capsys, ["evaluate", model_path, data_dir / "test.jsonl",
                                   "--output-dir", out_dir])
    assert status == 0
    assert {p.name for p in out_dir.iterdir()} == REPORT_FILES
    test = pd.read_json(data_dir / "test.jsonl", lines=True)
    macro = f1_score(test["label"], load_model(model_path).predict(test["text"].tolist()),
                     average="macro")
    assert json.loads((out_dir / "metrics.json").read_text())["f1_macro"] == pytest.approx(macro)
    assert f"macro-F1: {macro:.4f}" in out
    assert (out_dir / "report.txt").read_text() in out  # the imbalanced report is printed


def test_info_prints_classes_counts_and_versions(model_path, capsys):
    model = load_model(model_path)
    status, out, _ = _run(capsys, ["info", model_path])
    assert status == 0
    for label, count in zip(model.classes_, model.class_counts_):
        assert any(line.split() == [label, str(count)] for line in out.splitlines())
    assert f"encoder:  {model.encoder_name_}" in out
    assert "max_length = 32" in out and "torch " in out and "transformers " in out

    status, out, _ = _run(capsys, ["info", model_path, "--json"])
    info = json.loads(out)
    assert info["classes"] == list(model.classes_)
    assert info["class_counts"] == model.class_counts_.tolist()
    assert info["parameters"]["max_epochs"] == 1 and info["epochs"] == 1
    assert set(info["versions"]) >= {"sklearn-sharprecl", "torch", "transformers"}


# ------------------------------------------------------------------- errors
def _assert_one_line_error(status, err, *fragments):
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sharprecl: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_data_file(tmp_path, capsys):
    status, _, err = _run(capsys, ["fit", tmp_path / "nope.csv", "--model", tmp_path / "m"])
    _assert_one_line_error(status, err, "data file not found", "nope.csv")


def test_missing_column_names_the_columns_present(data_dir, tmp_path, capsys):
    status, _, err = _run(capsys, ["fit", data_dir / "train.csv", "--model", tmp_path / "m",
                                   "--text-column", "body"])
    _assert_one_line_error(status, err, "'body'", "--text-column", "'id', 'text', 'label'")
    assert not (tmp_path / "m").exists()


def test_missing_label_column_in_evaluate(model_path, data_dir, tmp_path, capsys):
    status, _, err = _run(capsys, ["evaluate", model_path, data_dir / "train.csv",
                                   "--output-dir", tmp_path, "--label-column", "y"])
    _assert_one_line_error(status, err, "'y'", "--label-column", "columns present")


@pytest.mark.parametrize("content, suffix, message", [
    ("text,label\na,x\nb,\n", ".csv", "1 empty label(s) (first in data row 2)"),
    ('{"text": "a", "label": "x"}\n{"text": null, "label": "y"}\n', ".jsonl",
     "'text' of"),
    ("text,label\n", ".csv", "no data rows"),
    ("{not json\n", ".jsonl", "could not read"),
    ("text,label\na,x\nb,x\n", ".txt", "use .csv, .tsv, .jsonl or .json"),
    ("text,label\na,x\nb,x\n", ".csv", "number of classes has to be greater than one"),
])
def test_bad_data_files(tmp_path, capsys, content, suffix, message):
    data = tmp_path / f"data{suffix}"
    data.write_text(content)
    status, _, err = _run(capsys, ["fit", data, "--model", tmp_path / "m"])
    _assert_one_line_error(status, err, message)


def test_bad_model_files(data_dir, tmp_path, capsys):
    status, _, err = _run(capsys, ["predict", tmp_path / "nope.joblib", data_dir / "train.csv",
                                   "-o", tmp_path / "p.csv"])
    _assert_one_line_error(status, err, "model not found")
    status, _, err = _run(capsys, ["info", data_dir / "train.csv"])
    _assert_one_line_error(status, err, "train.csv is a data file", "MODEL must be a model "
                           "directory written by 'sharprecl fit', or a .joblib or .pkl file")
    import joblib

    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    status, _, err = _run(capsys, ["info", tmp_path / "dict.joblib"])
    _assert_one_line_error(status, err, "holds a dict, not a SharpReCLClassifier")


def test_bad_encoder_and_augment(data_dir, tiny_encoder, tmp_path, capsys):
    status, _, err = _run(capsys, ["fit", data_dir / "train.csv", "--model", tmp_path / "m",
                                   "--encoder", tmp_path / "no-such-encoder"])
    _assert_one_line_error(status, err, "encoder directory not found")
    status, _, err = _run(capsys, ["fit", data_dir / "train.csv", "--model", tmp_path / "m",
                                   "--encoder", "no-such-encoder/"])  # a path, not a hub id
    _assert_one_line_error(status, err, "encoder directory not found: no-such-encoder/")
    # An error of the estimator itself, raised inside fit.
    status, _, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", tmp_path / "m",
                                   "--encoder", tiny_encoder, "--augment", "nope"])
    _assert_one_line_error(status, err, "augment='nope' is not valid")
    assert not (tmp_path / "m").exists()


def test_estimator_warnings_are_one_line(data_dir, tiny_encoder, tmp_path, capsys):
    # With mu=0 the synthetic sets are never drawn: the estimator warns that n_neg is inert.
    status, _, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", tmp_path / "m",
                                   "--encoder", tiny_encoder, "--max-epochs", "1", *FAST_FIT,
                                   "--mu", "0", "--set", "criterion__n_neg=40"])
    assert status == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1, err  # one line, no source location
    assert warnings[0].startswith("sharprecl: warning: criterion__n_neg has no effect with "
                                  "contrastive='auto' (resolved to 'sharp'), mu=0.0,")


def test_evaluate_without_matplotlib_says_what_to_install(
        model_path, data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, _, err = _run(capsys, ["evaluate", model_path, data_dir / "test.jsonl",
                                   "--output-dir", tmp_path])
    _assert_one_line_error(status, err, "pip install 'sklearn-sharprecl[plots]'")


def test_progress_bar_setting_is_restored(model_path, capsys, monkeypatch):
    from transformers.utils import logging as hf_logging

    from sklearn_sharprecl import cli

    seen = []
    handler = cli._parser._cmd_info

    def info(args):  # what transformers shows while the command runs
        seen.append((hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()))
        return handler(args)

    monkeypatch.setattr(cli._parser, "_cmd_info", info)
    before = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.enable_progress_bar()
    hf_logging.set_verbosity_info()
    try:
        assert main(["info", str(model_path)]) == 0
        assert seen == [(False, hf_logging.ERROR)]  # silenced while it ran
        assert hf_logging.is_progress_bar_enabled()  # main() runs in-process here
        assert hf_logging.get_verbosity() == hf_logging.INFO
    finally:
        if not before[0]:
            hf_logging.disable_progress_bar()
        hf_logging.set_verbosity(before[1])


def test_traceback_flag_shows_the_exception(tmp_path):
    with pytest.raises(CLIError, match="data file not found"):
        main(["--traceback", "fit", str(tmp_path / "nope.csv"), "--model", "m"])


@pytest.mark.parametrize("command", [[], ["fit"], ["predict"], ["evaluate"], ["info"]])
def test_help_exits_0(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sharprecl {' '.join(command)}".rstrip())


@pytest.mark.parametrize("argv", [
    [],
    ["fit", "data.csv"],  # --model is required
    ["fit", "data.csv", "--model", "m", "--max-epochs", "many"],
    ["fit", "data.csv", "--model", "m", "--set", "criterion__n_neg"],  # no =VALUE
    ["evaluate", "m", "d.csv", "-o", "dir", "--embeddings", "umap"],
])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage: sharprecl" in capsys.readouterr().err


def test_console_script_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "sklearn_sharprecl.cli", "--help"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for command in ("fit", "predict", "evaluate", "info"):
        assert command in result.stdout


def test_default_model_format_is_the_safe_directory(capsys, data_dir, tiny_encoder, tmp_path):
    model = tmp_path / "model"
    status, _, err = _run(capsys, [
        "fit", data_dir / "train.csv", "--model", model, "--encoder", tiny_encoder,
        "--max-epochs", "1", "--max-length", "32",
    ])
    assert status == 0, err
    assert (model / "model.safetensors").is_file() and (model / "config.json").is_file()
    status, out, err = _run(capsys, ["info", model])
    assert status == 0, err
    # Refitting replaces the saved model; a directory that is not a model is refused.
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"not a model")
    status, _, err = _run(capsys, ["fit", data_dir / "train.csv", "--model", tmp_path / "photos",
                                   "--encoder", tiny_encoder, "--max-epochs", "1"])
    assert status == 1 and "holds no saved model" in err


def test_estimated_decision_prior_at_predict_comes_from_the_texts(model_path, data_dir, tmp_path,
                                                                 capsys):
    output = tmp_path / "pred.csv"
    status, _, err = _run(capsys, ["predict", model_path, data_dir / "test.jsonl", "-o", output,
                                   "--decision-prior", "estimate"])
    assert status == 0 and "estimated class prior of the texts:" in err
    model = load_model(model_path)
    texts = pd.read_json(data_dir / "test.jsonl", lines=True)["text"].tolist()
    prior = model.estimate_decision_prior(texts)
    balanced = model.predict_proba(texts)
    expected = model.set_params(decision_prior=prior).predict_proba(texts)
    assert not np.allclose(expected, balanced, atol=1e-3)  # so the option did something
    got = pd.read_csv(output)[[f"proba_{c}" for c in model.classes_]].to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # 'estimate' needs texts to predict: fit has none to estimate from.
    with pytest.raises(SystemExit):
        _run(capsys, ["fit", data_dir / "test.jsonl", "-o", tmp_path / "m", "--decision-prior", "estimate"])


def test_decision_prior_at_fit_and_overridden_at_predict(model_path, data_dir, tiny_encoder,
                                                         tmp_path, capsys):
    before = model_path.read_bytes()
    output = tmp_path / "pred.csv"
    status, _, _ = _run(capsys, ["predict", model_path, data_dir / "test.jsonl", "-o", output,
                                 "--decision-prior", "train"])
    assert status == 0
    model = load_model(model_path)
    proba_columns = [f"proba_{c}" for c in model.classes_]
    got = pd.read_csv(output)[proba_columns].to_numpy()
    texts = pd.read_json(data_dir / "test.jsonl", lines=True)["text"].tolist()
    expected = model.set_params(decision_prior="train").predict_proba(texts)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The training prior is not uniform here, so the override changed the decision rule.
    assert not np.allclose(got, load_model(model_path).predict_proba(texts), atol=1e-3)
    assert model_path.read_bytes() == before  # the model file is not rewritten

    fitted = tmp_path / "prior.joblib"
    status, _, _ = _run(capsys, [
        "fit", data_dir / "test.jsonl", "-o", fitted, "--encoder", tiny_encoder,
        "--max-epochs", "1", "--max-length", "16", "--decision-prior", "balanced"])
    assert status == 0 and load_model(fitted).decision_prior == "balanced"
    status, _, _ = _run(capsys, ["predict", fitted, data_dir / "test.jsonl", "-o", output,
                                 "--decision-prior", "none", "--force"])
    assert status == 0
    none_model = load_model(fitted).set_params(decision_prior=None)
    np.testing.assert_allclose(pd.read_csv(output)[proba_columns].to_numpy(),
                               none_model.predict_proba(texts), atol=1e-5)


def test_docs_show_the_current_help(monkeypatch, capsys):
    """docs/cli.md quotes each command's --help (at 90 columns); it must not drift."""
    from pathlib import Path
    import re

    docs = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(usage: sharprecl[^\n]*\n.*?)\n```", docs, flags=re.S)
    assert len(blocks) == 5
    monkeypatch.setenv("COLUMNS", "90")
    for block in blocks:
        words = block.split()
        command = [] if words[2].startswith("[") else [words[2]]
        with pytest.raises(SystemExit):
            main(command + ["--help"])
        assert capsys.readouterr().out.rstrip() == block.rstrip(), f"regenerate {command} help"


# ------------------------------------------------- issue #15: interrupts, overwrites, ...
FAST_FIT = ["--max-length", "16", "--validation-fraction", "none"]


@pytest.fixture
def ctrl_c_as_in_a_terminal():
    """SIGINT raising KeyboardInterrupt, as Python sets it up in a terminal: a suite started in
    the background (``cmd &``) inherits SIGINT ignored, and a real Ctrl-C would never arrive."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the child sets up its own handler, as from a shell


def _interrupt_when_epoch_begins(monkeypatch, epoch):
    """Send this process a real SIGINT (Ctrl-C) as training epoch ``epoch`` (1-based) begins.

    skorch catches the KeyboardInterrupt inside ``net.fit`` and returns
    normally, exactly as when a user presses Ctrl-C.
    """
    from sklearn_sharprecl._network.callbacks import HardShareSchedule

    original = HardShareSchedule.on_epoch_begin

    def on_epoch_begin(self, net, **kwargs):
        original(self, net, **kwargs)
        if len(net.history) == epoch:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(HardShareSchedule, "on_epoch_begin", on_epoch_begin)


def test_ctrl_c_during_fit_keeps_the_existing_model(model_path, data_dir, tiny_encoder,
                                                     tmp_path, capsys, monkeypatch, ctrl_c_as_in_a_terminal):
    target = tmp_path / "m.joblib"
    target.write_bytes(model_path.read_bytes())
    before = target.read_bytes()
    _interrupt_when_epoch_begins(monkeypatch, 2)
    status, out, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", target,
                                     "--encoder", tiny_encoder, "--max-epochs", "3", *FAST_FIT])
    assert status == 130, err
    assert target.read_bytes() == before  # the previous model is untouched
    assert "model written" not in out
    kept = tmp_path / "m.interrupted.joblib"
    assert err.strip().splitlines()[-1] == (
        f"sharprecl: interrupted after 1 complete epoch(s) of 3; {target} was left as it "
        f"was; the weights at the interrupt were saved to {kept}")
    assert [("dur" in row) for row in load_model(kept).net_.history] == [True, False]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.interrupted.joblib", "m.joblib"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    # A second interrupted fit never overwrites the first one's weights.
    status, _, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", target,
                                   "--encoder", tiny_encoder, "--max-epochs", "3", *FAST_FIT])
    assert status == 130 and f"saved to {tmp_path / 'm.interrupted-2.joblib'}" in err
    assert target.read_bytes() == before


def test_ctrl_c_in_the_first_epoch_writes_nothing(data_dir, tiny_encoder, tmp_path, capsys,
                                                  monkeypatch, ctrl_c_as_in_a_terminal):
    _interrupt_when_epoch_begins(monkeypatch, 1)
    status, out, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", tmp_path / "model",
                                     "--encoder", tiny_encoder, "--max-epochs", "2", *FAST_FIT])
    assert status == 130 and "model written" not in out
    assert err.strip().splitlines()[-1] == (
        "sharprecl: interrupted before the first epoch ended; nothing was written "
        f"({tmp_path / 'model'} was not written)")
    assert list(tmp_path.iterdir()) == []  # no model, no temporary files


def test_ctrl_c_of_the_command_exits_130(data_dir, tiny_encoder, tmp_path):
    """The real thing: SIGINT to a running ``sharprecl fit`` process."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"format": "sklearn-sharprecl"}')  # "a saved model"
    process = subprocess.Popen(
        [sys.executable, "-m", "sklearn_sharprecl.cli", "fit", str(data_dir / "test.jsonl"),
         "--model", str(model), "--encoder", tiny_encoder, "--max-epochs", "1000", "-v",
         *FAST_FIT],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
    )
    try:
        for line in process.stdout:  # wait for the log row of the first epoch
            if line.split()[:1] == ["1"]:
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert [p.name for p in model.iterdir()] == ["config.json"]  # left as it was
    assert f"saved to {tmp_path / 'model.interrupted'}" in err
    assert (tmp_path / "model.interrupted" / "model.safetensors").is_file()


def test_leftovers_next_to_the_model_do_not_break_a_fit(model_path, data_dir, tiny_encoder,
                                                        tmp_path, capsys):
    model = tmp_path / "model"
    save_model(load_model(model_path), model)
    (model / "NOTES.md").write_text("kept by the user")
    (tmp_path / "model.old").mkdir()
    (tmp_path / "model.old" / "x").write_text("left over")
    (tmp_path / "model.tmp").write_text("not ours either")
    status, out, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", model,
                                     "--encoder", tiny_encoder, "--max-epochs", "1", *FAST_FIT])
    assert status == 0, err
    assert f"model written to {model}" in out
    assert load_model(model).validation_fraction is None  # the new model replaced the old one
    assert (model / "NOTES.md").read_text() == "kept by the user"
    assert (tmp_path / "model.old" / "x").read_text() == "left over"
    assert (tmp_path / "model.tmp").read_text() == "not ours either"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.old", "model.tmp"]


class _RunsCode:
    """Unpickling this creates the directory ``marker``: evidence that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_only_pickle_suffixes_are_unpickled(tmp_path, capsys):
    import joblib

    marker = tmp_path / "code-ran"
    for name, what in [("evil.csv", "is a data file"), ("evil.bin", "is not a model")]:
        joblib.dump(_RunsCode(marker), tmp_path / name)
        status, _, err = _run(capsys, ["info", tmp_path / name])
        _assert_one_line_error(status, err, what, "MODEL must be a model directory",
                               ".joblib or .pkl file")
        with pytest.raises(ValueError, match="is not a model path"):
            load_model(tmp_path / name)
        assert not marker.exists()
    joblib.dump(_RunsCode(marker), tmp_path / "trusted.pkl")  # a pickle by name is loaded
    status, _, err = _run(capsys, ["info", tmp_path / "trusted.pkl"])
    assert marker.exists() and status == 1 and "not a SharpReCLClassifier" in err


def test_swapped_arguments_get_a_plain_error(model_path, data_dir, tmp_path, capsys):
    model = tmp_path / "model"
    save_model(load_model(model_path), model)
    status, _, err = _run(capsys, ["predict", data_dir / "test.jsonl", model,
                                   "-o", tmp_path / "p.csv"])
    _assert_one_line_error(status, err, "test.jsonl is a data file", "MODEL must be",
                           "usage: sharprecl predict MODEL DATA")
    status, _, err = _run(capsys, ["info", data_dir / "test.jsonl"])
    _assert_one_line_error(status, err, "test.jsonl is a data file", "usage: sharprecl info MODEL")
    status, _, err = _run(capsys, ["info", data_dir])
    _assert_one_line_error(status, err, "holds no saved model")
    assert not (tmp_path / "p.csv").exists()


def test_truncated_pickle_is_a_one_line_error(model_path, tmp_path, capsys):
    data = model_path.read_bytes()
    (tmp_path / "cut.joblib").write_bytes(data[: len(data) // 2])
    status, _, err = _run(capsys, ["info", tmp_path / "cut.joblib"])
    _assert_one_line_error(status, err, "could not load a model from", "truncated")
    assert not err.strip().endswith("EOFError")


def test_predict_never_overwrites_silently(model_path, data_dir, tmp_path, capsys):
    output = tmp_path / "pred.csv"
    output.write_text("precious\n")
    argv = ["predict", model_path, data_dir / "test.jsonl", "--output", output]
    status, _, err = _run(capsys, argv)
    _assert_one_line_error(status, err, f"{output} exists", "use --force")
    assert output.read_text() == "precious\n"
    status, out, err = _run(capsys, [*argv, "--force"])
    assert status == 0 and "wrote 60 predictions" in out, err
    assert "prediction" in pd.read_csv(output).columns

    data = tmp_path / "texts.csv"
    pd.read_json(data_dir / "test.jsonl", lines=True).to_csv(data, index=False)
    before = data.read_bytes()
    for output in (data, tmp_path / "." / "texts.csv"):
        status, _, err = _run(capsys, ["predict", model_path, data, "-o", output, "--force"])
        _assert_one_line_error(status, err, "is the input file")
    assert data.read_bytes() == before


def test_evaluate_never_overwrites_silently(model_path, data_dir, tmp_path, capsys):
    out_dir = tmp_path / "eval"
    out_dir.mkdir()
    (out_dir / "report.txt").write_text("an earlier report")
    argv = ["evaluate", model_path, data_dir / "test.jsonl", "--output-dir", out_dir]
    status, _, err = _run(capsys, argv)
    _assert_one_line_error(status, err, "already holds report.txt", "use --force")
    assert [p.name for p in out_dir.iterdir()] == ["report.txt"]
    status, out, err = _run(capsys, [*argv, "--force"])
    assert status == 0, err
    assert (out_dir / "report.txt").read_text() in out
    assert {p.name for p in out_dir.iterdir()} == REPORT_FILES


def test_info_shows_the_training_settings_of_a_saved_directory(model_path, tmp_path, capsys):
    estimator = load_model(model_path).set_params(random_state=7, augment="random_swap")
    save_model(estimator, tmp_path / "model")
    status, out, err = _run(capsys, ["info", tmp_path / "model", "--json"])
    assert status == 0, err
    info = json.loads(out)
    assert info["parameters"]["random_state"] == 7
    assert info["parameters"]["augment"] == "random_swap"
    assert info["saved_with"] == estimator.versions_  # the versions the model was made with


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="loading falls back only "
                    "where there is no CUDA")
def test_info_shows_the_device_a_directory_was_saved_with(model_path, tmp_path, capsys):
    save_model(load_model(model_path).set_params(device="cuda"), tmp_path / "model")
    assert load_model(tmp_path / "model").device == "cpu"  # loading falls back to the CPU
    status, out, err = _run(capsys, ["info", tmp_path / "model", "--json"])
    assert status == 0, err
    assert json.loads(out)["parameters"]["device"] == "cuda"  # the setting as saved


def test_verbose_fit_into_a_pipe_has_no_colours_or_bar_redraws(data_dir, tiny_encoder, tmp_path,
                                                               capsys):
    status, out, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", tmp_path / "m",
                                     "--encoder", tiny_encoder, "--max-epochs", "2", "-v",
                                     *FAST_FIT])
    assert status == 0, err
    assert "train_loss" in out  # the per-epoch log is printed ...
    assert "\x1b[" not in out + err  # ... without ANSI colour codes (capsys is not a tty)
    assert "\r" not in err


def test_progress_bar_for_predict(model_path, data_dir, tmp_path, capsys):
    argv = ["predict", model_path, data_dir / "test.jsonl", "-o", tmp_path / "p.csv"]
    status, _, err = _run(capsys, argv)
    assert status == 0 and "predicting" not in err  # stderr is not a terminal here
    status, _, err = _run(capsys, [*argv, "--force", "-v"])
    assert status == 0 and "predicting" in err and "/60" in err


def test_fit_help_describes_the_default_safe_format(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "Model files are joblib pickles" not in out
    assert "saved as a directory of safetensors weights and JSON" in out
    assert "Ctrl-C stops training without replacing --model (exit status 130)" in out


def test_docs_first_run_matches_its_commands():
    """The output quoted under 'A first run' is what those commands print."""
    from pathlib import Path
    import re

    docs = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    section = docs.split("## A first run", 1)[1].split("\n## ", 1)[0]
    model = re.search(r"sharprecl fit \S+ --model (\S+)", section).group(1)
    assert f"model written to {model}\n" in section
    for stale in ("(and the optimiser state)", "few hundred MB", "does not record the versions"):
        assert stale not in docs


# ------------------------------------------- issue #15: CALoRA models from a pickle
@pytest.fixture
def calora_path(fast_params, tickets, tmp_path):
    """A fitted CALoRAClassifier (rank 2, top_k 3) on a one-epoch base, as a joblib pickle."""
    import joblib

    from sklearn_sharprecl import CALoRAClassifier

    X, y = tickets
    base = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, y)
    # lr 1e-2: one epoch moves the experts far enough for CALoRA's predictions to
    # differ from the base's, so that a test can tell which of the two answered.
    model = CALoRAClassifier(base, rank=2, top_k=3, lr=1e-2, max_epochs=1,
                             random_state=0).fit(X, y)
    path = tmp_path / "models" / "calora.joblib"
    path.parent.mkdir()
    joblib.dump(model, path)
    return path


def test_info_of_a_calora_model(calora_path, tiny_encoder, capsys):
    model = load_model(calora_path)
    status, out, err = _run(capsys, ["info", calora_path])
    assert status == 0, err
    lines = out.splitlines()
    assert "class:    CALoRAClassifier (rank 2, top_k 3) on a SharpReCLClassifier" in lines
    assert f"encoder:  {tiny_encoder} (the base's, frozen)" in lines
    assert "epochs:   1 of the class experts; the base: 1" in lines
    for label, count in zip(model.classes_, model.class_counts_):  # the experts' training counts
        assert [label, str(count)] in [line.split() for line in lines]
    assert "  rank = 2" in lines and "  top_k = 3" in lines
    base_part = out.split("base parameters:\n", 1)[1]
    assert "  max_length = 32" in base_part
    routed = base_part.split("base routed parameters (those not at their defaults):\n", 1)[1]
    assert routed.splitlines()[0] == "  criterion__n_neg = 40"

    status, out, err = _run(capsys, ["info", calora_path, "--json"])
    assert status == 0, err
    info = json.loads(out)
    assert info["class"] == "CALoRAClassifier" and info["encoder"] == tiny_encoder
    assert info["classes"] == model.classes_.tolist()
    assert info["class_counts"] == model.class_counts_.tolist()
    assert (info["parameters"]["rank"], info["parameters"]["top_k"]) == (2, 3)
    assert "estimator" not in info["parameters"]  # described under "base"
    assert info["base"]["class"] == "SharpReCLClassifier"
    assert info["base"]["class_counts"] == model.estimator_.class_counts_.tolist()
    assert info["base"]["parameters"]["max_length"] == 32
    assert info["base"]["routed_parameters"] == {"criterion__n_neg": 40}
    assert info["saved_with"] == model.estimator_.versions_


def test_predict_with_a_calora_model(calora_path, data_dir, tmp_path, capsys):
    output = tmp_path / "pred.csv"
    status, out, err = _run(capsys, ["predict", calora_path, data_dir / "test.jsonl",
                                     "-o", output])
    assert status == 0 and "wrote 60 predictions" in out, err
    model = load_model(calora_path)
    texts = pd.read_json(data_dir / "test.jsonl", lines=True)["text"].tolist()
    pred = pd.read_csv(output)
    proba = pred[[f"proba_{c}" for c in model.classes_]].to_numpy()
    np.testing.assert_allclose(proba, model.predict_proba(texts), atol=1e-5)
    assert not np.allclose(proba, model.estimator_.predict_proba(texts), atol=1e-3)
    np.testing.assert_array_equal(pred["prediction"], model.predict(texts))


def test_evaluate_a_calora_model(calora_path, data_dir, tmp_path, capsys):
    out_dir = tmp_path / "eval"
    status, out, err = _run(capsys, ["evaluate", calora_path, data_dir / "test.jsonl",
                                     "--output-dir", out_dir])
    assert status == 0, err
    assert {p.name for p in out_dir.iterdir()} == REPORT_FILES
    notes = [line for line in err.splitlines() if line.startswith("sharprecl: note:")]
    assert len(notes) == 1 and "holds a CALoRAClassifier" in notes[0]
    assert "embeddings.png show its base SharpReCLClassifier" in notes[0]
    model = load_model(calora_path)
    test = pd.read_json(data_dir / "test.jsonl", lines=True)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["f1_macro"] == pytest.approx(
        f1_score(test["label"], model.predict(test["text"].tolist()), average="macro"))
    assert {c: v["train_count"] for c, v in metrics["per_class"].items()} == {
        str(c): int(n) for c, n in zip(model.classes_, model.class_counts_)}
    assert (out_dir / "report.txt").read_text() in out


def test_calora_model_refuses_decision_prior(calora_path, data_dir, tmp_path, capsys):
    for argv in (["predict", calora_path, data_dir / "test.jsonl", "-o", tmp_path / "p.csv"],
                 ["evaluate", calora_path, data_dir / "test.jsonl", "-o", tmp_path / "eval"]):
        status, _, err = _run(capsys, [*argv, "--decision-prior", "train"])
        _assert_one_line_error(status, err, "--decision-prior applies to a SharpReCLClassifier",
                               "holds a CALoRAClassifier")
    assert list(tmp_path.iterdir()) == [calora_path.parent]  # nothing written


def test_unfitted_calora_pickle_is_refused(tmp_path, capsys):
    import joblib

    from sklearn_sharprecl import CALoRAClassifier

    joblib.dump(CALoRAClassifier(), tmp_path / "unfitted.pkl")
    status, _, err = _run(capsys, ["info", tmp_path / "unfitted.pkl"])
    _assert_one_line_error(status, err, "is not fitted")


@pytest.mark.parametrize("option, value, message", [
    ("--lr", "fast", "argument --lr: invalid float value: 'fast'"),
    ("--max-epochs", "2.5", "argument --max-epochs: invalid int value: '2.5'"),
    ("--validation-fraction", "half",
     "argument --validation-fraction: expected a number or 'none', got 'half'"),
    ("--set", "=3", "argument --set: expected NAME=VALUE, got '=3'"),
])
def test_options_that_are_not_numbers_are_usage_errors(option, value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "data.csv", "--model", "m", option, value])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"sharprecl fit: error: {message}"


@pytest.mark.parametrize("option, value, message", [
    ("--mu", "-1", "The 'mu' parameter of SharpReCLClassifier must be a float in the range "
                   "[0.0, inf). Got -1.0 instead."),
    ("--tau", "0", "The 'tau' parameter of SharpReCLClassifier must be a float in the range "
                   "(0.0, inf). Got 0.0 instead."),
    ("--max-epochs", "0", "The 'max_epochs' parameter"),
    ("--max-length", "1", "The 'max_length' parameter"),
    ("--random-state", "-1", "The 'random_state' parameter"),
    ("--random-state", "4294967296", "The 'random_state' parameter"),
    ("--validation-fraction", "1", "The 'validation_fraction' parameter"),
    ("--head-init", "probe", "The 'head_init' parameter"),
    ("--set", "head_lr=0", "The 'head_lr' parameter"),
    ("--set", "precision=fp16", "The 'precision' parameter"),
    ("--set", "optimizer__eps=small", "The 'optimizer__eps' parameter of SharpReCLClassifier must be "
                                      "a float in the range [0.0, inf). Got 'small' instead."),
    ("--set", "optimizer__betas=0.9", "The 'optimizer__betas' parameter"),
    ("--contrastive", "always", "The 'contrastive' parameter"),
])
def test_values_the_estimator_refuses_are_its_one_line_errors(option, value, message, data_dir,
                                                               tmp_path, capsys, monkeypatch):
    def no_loading(*args, **kwargs):  # the estimator's first step towards its encoder
        raise AssertionError("the encoder was resolved before the parameters were checked")

    monkeypatch.setattr("sklearn_sharprecl._estimators.settings.resolve_encoder", no_loading)
    status, _, err = _run(capsys, ["fit", data_dir / "test.jsonl", "--model", tmp_path / "m",
                                   option, value])
    where = f"--set {value.split('=')[0]}" if option == "--set" else option
    _assert_one_line_error(status, err, f"sharprecl: error: {where}: {message}")
    assert list(tmp_path.iterdir()) == []  # no model, no temporary files


@pytest.mark.parametrize("device, fragment", [
    ("nonsense", "is not a torch device"),
    pytest.param("cuda", "no CUDA device is available",
                 marks=pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA present")),
])
def test_unusable_device_is_one_line_before_any_loading(data_dir, tmp_path, capsys, device, fragment):
    # Refused in one line, before the (default) encoder is loaded.
    status, _, err = _run(capsys, ["fit", data_dir / "train.csv", "--model", tmp_path / "m",
                                   "--text-column", "text", "--label-column", "label",
                                   "--device", device])
    _assert_one_line_error(status, err, fragment)
    assert not (tmp_path / "m").exists()
