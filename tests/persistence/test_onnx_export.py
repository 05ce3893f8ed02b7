"""ONNX export of a fitted SharpReCLClassifier and its torch-free loader (sklearn_sharprecl.deploy)."""

import copy
import json
import re
import subprocess
import sys

import numpy as np
import onnx
import pandas as pd
import pytest

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._persistence.onnx_export import export_onnx
from sklearn_sharprecl._text.synthetic import make_support_tickets
from sklearn_sharprecl.deploy import ONNXTextClassifier

from conftest import fit_on_one_thread


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    X, y = tickets
    # fp32, as the exported graph computes: bf16 autocast would differ by its rounding.
    clf = SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=3, precision="fp32",
                              contrastive=None, lr=3e-3, random_state=0)
    return fit_on_one_thread(clf, X, y)


@pytest.fixture(scope="module")
def held_out():
    """Balanced tickets of another seed, and a few texts longer than max_length=32 tokens."""
    X, y = make_support_tickets(n_samples=300, imbalance_ratio=1, random_state=1)
    long_texts = [" ".join(X[i:i + 6]) for i in range(0, 60, 6)]
    return X + long_texts


@pytest.fixture(scope="module")
def exported(fitted, tmp_path_factory):
    return export_onnx(fitted, tmp_path_factory.mktemp("onnx") / "fp32")


@pytest.mark.parametrize("decision_prior", [None, "train", [1, 2, 3, 4, 5, 6]])
def test_fp32_matches_the_torch_estimator(fitted, held_out, tmp_path, decision_prior):
    clf = copy.copy(fitted).set_params(decision_prior=decision_prior)
    model = ONNXTextClassifier.load(export_onnx(clf, tmp_path / "m"))
    assert max(len(ids) for ids in model.token_ids(held_out)) == 32  # truncation is exercised
    np.testing.assert_allclose(model.predict_proba(held_out), clf.predict_proba(held_out), atol=1e-4)
    np.testing.assert_allclose(model.decision_function(held_out), clf.decision_function(held_out), atol=1e-4)
    np.testing.assert_allclose(model.predict_log_proba(held_out), clf.predict_log_proba(held_out), atol=1e-4)
    np.testing.assert_array_equal(model.predict(held_out), clf.predict(held_out))
    assert model.classes_.dtype == clf.classes_.dtype


def test_binary_decision_function_and_trained_prior_of_other_losses(tiny_encoder, tickets, tmp_path):
    X, y = tickets
    binary = np.where(y == y[0], "first", "other")
    clf = SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1, precision="fp32",
                              contrastive=None, classification_loss="cross_entropy",
                              decision_prior="balanced", random_state=0).fit(X, binary)
    model = ONNXTextClassifier.load(export_onnx(clf, tmp_path / "m"))
    assert model.decision_function(X).shape == (len(X),)
    np.testing.assert_allclose(model.decision_function(X), clf.decision_function(X), atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(X), clf.predict_proba(X), atol=1e-4)


def test_int8_agrees_with_the_torch_estimator(fitted, held_out, tmp_path):
    reference = fitted.predict_proba(held_out)
    # A set on which agreement means something: the model tells several classes apart.
    assert len(np.unique(reference.argmax(1))) >= 4
    path = export_onnx(fitted, tmp_path / "int8", quantize="int8")
    model = ONNXTextClassifier.load(path)
    proba = model.predict_proba(held_out)
    assert model.quantization == "int8"
    assert (proba.argmax(1) == reference.argmax(1)).mean() >= 0.98
    assert np.abs(proba - reference).max() > 1e-6  # int8 arithmetic, not the fp32 graph
    nodes = onnx.load(str(path / "model.onnx")).graph.node
    int8 = [n.name for n in nodes if n.op_type == "MatMulInteger"]
    assert any("/encoder/" in name for name in int8)
    assert not any("classifier" in name for name in int8)  # the head stays fp32


def test_loader_imports_no_torch(fitted, exported, held_out):
    texts = held_out[:20]
    script = (
        "import json, sys\n"
        "from sklearn_sharprecl.deploy import ONNXTextClassifier\n"
        f"model = ONNXTextClassifier.load({str(exported)!r})\n"
        f"labels = model.predict({texts!r}).tolist()\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sklearn', 'skorch') if m in sys.modules)\n"
        "own = sorted(m for m in sys.modules if m.startswith('sklearn_sharprecl.'))\n"
        "print(json.dumps({'labels': labels, 'heavy': heavy, 'own': own}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    assert result["heavy"] == []
    # The loader stands on the torch-free leaf alone, not on the estimators' or the persistence modules.
    assert [m for m in result["own"] if not m.startswith("sklearn_sharprecl._shared")] == ["sklearn_sharprecl.deploy"]
    assert result["labels"] == fitted.predict(texts).tolist()


@pytest.mark.parametrize("truncation", ["head_tail", "chunks"])
def test_refused_truncation_writes_nothing(fitted, tmp_path, truncation):
    clf = copy.copy(fitted).set_params(truncation=truncation)
    with pytest.raises(ValueError, match="truncation='head' only"):
        export_onnx(clf, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_int8_copy_is_refused(fitted, tmp_path):
    with pytest.raises(ValueError, match="quantize='int8'"):
        export_onnx(fitted.quantize_int8(), tmp_path / "m")


def test_never_overwrites_a_users_directory(fitted, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "model.onnx").write_text("my own file")
    with pytest.raises(FileExistsError, match="not empty"):
        export_onnx(fitted, mine)
    assert (mine / "model.onnx").read_text() == "my own file"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        export_onnx(fitted, tmp_path / "a-file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert ONNXTextClassifier.load(export_onnx(fitted, empty)).quantization is None


def test_reexport_replaces_its_own_files_only(fitted, held_out, tmp_path):
    path = export_onnx(fitted, tmp_path / "m")
    (path / "README.md").write_text("notes")
    export_onnx(fitted, path, quantize="int8")
    assert (path / "README.md").read_text() == "notes"
    assert ONNXTextClassifier.load(path).quantization == "int8"


def test_modified_model_is_refused(fitted, tmp_path):
    path = export_onnx(fitted, tmp_path / "m")
    with open(path / "model.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="SHA-256"):
        ONNXTextClassifier.load(path)


def test_loader_refuses_a_single_string(exported):
    model = ONNXTextClassifier.load(exported)
    with pytest.raises(TypeError, match="single string"):
        model.predict("who wrote hamlet")


def _error(call):
    """The exception ``call()`` raises (its type and message), or None."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - compared as a whole below
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("X", [
    pd.DataFrame({"subject": ["printer jammed", "refund please"], "body": ["again", "now"]}),
    np.array([["printer jammed", "again"], ["refund please", "now"]], dtype=object),
    ["fine", "abc\ud800"],
    None,
    [],
    "a single string",
    ["ok", None],
    ["ok", 3],
    [b"bytes", "ok"],
    np.empty((2, 2, 2), dtype=object),
], ids=["two-column-frame", "two-column-array", "lone-surrogate", "None", "empty", "single-string",
        "None-element", "int-element", "bytes-element", "3-d"])
def test_loader_refuses_what_the_estimator_refuses_with_the_same_error(fitted, exported, X):
    model = ONNXTextClassifier.load(exported)
    expected = _error(lambda: fitted.predict(X))
    assert expected is not None
    for method in ("predict", "predict_proba", "decision_function", "token_ids"):
        assert _error(lambda: getattr(model, method)(X)) == expected, method


def test_loader_accepts_what_the_estimator_accepts(fitted, exported, held_out):
    model = ONNXTextClassifier.load(exported)
    texts = held_out[:12]
    expected = fitted.predict_proba(texts)
    for X in (tuple(texts), np.asarray(texts, dtype=object), pd.Series(texts),
              pd.DataFrame({"text": texts}), np.asarray(texts, dtype=object).reshape(-1, 1)):
        np.testing.assert_allclose(model.predict_proba(X), expected, atol=1e-4)


@pytest.mark.parametrize("batch_size, got", [(-1, "-1"), (0, "0"), (None, "None"), (2.5, "2.5"), (True, "True"),
                                             ("8", "'8'")])
def test_load_refuses_a_bad_batch_size_before_reading_anything(exported, tmp_path, batch_size, got):
    message = (f"The 'batch_size' parameter of ONNXTextClassifier.load must be an int in the range [1, inf). "
               f"Got {got} instead.")
    for directory in (exported, tmp_path / "no-such-directory"):
        with pytest.raises(ValueError, match=re.escape(message)):
            ONNXTextClassifier.load(directory, batch_size=batch_size)


@pytest.mark.parametrize("name, value, expected", [
    ("intra_op_num_threads", 0, "an int in the range [1, inf) or None. Got 0 instead."),
    ("intra_op_num_threads", 1.5, "an int in the range [1, inf) or None. Got 1.5 instead."),
    ("providers", "CPUExecutionProvider", "a list of str or None. Got 'CPUExecutionProvider' instead."),
])
def test_load_validates_its_other_parameters(exported, name, value, expected):
    with pytest.raises(ValueError, match=re.escape(f"The '{name}' parameter of ONNXTextClassifier.load must be "
                                                   f"{expected}")):
        ONNXTextClassifier.load(exported, **{name: value})


def test_any_valid_batch_size_gives_the_same_answers(fitted, exported, held_out):
    texts = held_out[:7]
    expected = fitted.predict_proba(texts)
    for batch_size in (1, np.int64(3), 7, 1000):
        model = ONNXTextClassifier.load(exported, batch_size=batch_size)
        np.testing.assert_allclose(model.predict_proba(texts), expected, atol=1e-4)
    model = ONNXTextClassifier.load(exported)
    with pytest.raises(ValueError, match=re.escape("The 'batch_size' parameter of ONNXTextClassifier must be an int "
                                                   "in the range [1, inf). Got -1 instead.")):
        model.batch_size = -1


def test_a_misspelt_decision_prior_is_refused_by_predict_and_by_the_export(fitted, tmp_path):
    clf = copy.copy(fitted).set_params(decision_prior="balnced")
    with pytest.raises(ValueError, match="decision_prior must be 'balanced', 'train', None or"):
        clf.predict_proba(["printer jammed"])
    with pytest.raises(ValueError, match="decision_prior must be 'balanced', 'train', None or"):
        export_onnx(clf, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_failed_export_leaves_the_previous_one_as_it_was(fitted, held_out, tmp_path, monkeypatch):
    from sklearn_sharprecl._persistence import onnx_export

    path = export_onnx(fitted, tmp_path / "m")
    (path / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    expected = ONNXTextClassifier.load(path).predict_proba(held_out[:20])

    def fail(estimator, target):
        raise OSError("disk full")

    monkeypatch.setattr(onnx_export, "_write_tokenizer", fail)  # after the graph was written
    with pytest.raises(OSError, match="disk full"):
        export_onnx(fitted, path, quantize="int8")
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left
    np.testing.assert_array_equal(ONNXTextClassifier.load(path).predict_proba(held_out[:20]), expected)
