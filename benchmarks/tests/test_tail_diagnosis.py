import numpy as np
import pytest

from benchmarks.tail_diagnosis import per_class


def test_per_class_on_tiny_arrays():
    classes = np.array([0, 1, 2])
    y_dev = np.array([0, 0, 1, 1, 2, 2])
    # Class 2's texts rank first on its own score (AUC 1) but its scores sit 1 below: never predicted.
    scores = np.array([[2., 0., 1.], [2., 0., 1.], [0., 2., 1.], [0., 2., 1.], [0., 3., 2.], [3., 0., 2.]])
    y_train = np.array([0, 0, 0, 1, 1, 2])
    embeddings = np.array([[1., 0.], [1., 0.], [1., 0.], [0., 1.], [0., 1.], [0., 1.]])
    prototypes = np.array([[2., 0.], [0., 1.], [1., 0.]])
    out = per_class(y_dev, scores, y_train, embeddings, prototypes, classes)
    assert out["train_count"] == [3, 2, 1] and out["dev_count"] == [2, 2, 2]
    assert out["recall"] == [1.0, 1.0, 0.0] and out["precision"] == [pytest.approx(2 / 3), pytest.approx(2 / 3), 0.0]
    assert out["auc"][2] == 1.0
    assert out["margin_own"][2] == pytest.approx(-1.0)
    # Over its own texts, class 2 is 2 - mean(0, 3, 2) and 2 - mean(3, 0, 2), both 1/3.
    assert out["offset_own"][2] == pytest.approx(1 / 3)
    assert out["offset_all"][0] == pytest.approx(np.mean(scores[:, 0] - scores.mean(1)))
    assert out["proto_norm"] == [2.0, 1.0, 1.0]
    assert out["proto_cos"] == [pytest.approx(1.0), pytest.approx(1.0), pytest.approx(0.0)]
