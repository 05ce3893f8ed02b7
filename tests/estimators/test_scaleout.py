"""Beyond one device: Hugging Face Accelerate and joblib's Dask backend."""

import io
import os

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from skorch.callbacks import Callback

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._network.net import AcceleratedSharpReCLNet


def test_accelerate_path_trains_on_cpu_in_one_process(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**fast_params, accelerate={"cpu": True}).fit(X, y)
    assert isinstance(clf.net_, AcceleratedSharpReCLNet)
    batch = clf.net_.history[0]["batches"][0]
    assert batch["contrastive_loss"] > 0
    proba = clf.predict_proba(X[:10])
    assert proba.shape == (10, 6) and np.allclose(proba.sum(1), 1, atol=1e-5)
    # 'auto' leaves the probe out under Accelerate (the tickets' rarest class has 9 texts).
    assert clf.head_init_ == "random"
    # Same seed, same start, same math: the Accelerate path matches the plain one on CPU.
    plain = SharpReCLClassifier(**fast_params, head_init="random").fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X[:10]), proba, atol=1e-5)
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(joblib.load(buffer).predict_proba(X[:10]), proba)


def test_accelerate_rejects_a_second_precision_setting(fast_params, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="mixed_precision"):
        SharpReCLClassifier(**{**fast_params, "precision": "bf16"}, accelerate=True).fit(X, y)


class RecordProcess(Callback):
    """Appends the id of the process each fit trains in to ``path`` (one line per fit)."""

    def __init__(self, path):
        self.path = path

    def on_train_begin(self, net, **kwargs):
        with open(self.path, "a") as f:
            f.write(f"{os.getpid()}\n")


def test_grid_search_on_a_dask_cluster(fast_params, tickets, tmp_path):
    from dask import distributed  # a test dependency: its absence fails, never skips

    X, y = tickets
    fits = tmp_path / "fits.txt"
    search = GridSearchCV(
        SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, callbacks=[RecordProcess(str(fits))]),
        param_grid={"mu": [0.5, 1.0], "tau": [0.3, 1.0]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="f1_macro",
    )
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        worker_pids = set(client.run(os.getpid).values())
    pids = [int(line) for line in fits.read_text().split()]
    # The 8 cross-validation fits ran in the workers' processes; the refit ran here.
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    assert len(pids) == 9 and pids[-1] == os.getpid()
    assert set(pids[:-1]) <= worker_pids
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
