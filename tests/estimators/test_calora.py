"""Class-aware LoRA expert routing: the layer (paper Eq. 3-4) and the two-stage estimator."""

import copy
import io

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from torch import nn

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._estimators.calora import CALoRAClassifier, ClassAwareLoRALinear


def _layer(d_in=16, n_classes=6, rank=3, top_k=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    return ClassAwareLoRALinear(nn.Linear(d_in, n_classes), rank=rank, top_k=top_k, **kwargs)


def _randomise_b(layer, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g))
    return layer


# ---------------------------------------------------------------- the layer
def test_zero_b_gives_exactly_the_base_logits():
    layer = _layer()
    assert torch.count_nonzero(layer.lora_B) == 0
    x = torch.randn(50, 16)
    assert torch.equal(layer(x), layer.base(x))
    x3 = torch.randn(4, 7, 16)  # token states: any leading shape
    assert torch.equal(layer(x3), layer.base(x3))


def test_nonzero_b_changes_the_logits():
    layer = _randomise_b(_layer())
    x = torch.randn(20, 16)
    assert not torch.allclose(layer(x), layer.base(x))


@pytest.mark.parametrize("top_k", [1, 2, 4, 6])
def test_mask_keeps_the_blocks_of_the_base_top_k_classes(top_k):
    rank, n_classes = 3, 6
    layer = _layer(rank=rank, top_k=top_k)
    x = torch.randn(40, 16)
    mask = layer.routing_mask(x)
    assert mask.shape == (40, n_classes * rank)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(mask.sum(1), torch.full((40,), float(top_k * rank)))
    # Block c (columns c*r .. c*r+r-1) is on iff c is among the base's top-k.
    blocks = mask.view(40, n_classes, rank)
    assert torch.equal(blocks.amin(-1), blocks.amax(-1))  # whole blocks only
    on = blocks[..., 0].bool()
    ranks = layer.base(x).argsort(dim=1, descending=True).argsort(dim=1)
    assert torch.equal(on, ranks < top_k)
    assert torch.equal(layer.route(x), layer.base(x).topk(top_k, dim=1).indices)


def test_forward_equals_the_loop_over_selected_experts():
    """h = W0 x + sum_{c in topk(x)} B_c A_c x (Eq. 4 written expert by expert)."""
    rank = 2
    layer = _randomise_b(_layer(rank=rank, top_k=3))
    x = torch.randn(10, 16)
    expected = layer.base(x).clone()
    for i, classes in enumerate(layer.route(x)):
        for c in classes.tolist():
            a = layer.lora_A[c * rank:(c + 1) * rank]
            b = layer.lora_B[:, c * rank:(c + 1) * rank]
            expected[i] += b @ (a @ x[i])
    torch.testing.assert_close(layer(x), expected)


def test_top_1_routing_is_the_argmax_of_the_base_logits():
    layer = _layer(top_k=1)
    x = torch.randn(64, 16)
    assert torch.equal(layer.route(x)[:, 0], layer.base(x).argmax(1))
    on = layer.routing_mask(x).view(64, 6, -1)[..., 0].argmax(1)
    assert torch.equal(on, layer.base(x).argmax(1))


def test_gradients_reach_only_a_and_b():
    layer = _randomise_b(_layer())
    layer(torch.randn(8, 16)).logsumexp(1).sum().backward()
    assert layer.base.weight.grad is None and layer.base.bias.grad is None
    assert not layer.base.weight.requires_grad and not layer.base.bias.requires_grad
    assert layer.lora_A.grad is not None and layer.lora_A.grad.abs().sum() > 0
    assert layer.lora_B.grad is not None and layer.lora_B.grad.abs().sum() > 0
    assert {n for n, p in layer.named_parameters() if p.requires_grad} == {"lora_A", "lora_B"}


def test_unselected_experts_get_no_gradient():
    rank = 2
    layer = _randomise_b(_layer(rank=rank, top_k=1))
    x = torch.randn(5, 16)
    layer(x).sum().backward()
    used = set(layer.route(x)[:, 0].tolist())
    for c in range(6):
        block = layer.lora_A.grad[c * rank:(c + 1) * rank]
        assert (block.abs().sum() > 0) == (c in used)


def test_parameter_count_and_scaling():
    layer = _layer(d_in=16, n_classes=6, rank=3, alpha=6)
    assert layer.n_trainable_parameters() == 6 * 3 * 16 + 6 * 6 * 3
    assert layer.scaling == 2.0
    ref = _layer(d_in=16, n_classes=6, rank=3)
    with torch.no_grad():
        layer.lora_B.copy_(_randomise_b(ref).lora_B)
        layer.lora_A.copy_(ref.lora_A)
    x = torch.randn(5, 16)
    torch.testing.assert_close(layer(x) - layer.base(x), 2 * (ref(x) - ref.base(x)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"rank": 0}, ValueError, "rank == 0, must be >= 1"),
        ({"top_k": 0}, ValueError, "top_k == 0, must be >= 1"),
        ({"top_k": 7}, ValueError, "top_k=7 is larger than the number of classes"),
        ({"rank": 2.5}, TypeError, "rank must be an instance of int"),
        ({"alpha": -1.0}, ValueError, "alpha == -1.0, must be > 0"),
    ],
)
def test_layer_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        ClassAwareLoRALinear(nn.Linear(4, 6), **kwargs)


def test_layer_rejects_a_non_linear_base():
    with pytest.raises(TypeError, match="torch.nn.Linear"):
        ClassAwareLoRALinear(nn.Conv1d(4, 6, 1))


# ------------------------------------------------------------ the estimator
@pytest.fixture(scope="module")
def base(tiny_encoder, tickets):
    X, y = tickets
    return SharpReCLClassifier(
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=3, criterion__n_neg=40,
        lr=3e-3, random_state=0, precision="fp32",  # the head must reproduce the base exactly
    ).fit(X, y)


@pytest.fixture(scope="module")
def calora(base, tickets):
    X, y = tickets
    return CALoRAClassifier(base, rank=4, top_k=2, max_epochs=5, random_state=0).fit(X, y)


def test_fits_an_unfitted_base_on_a_clone(fast_params, tickets):
    X, y = tickets
    given = SharpReCLClassifier(**fast_params)
    clf = CALoRAClassifier(given, rank=2, top_k=2, max_epochs=2, random_state=0).fit(X, y)
    assert not hasattr(given, "net_")  # the given estimator was not fitted
    assert clf.estimator_ is not given
    assert clf.estimator_.get_params() == given.get_params()
    assert list(clf.classes_) == sorted(set(y))
    proba = clf.predict_proba(X[:9])
    assert proba.shape == (9, 6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert len(clf.net_.history) == 2


def test_a_fitted_base_is_used_as_is_and_not_modified(base, tickets):
    X, y = tickets
    before = base.predict_proba(X)
    weights = {k: v.clone() for k, v in base.net_.module_.state_dict().items()}
    history = len(base.net_.history)
    clf = CALoRAClassifier(base, rank=4, top_k=3, max_epochs=5, lr=1e-2, random_state=0).fit(X, y)
    assert clf.estimator_ is base
    assert len(base.net_.history) == history
    for k, v in base.net_.module_.state_dict().items():
        assert torch.equal(v, weights[k]), k
    assert all(p.requires_grad for p in base.net_.module_.classifier.parameters())
    np.testing.assert_array_equal(base.predict_proba(X), before)
    # ... while the head did move away from the base.
    assert torch.count_nonzero(clf.head_.lora_B) > 0
    assert not np.allclose(clf.predict_proba(X), before, atol=1e-4)


def test_fitted_contract(calora, base, tickets):
    X, y = tickets
    np.testing.assert_array_equal(calora.classes_, base.classes_)
    assert isinstance(calora.head_, ClassAwareLoRALinear)
    proba = calora.predict_proba(X[:11])
    assert proba.shape == (11, 6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    pred = calora.predict(X[:11])
    np.testing.assert_array_equal(pred, calora.classes_[proba.argmax(1)])
    np.testing.assert_allclose(
        torch.softmax(torch.from_numpy(calora.decision_function(X[:11])), 1).numpy(), proba, atol=1e-6
    )
    assert calora.score(X, y) > 0.5
    np.testing.assert_array_equal(calora.class_counts_, [np.sum(np.asarray(y) == c) for c in calora.classes_])
    # The routing is the base's own ranking.
    routes = calora.route(X[:11])
    assert routes.shape == (11, 2)
    np.testing.assert_array_equal(routes[:, 0], base.predict(X[:11]))


def test_head_with_zero_b_reproduces_the_base(calora, base, tickets):
    X, _ = tickets
    head = copy.deepcopy(calora.head_)
    with torch.no_grad():
        head.lora_B.zero_()
        logits = head(torch.from_numpy(base.transform(X[:30])))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), base.predict_proba(X[:30]), atol=1e-5)


def test_n_trainable_parameters(calora, base):
    n_classes, rank = len(base.classes_), 4
    hidden = base.net_.module_.classifier.in_features
    assert calora.n_trainable_parameters_ == n_classes * rank * hidden + n_classes * n_classes * rank
    trainable = [n for n, p in calora.head_.named_parameters() if p.requires_grad]
    assert trainable == ["lora_A", "lora_B"]


def test_clone_get_params_set_params(base):
    clf = CALoRAClassifier(base, rank=3, top_k=1, lr=0.01, random_state=7)
    params = clf.get_params(deep=False)
    assert params["rank"] == 3 and params["top_k"] == 1 and params["estimator"] is base
    cloned = clone(clf)
    assert cloned.rank == 3 and cloned.top_k == 1 and cloned.random_state == 7
    assert not hasattr(cloned.estimator, "net_")  # clone gives an unfitted base
    # set_params on the clone: the fitted base fixture stays as it is.
    assert clone(cloned.set_params(rank=5, estimator__max_epochs=1)).rank == 5
    assert cloned.get_params()["estimator__max_epochs"] == 1
    # The base's routed settings are reached the same way, and survive clone.
    cloned.set_params(estimator__criterion__n_neg=64)
    assert clone(cloned).get_params()["estimator__criterion__n_neg"] == 64
    assert base.get_params()["max_epochs"] == 3 and base.get_params()["criterion__n_neg"] == 40
    assert CALoRAClassifier().get_params() == {
        "estimator": None, "rank": 8, "top_k": 2, "lr": 1e-3, "max_epochs": 20,
        "batch_size": 64, "classification_loss": "logit_adjusted", "random_state": None,
        "verbose": 0,
    }


def test_binary_decision_function_is_one_score_per_text(fast_params, tickets):
    """Two classes: logit of classes_[1] minus that of classes_[0], which 'roc_auc' reads."""
    from sklearn.metrics import get_scorer, roc_auc_score

    X, y = tickets
    keep = np.isin(y, ["billing", "shipping"])
    X2, y2 = [x for x, k in zip(X, keep) if k], np.asarray(y)[keep]
    base = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X2, y2)
    clf = CALoRAClassifier(base, rank=2, top_k=1, max_epochs=2, random_state=0).fit(X2, y2)
    scores = clf.decision_function(X2[:20])
    assert scores.shape == (20,)
    proba = clf.predict_proba(X2[:20])
    np.testing.assert_allclose(1 / (1 + np.exp(-scores)), proba[:, 1], atol=1e-5)
    np.testing.assert_array_equal(clf.predict(X2[:20]), clf.classes_[(scores > 0).astype(int)])
    assert get_scorer("roc_auc")(clf, X2, y2) == pytest.approx(
        roc_auc_score(y2 == clf.classes_[1], clf.decision_function(X2)))


def test_grid_search_over_rank_and_top_k(base, tickets):
    X, y = tickets
    search = GridSearchCV(
        CALoRAClassifier(FrozenEstimator(base), max_epochs=2, random_state=0),
        {"rank": [1, 4], "top_k": [1, 3]},
        cv=2,
        scoring="f1_macro",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.head_.rank == search.best_params_["rank"]
    assert search.best_estimator_.estimator_.estimator is base


def test_same_random_state_gives_identical_heads(base, tickets):
    X, y = tickets
    a = CALoRAClassifier(base, rank=2, max_epochs=2, random_state=3).fit(X, y)
    b = CALoRAClassifier(base, rank=2, max_epochs=2, random_state=3).fit(X, y)
    assert torch.equal(a.head_.lora_A, b.head_.lora_A)
    assert torch.equal(a.head_.lora_B, b.head_.lora_B)


def test_joblib_round_trip_is_identical(calora, tickets):
    X, _ = tickets
    buffer = io.BytesIO()
    joblib.dump(calora, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), calora.predict_proba(X))


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        CALoRAClassifier().predict(["text"])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"rank": 0}, "'rank' parameter"),
        ({"top_k": 0}, "'top_k' parameter"),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"classification_loss": "hinge"}, "'classification_loss' parameter"),
        ({"estimator": "bert"}, "'estimator' parameter"),
    ],
)
def test_invalid_hyperparameters_raise(params, match, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match=match):
        CALoRAClassifier(**params).fit(X, y)


def test_top_k_larger_than_the_number_of_classes_raises(base, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="top_k=7 is larger than the number of classes 6"):
        CALoRAClassifier(base, top_k=7).fit(X, y)


def test_labels_unknown_to_a_fitted_base_raise(base, tickets):
    X, y = tickets
    y = np.asarray(y, dtype=object)
    y[0] = "warranty"
    with pytest.raises(ValueError, match="'warranty'"):
        CALoRAClassifier(base).fit(X, y)


# ------------------------------------------------------- the pickle-free format
def test_save_pretrained_round_trip_is_identical(calora, base, tickets, tmp_path):
    import json

    X, _ = tickets
    path = calora.save_pretrained(tmp_path / "model")
    assert {"config.json", "head.safetensors", "history.json", "base"} <= {p.name for p in path.iterdir()}
    assert not list(path.rglob("*.pkl")) and not list(path.rglob("*.joblib"))
    loaded = CALoRAClassifier.load_pretrained(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), calora.predict_proba(X))
    np.testing.assert_array_equal(loaded.decision_function(X), calora.decision_function(X))
    np.testing.assert_array_equal(loaded.route(X[:20]), calora.route(X[:20]))
    np.testing.assert_array_equal(loaded.predict(X), calora.predict(X))
    assert loaded.n_trainable_parameters_ == calora.n_trainable_parameters_
    np.testing.assert_array_equal(loaded.class_counts_, calora.class_counts_)
    assert len(loaded.net_.history) == len(calora.net_.history) == 5
    # The parameter 'estimator' comes back as an unfitted copy of the base.
    params = {k: v for k, v in loaded.get_params(deep=False).items() if k != "estimator"}
    assert params == {k: v for k, v in calora.get_params(deep=False).items() if k != "estimator"}
    assert loaded.estimator.get_params() == loaded.estimator_.get_params()
    assert not hasattr(loaded.estimator, "net_")
    assert json.loads((path / "config.json").read_text())["params"]["estimator"] == "base"


def test_save_pretrained_fails_atomically(calora, fast_params, tickets, tmp_path):
    from skorch.callbacks import Callback

    class RecordsASet(Callback):
        def on_epoch_end(self, net, **kwargs):
            net.history.record("user_value", {"not", "json"})

    X, y = tickets
    path = calora.save_pretrained(tmp_path / "model")
    before = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    unsavable_base = SharpReCLClassifier(**{**fast_params, "max_epochs": 1},
                                         callbacks=[("user", RecordsASet())])
    broken = CALoRAClassifier(unsavable_base, rank=2, max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="not JSON serializable"):
        broken.save_pretrained(path)
    after = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    np.testing.assert_array_equal(CALoRAClassifier.load_pretrained(path).predict_proba(X[:20]),
                                  calora.predict_proba(X[:20]))


def test_save_pretrained_refuses_other_directories_and_tampered_files(calora, base, tmp_path):
    sharp = base.save_pretrained(tmp_path / "sharp")
    with pytest.raises(FileExistsError, match="holds no saved CALoRA model"):
        calora.save_pretrained(sharp)
    path = calora.save_pretrained(tmp_path / "model")
    head = path / "head.safetensors"
    data = bytearray(head.read_bytes())
    data[-1] ^= 1
    head.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="head.safetensors does not match the SHA-256"):
        CALoRAClassifier.load_pretrained(path)


def test_a_default_base_and_a_random_state_object_are_saved_as_data(base, fast_params, tickets, tmp_path):
    X, y = tickets
    clf = CALoRAClassifier(base, rank=2, max_epochs=1, random_state=np.random.RandomState(0)).fit(X, y)
    clf.set_params(estimator=None)  # as if fitted with the default base
    loaded = CALoRAClassifier.load_pretrained(clf.save_pretrained(tmp_path / "model"))
    assert loaded.estimator is None and loaded.random_state is None
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]), clf.predict_proba(X[:20]))


def test_load_pretrained_checks_the_saved_settings(calora, tmp_path):
    import json

    path = calora.save_pretrained(tmp_path / "model")
    config = json.loads((path / "config.json").read_text())
    config["params"]["top_k"] = 0
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="config.json holds an invalid setting.*'top_k' parameter"):
        CALoRAClassifier.load_pretrained(path)
