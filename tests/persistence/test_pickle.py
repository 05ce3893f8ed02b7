"""pickle and joblib: a model round-trips before and after fit, loads on the CPU, keeps no training data."""

import io
import pickle

import joblib
import numpy as np
import pytest
import torch

from sklearn_sharprecl import SharpReCLClassifier


@pytest.fixture(scope="module")
def probe_texts(tickets):
    """Texts to compare predictions on, none of them training texts of ``ten_per_class``."""
    return tickets[0][-40:]


def _round_trip(obj, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(obj))
    joblib.dump(obj, tmp_path / "model.joblib")
    return joblib.load(tmp_path / "model.joblib")


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_before_fit(params, ten_per_class, probe_texts, tmp_path, how):
    clf = SharpReCLClassifier(**params, callbacks__lr_schedule__warmup_fraction=0.2)
    loaded = _round_trip(clf, how, tmp_path)
    assert joblib.hash(loaded.get_params()) == joblib.hash(clf.get_params())
    np.testing.assert_array_equal(loaded.fit(*ten_per_class).predict_proba(probe_texts),
                                  clf.fit(*ten_per_class).predict_proba(probe_texts))


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_pickle_after_fit(params, ten_per_class, probe_texts, tmp_path, how, recwarn):
    clf = SharpReCLClassifier(**params).fit(*ten_per_class)
    expected = clf.predict_proba(probe_texts)
    loaded = _round_trip(clf, how, tmp_path)
    # Same library versions: loading warns about none.
    assert not [w for w in recwarn if "version" in str(w.message).lower()]
    assert loaded.net_.module_ is not clf.net_.module_
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(probe_texts), expected)
    np.testing.assert_array_equal(loaded.transform(probe_texts), clf.transform(probe_texts))


@pytest.mark.cuda
def test_model_pickled_on_cuda_loads_on_the_cpu(fast_params, tickets, tmp_path, monkeypatch):
    from skorch.exceptions import DeviceWarning

    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "device": "cuda"}).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    expected = clf.predict_proba(X[:10])
    joblib.dump(clf, tmp_path / "cuda.joblib")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning, match="cuda"):
        loaded = joblib.load(tmp_path / "cuda.joblib")
    assert str(loaded.net_.device) == "cpu"
    assert not any(p.is_cuda for p in loaded.net_.module_.parameters())
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), expected, atol=1e-5)


def test_fitted_model_keeps_no_training_data(fitted_with_validation, tickets):
    X, _ = tickets
    assert fitted_with_validation.net_.train_split is None  # skorch kept the validation texts there
    early = dict(fitted_with_validation.net_.callbacks_)["early_stopping"]
    assert early.best_model_weights_ is None
    blob = joblib_bytes(fitted_with_validation)
    for text in X[:50]:
        ids = fitted_with_validation.tokenizer_(text)["input_ids"][1:-1]
        assert bytes(np.asarray(ids, dtype=np.int64)) not in blob


def joblib_bytes(obj):
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()

