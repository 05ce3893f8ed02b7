"""Batch prediction of a dask text column with an exported model (sklearn_sharprecl.deploy_dask)."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._text.synthetic import make_support_tickets
from sklearn_sharprecl.deploy import ONNXTextClassifier
from sklearn_sharprecl.deploy_dask import (cache_info, clear_cache, load_cached, predict_dask,
                                           predict_partition)

from conftest import fit_on_one_thread


def _fit(tiny_encoder, X, y):
    clf = SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1,
                              contrastive=None, lr=3e-3, random_state=0, precision="fp32")
    return fit_on_one_thread(clf, X, y)


@pytest.fixture(scope="module")
def exported(tiny_encoder, tickets, tmp_path_factory):
    """An export of a six-class model (string labels)."""
    X, y = tickets
    return _fit(tiny_encoder, X, y).export_onnx(tmp_path_factory.mktemp("onnx") / "six")


@pytest.fixture(scope="module")
def texts():
    X, _ = make_support_tickets(n_samples=160, imbalance_ratio=1, random_state=1)
    return pd.Series(X, index=pd.RangeIndex(1000, 1000 + len(X)), name="text")


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_cache()
    yield
    clear_cache()


def test_predict_partition_matches_the_loader(exported, texts):
    model = ONNXTextClassifier.load(exported)
    part = texts.iloc[10:40]
    labels = predict_partition(part, exported)
    assert isinstance(labels, pd.Series) and labels.name == "prediction"
    pd.testing.assert_index_equal(labels.index, part.index)
    np.testing.assert_array_equal(labels.to_numpy(), model.predict(part.tolist()))
    proba = predict_partition(part, exported, method="predict_proba")
    assert list(proba.columns) == list(model.classes_)
    pd.testing.assert_index_equal(proba.index, part.index)
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(part.tolist()))
    scores = predict_partition(part.to_frame(), exported, method="decision_function")
    np.testing.assert_allclose(scores.to_numpy(), model.decision_function(part.tolist()))
    assert cache_info()["loads"] == 1 and cache_info()["calls"] == 3


def test_binary_decision_function_is_one_column(tiny_encoder, tickets, tmp_path):
    X, y = tickets
    keep = np.flatnonzero(np.isin(y, ["billing", "refund"]))
    path = _fit(tiny_encoder, [X[i] for i in keep], y[keep]).export_onnx(tmp_path / "binary")
    part = pd.Series([X[i] for i in keep[:12]])
    scores = predict_partition(part, path, method="decision_function")
    assert isinstance(scores, pd.Series) and scores.name == "decision_function"
    np.testing.assert_allclose(scores.to_numpy(), ONNXTextClassifier.load(path).decision_function(part))


def test_an_empty_partition_gives_empty_output_of_the_same_form(exported, texts):
    empty = texts.iloc[:0]
    for method in ("predict", "predict_proba", "decision_function"):
        out = predict_partition(empty, exported, method=method)
        full = predict_partition(texts.iloc[:3], exported, method=method)
        assert len(out) == 0 and type(out) is type(full)
        if isinstance(full, pd.DataFrame):
            assert list(out.columns) == list(full.columns)
        else:
            assert out.dtype == full.dtype and out.name == full.name


def test_load_cached_loads_once_per_directory_and_settings(exported):
    first = load_cached(exported)
    assert load_cached(str(exported)) is first
    assert cache_info() == {"loads": 1, "calls": 0, "models": [str(exported.resolve())]}
    other = load_cached(exported, batch_size=8)  # other settings: loaded again, replacing it
    assert other is not first and other.batch_size == 8 and cache_info()["loads"] == 2
    assert len(cache_info()["models"]) == 1
    # A directory exported again (its classifier.json rewritten) is read again.
    config = exported / "classifier.json"
    stat = config.stat()
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert load_cached(exported, batch_size=8) is not other and cache_info()["loads"] == 3


def test_predict_dask_refuses_what_it_cannot_predict(exported, tmp_path):
    with pytest.raises(TypeError, match="dask Series"):
        predict_dask(["a text"], exported)
    dd = pytest.importorskip("dask.dataframe")
    series = dd.from_pandas(pd.Series(["a text"]), npartitions=1)
    with pytest.raises(ValueError, match="method"):
        predict_dask(series, exported, method="transform")
    with pytest.raises(FileNotFoundError, match="classifier.json"):
        predict_dask(series, tmp_path)  # not an export: fails here, not on the workers


def test_predict_dask_loads_the_model_once_per_worker(exported, texts):
    from dask import dataframe as dd
    from dask import distributed  # a test dependency: its absence fails, never skips

    model = ONNXTextClassifier.load(exported)
    frame = dd.from_pandas(texts.to_frame(), npartitions=8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        labels = predict_dask(frame["text"], exported)
        proba = predict_dask(frame["text"], exported, method="predict_proba")
        assert labels.npartitions == 8
        labels, proba = client.compute([labels, proba], sync=True)
        per_worker = client.run(cache_info)
        worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    pd.testing.assert_index_equal(labels.index, texts.index)
    np.testing.assert_array_equal(labels.to_numpy(), model.predict(texts.tolist()))
    # Other batches, other padding: equal up to float32 rounding.
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(texts.tolist()), rtol=1e-5, atol=1e-7)
    assert list(proba.columns) == list(model.classes_)
    # 16 partitions predicted (8 per method) by two workers, each of which loaded the model once.
    calls = {worker: info["calls"] for worker, info in per_worker.items()}
    loads = {worker: info["loads"] for worker, info in per_worker.items()}
    assert sum(calls.values()) == 16 and all(n > 0 for n in calls.values()), calls
    assert loads == {worker: 1 for worker in per_worker}, loads
    assert cache_info()["loads"] == 0  # nothing was loaded in this process


def test_imports_no_torch(exported, texts):
    """A worker image needs neither torch nor transformers nor scikit-learn."""
    script = (
        "import json, sys\n"
        "import dask.dataframe as dd, pandas as pd\n"
        "from sklearn_sharprecl.deploy_dask import predict_dask\n"
        f"texts = dd.from_pandas(pd.Series({texts.tolist()[:20]!r}), npartitions=2)\n"
        f"labels = predict_dask(texts, {str(exported)!r}).compute(scheduler='sync').tolist()\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sklearn', 'skorch') if m in sys.modules)\n"
        "print(json.dumps({'labels': labels, 'heavy': heavy}))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    assert result["heavy"] == []
    assert result["labels"] == ONNXTextClassifier.load(exported).predict(texts.tolist()[:20]).tolist()
