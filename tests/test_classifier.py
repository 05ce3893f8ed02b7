import io

import joblib
import pickle
import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback

from conftest import SELECTION, ValidationScoreAtEnd, validation_score_at_end
from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._data import TokenizedTexts


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=3, n_neg=40,
        lr=3e-3, random_state=0, validation_fraction=0.1,
    )
    return clf.fit(X, y)


def test_fit_predict_contract(fitted, tickets):
    X, y = tickets
    assert list(fitted.classes_) == sorted(set(y))
    proba = fitted.predict_proba(X[:7])
    assert proba.shape == (7, 6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    pred = fitted.predict(X[:7])
    assert set(pred) <= set(fitted.classes_)
    np.testing.assert_array_equal(pred, fitted.classes_[proba.argmax(1)])
    assert fitted.score(X, y) > 0.8  # the tickets are learnable even by a tiny random BERT
    assert fitted.class_counts_.sum() < len(X)  # the validation split was held out
    assert fitted.prototypes_.shape == (6, 128)
    assert fitted.transform(X[:3]).shape == (3, 32)


def test_predictions_are_in_input_order_whatever_the_lengths(fitted, tickets):
    X, _ = tickets
    texts = sorted(X[:20], key=len, reverse=True)
    one_by_one = np.vstack([fitted.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(fitted.predict_proba(texts), one_by_one, atol=1e-5)


def test_history_records_both_loss_parts(fitted):
    batch = fitted.net_.history[0]["batches"][0]
    assert batch["contrastive_loss"] > 0 and batch["classification_loss"] > 0
    assert fitted.net_.history[:, "hard_share"][0] == 0.5
    assert "valid_f1_macro" in fitted.net_.history[-1]


def test_best_epoch_is_restored(tiny_encoder, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=4, n_neg=20,
        lr=3e-3, random_state=4, n_iter_no_change=4, callbacks=[ValidationScoreAtEnd()],
        **SELECTION,
    ).fit(X, y)
    scores = clf.net_.history[:, "valid_f1_macro"]
    # This seed's best epoch is not the last one, so the check can fail.
    assert int(np.argmax(scores)) != len(scores) - 1
    assert validation_score_at_end(clf) == pytest.approx(max(scores), abs=1e-12)


@pytest.mark.parametrize("settings", [{}, {"truncation": "chunks", "max_length": 8, "train_layers": 1}])
def test_same_random_state_gives_identical_models(fast_params, tickets, settings):
    X, y = tickets
    a = SharpReCLClassifier(**{**fast_params, **settings}).fit(X, y).predict_proba(X[:30])
    b = SharpReCLClassifier(**{**fast_params, **settings}).fit(X, y).predict_proba(X[:30])
    np.testing.assert_array_equal(a, b)
    c = SharpReCLClassifier(**{**fast_params, "random_state": 1}).fit(X, y).predict_proba(X[:30])
    assert not np.allclose(a, c)


def test_get_params_clone_set_params(fast_params):
    clf = SharpReCLClassifier(**fast_params, mu=0.5, tau=0.7)
    params = clf.get_params()
    assert params["mu"] == 0.5 and params["tau"] == 0.7 and params["augment"] == "dropout"
    cloned = clone(clf)
    assert cloned.get_params() == params and cloned is not clf
    assert clf.set_params(mu=2.0).mu == 2.0


def test_grid_search_over_mu_and_tau(fast_params, tickets):
    X, y = tickets
    search = GridSearchCV(
        SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "validation_fraction": None}),
        param_grid={"mu": [0.5, 1.0], "tau": [0.3, 1.0]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="f1_macro",
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mu"] in (0.5, 1.0)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_joblib_round_trip_is_identical(fitted, tickets):
    X, _ = tickets
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X[:25]), fitted.predict_proba(X[:25]))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)


def test_in_imblearn_pipeline_after_a_sampler(fast_params, tickets):
    X, y = tickets
    X2d = np.asarray(X, dtype=object).reshape(-1, 1)  # samplers need 2-D X
    pipe = ImbPipeline(
        [("oversample", RandomOverSampler(random_state=0)),
         ("clf", SharpReCLClassifier(**fast_params))]
    ).fit(X2d, y)
    counts = pipe.named_steps["clf"].class_counts_
    assert counts.max() - counts.min() <= 1  # oversampled to balance, then split stratified
    assert pipe.predict(X2d[:5]).shape == (5,)


def test_sklearn_pipeline_routes_precomputed_views(fast_params, tickets):
    X, y = tickets
    augmented = [t.upper() for t in X]
    pipe = Pipeline([("clf", SharpReCLClassifier(**fast_params))])
    pipe.fit(X, y, clf__X_aug=augmented)
    assert pipe.score(X, y) > 0


def test_dataframe_and_series_inputs(fast_params, tickets):
    X, y = tickets
    frame = pd.DataFrame({"id": range(len(X)), "body": X})
    clf = SharpReCLClassifier(**fast_params, text_column="body").fit(frame, pd.Series(y))
    assert clf.predict(frame.head(3)).shape == (3,)
    single = SharpReCLClassifier(**fast_params).fit(pd.DataFrame({"t": X}), y)
    assert single.predict(pd.Series(X[:4])).shape == (4,)


def test_integer_labels_and_unseen_label_at_score(fast_params, tickets):
    X, y = tickets
    codes = {c: i * 10 for i, c in enumerate(sorted(set(y)))}
    y_int = np.array([codes[c] for c in y])
    clf = SharpReCLClassifier(**fast_params).fit(X, y_int)
    assert clf.classes_.dtype.kind == "i"
    assert set(clf.predict(X[:10])) <= set(codes.values())
    # A label never seen in fit is simply never predicted: counted as wrong.
    assert clf.score(X[:10], [999] * 10) == 0.0


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        SharpReCLClassifier().predict(["hello"])


def test_ablations_switch_the_training_objective(fast_params, tickets):
    X, y = tickets
    first_batch = {}
    for name, params in {
        "sharp": {},
        "supcon": {"contrastive": "supcon"},
        "ce": {"contrastive": None, "classification_loss": "cross_entropy"},
    }.items():
        clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, **params}).fit(X, y)
        first_batch[name] = clf.net_.history[0]["batches"][0]
    assert first_batch["ce"]["contrastive_loss"] == 0
    assert first_batch["sharp"]["contrastive_loss"] != first_batch["supcon"]["contrastive_loss"]


def test_linear_schedule_warms_up_then_decays_to_zero(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "lr_schedule": "linear", "warmup_fraction": 0.25,
                                 "validation_fraction": None, "max_epochs": 2}).fit(X, y)
    lrs = [b["event_lr"] for row in clf.net_.history for b in row["batches"]]
    steps = 2 * -(-len(X) // fast_params["batch_size"])
    assert len(lrs) == steps
    peak = int(np.argmax(lrs))
    assert peak == round(0.25 * steps) - 1 or peak == round(0.25 * steps)
    assert np.all(np.diff(lrs[:peak + 1]) > 0) and np.all(np.diff(lrs[peak:]) < 0)
    assert max(lrs) == pytest.approx(fast_params["lr"]) and lrs[-1] < 0.1 * fast_params["lr"]
    # No optimizer survives in the fitted model through the scheduler.
    assert all(getattr(cb, "lr_scheduler_", None) is None for _, cb in clf.net_.callbacks_)


def test_no_validation_split(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "validation_fraction": None}).fit(X, y)
    assert clf.class_counts_.sum() == len(X)
    assert "valid_f1_macro" not in clf.net_.history[-1]


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tau": 0}, "tau"),
        ({"mu": -1}, "mu"),
        ({"k_hard": 0}, "k_hard"),
        ({"pooling": "max"}, "pooling"),
        ({"classification_loss": "hinge"}, "classification_loss"),
        ({"contrastive": "simclr"}, "contrastive"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"precision": "fp8"}, "precision"),
        ({"lr_schedule": "cosine"}, "lr_schedule"),
        ({"warmup_fraction": 1.0}, "warmup_fraction"),
        ({"head_init": "zeros"}, "head_init"),
    ],
)
def test_invalid_hyperparameters_raise(params, match, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match=match):
        SharpReCLClassifier(**params).fit(X, y)


def test_unknown_keyword_raises():
    with pytest.raises(TypeError):
        SharpReCLClassifier(temperature=0.3)


class CountingAugmenter:
    """A user augmenter (nlpaug's interface) that records how often it is asked."""

    def __init__(self):
        self.calls = 0

    def augment(self, texts):
        self.calls += 1
        return [" ".join(reversed(t.split())) for t in texts]


def test_views_are_made_once_per_fit_unless_asked_each_epoch(fast_params, tickets):
    X, y = tickets
    once = CountingAugmenter()
    SharpReCLClassifier(**{**fast_params, "max_epochs": 3}, augment=once).fit(X, y)
    assert once.calls == 1
    each = CountingAugmenter()
    SharpReCLClassifier(**{**fast_params, "max_epochs": 3}, augment=each, augment_each_epoch=True).fit(X, y)
    assert each.calls == 3


@pytest.mark.parametrize("preset", ["random_swap", "random_delete"])
def test_augmentation_presets_train(fast_params, tickets, preset):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, augment=preset).fit(X, y)
    assert clf.net_.history[0]["batches"][0]["contrastive_loss"] > 0


def test_unknown_augment_preset_is_refused(fast_params, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="wordnet"):
        SharpReCLClassifier(**fast_params, augment="backtranslate").fit(X, y)


@pytest.fixture(scope="module")
def fitted_for_prior(tiny_encoder, tickets):
    X, y = tickets
    return SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1,
                               n_neg=20, random_state=0).fit(X, y)


class TestDecisionPrior:
    """``decision_prior`` moves the posterior by Bayes' rule, at prediction time only."""

    @pytest.fixture
    def fitted(self, fitted_for_prior):
        return fitted_for_prior

    def test_train_prior_multiplies_the_balanced_posterior(self, fitted, tickets):
        X, _ = tickets
        balanced = fitted.predict_proba(X[:30])
        prior = fitted.class_counts_ / fitted.class_counts_.sum()
        fitted.set_params(decision_prior="train")
        try:
            moved = fitted.predict_proba(X[:30])
            expected = balanced * prior
            np.testing.assert_allclose(moved, expected / expected.sum(1, keepdims=True), rtol=1e-5)
            # the head class gains predictions, the tail loses them
            head, tail = np.argmax(prior), np.argmin(prior)
            assert (moved.argmax(1) == head).sum() >= (balanced.argmax(1) == head).sum()
            assert (moved.argmax(1) == tail).sum() <= (balanced.argmax(1) == tail).sum()
            fitted.set_params(decision_prior="balanced")  # what the logit-adjusted loss already gives
            np.testing.assert_allclose(fitted.predict_proba(X[:30]), balanced, rtol=1e-5)
            fitted.set_params(decision_prior=list(prior * 7))  # any scale; order of classes_
            np.testing.assert_allclose(fitted.predict_proba(X[:30]), moved, rtol=1e-5)
        finally:
            fitted.set_params(decision_prior=None)

    def test_balanced_on_a_cross_entropy_model_divides_by_the_training_prior(self, fast_params, tickets):
        X, y = tickets
        clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, contrastive=None,
                                  classification_loss="cross_entropy").fit(X, y)
        raw = clf.predict_proba(X[:30])
        clf.set_params(decision_prior="balanced")
        expected = raw / (clf.class_counts_ / clf.class_counts_.sum())
        np.testing.assert_allclose(clf.predict_proba(X[:30]),
                                   expected / expected.sum(1, keepdims=True), rtol=1e-5)

    @pytest.mark.parametrize("prior", [[0.5, 0.5], [1, 1, 1, 1, 1, -1], [1, 1, 1, 1, 1, np.nan]])
    def test_a_wrong_prior_is_refused_in_fit_and_predict(self, fitted, fast_params, tickets, prior):
        X, y = tickets
        with pytest.raises(ValueError, match="one positive, finite number per class"):
            SharpReCLClassifier(**fast_params, decision_prior=prior).fit(X, y)
        fitted.set_params(decision_prior=prior)
        try:
            with pytest.raises(ValueError, match="one positive, finite number per class"):
                fitted.predict(X[:3])
        finally:
            fitted.set_params(decision_prior=None)

    def test_saved_and_restored(self, fitted, tickets, tmp_path):
        X, _ = tickets
        fitted.set_params(decision_prior=[1, 2, 3, 4, 5, 6])
        try:
            fitted.save_pretrained(tmp_path / "m")
            loaded = SharpReCLClassifier.load_pretrained(tmp_path / "m")
            assert loaded.decision_prior == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
            np.testing.assert_allclose(loaded.predict_proba(X[:10]), fitted.predict_proba(X[:10]),
                                       rtol=1e-6)
        finally:
            fitted.set_params(decision_prior=None)


def test_estimated_prior_follows_the_class_mix_of_the_unlabelled_texts(fitted, tickets):
    X, y = tickets
    X, y = np.asarray(X, dtype=object), np.asarray(y)
    head = fitted.classes_[np.argmax(fitted.class_counts_)]
    # Unlabelled texts where the head class is 4 in 5, then 1 in 5.
    rest = np.flatnonzero(y != head)
    mostly_head = np.r_[np.flatnonzero(y == head)[:4 * 20], rest[:20]]
    few_head = np.r_[np.flatnonzero(y == head)[:10], rest[:40]]
    k = list(fitted.classes_).index(head)
    high = fitted.estimate_decision_prior(list(X[mostly_head]))
    low = fitted.estimate_decision_prior(list(X[few_head]))
    assert high.shape == (6,) and high.sum() == pytest.approx(1.0) and np.all(high > 0)
    assert high[k] > 0.6 and low[k] < 0.35
    assert fitted.decision_prior is None  # an estimate, not a setting
    # EM's fixed point: decided under the estimate, the texts' mean posterior is the estimate
    # (so the order is classes_' and the prior means what decision_prior means).
    fitted.set_params(decision_prior=high)
    try:
        np.testing.assert_allclose(fitted.predict_proba(list(X[mostly_head])).mean(0), high, atol=1e-5)
    finally:
        fitted.set_params(decision_prior=None)


def test_estimated_prior_of_a_cross_entropy_model_is_relative_to_the_training_prior(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, contrastive=None,
                              classification_loss="cross_entropy").fit(X, y)
    prior = clf.estimate_decision_prior(X[:60])
    clf.set_params(decision_prior=prior)
    np.testing.assert_allclose(clf.predict_proba(X[:60]).mean(0), prior, atol=1e-5)


def test_models_pickled_before_centring_and_the_step_schedule_still_work(fast_params, tickets):
    X, y = tickets
    # Such models were trained uncentred; the default is centred now.
    uncentred = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, center_prototypes=False).fit(X, y)
    old = pickle.loads(pickle.dumps(uncentred))
    for name in ("center_prototypes", "hard_share_schedule"):
        del old.__dict__[name]
    del old.net_.module_.prototype_head.__dict__["center"]
    restored = pickle.loads(pickle.dumps(old))
    assert restored.get_params()["center_prototypes"] is False
    assert restored.get_params()["hard_share_schedule"] == "epoch"
    np.testing.assert_allclose(restored.prototypes_, uncentred.prototypes_, atol=1e-6)
    np.testing.assert_allclose(restored.predict_proba(X[:5]), uncentred.predict_proba(X[:5]), atol=1e-6)


def test_steps_per_epoch_follow_the_accelerate_processes(monkeypatch):
    import accelerate

    class TwoProcesses:
        num_processes = 2

    monkeypatch.setattr(accelerate, "PartialState", TwoProcesses)
    assert SharpReCLClassifier(batch_size=16)._steps_per_epoch(81) == 6
    assert SharpReCLClassifier(batch_size=16, accelerate=True)._steps_per_epoch(81) == 3
    assert SharpReCLClassifier(batch_size=16, accelerate={"split_batches": True})._steps_per_epoch(81) == 6


def test_int8_inference_is_close_and_leaves_the_fp32_model_alone(fitted, tickets, tmp_path):
    X, _ = tickets
    fp32 = fitted.predict_proba(X)
    weights = {k: v.clone() for k, v in fitted.net_.module_.state_dict().items()}
    module = fitted.net_.module_
    try:
        fitted.set_params(inference_quantization="int8")
        int8 = fitted.predict_proba(X)
        assert fitted.net_.module_ is module  # swapped back after the call
        assert fitted.transform(X[:3]).shape == (3, 32)
        # The quantized copy is a cache: not pickled.
        assert "_quantized" in vars(fitted)
        assert "_quantized" not in joblib.load(_dumped(fitted)).__dict__
        # The shipped variant (benchmarks/quantization.py): encoder only, per-channel scales.
        quantized = vars(fitted)["_quantized"][1]
        assert type(quantized.classifier) is torch.nn.Linear
        query = quantized.encoder.encoder.layer[0].attention.self.query
        assert query.weight().qscheme() == torch.per_channel_affine
    finally:
        fitted.set_params(inference_quantization=None)
    assert not np.array_equal(int8, fp32)  # it did run quantized
    assert np.abs(int8 - fp32).max() < 0.1
    assert (int8.argmax(1) == fp32.argmax(1)).mean() > 0.95
    for name, value in fitted.net_.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name


def _dumped(estimator):
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    buffer.seek(0)
    return buffer


class PaddingMeter(Callback):
    """Padded and real token counts of the training batches."""

    def on_train_begin(self, net, **kwargs):
        self.padded = self.real = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            mask = batch[0]["attention_mask"]
            self.padded += mask.numel()
            self.real += int(mask.sum())


def test_group_by_length_pads_less_and_stays_deterministic(fast_params, tickets):
    X, y = tickets
    # Texts of very different lengths, so that padding matters.
    X = [t if i % 3 else " ".join([t] * 4) for i, t in enumerate(X)]
    waste = {}
    for grouped in (False, True):
        params = {**fast_params, "max_epochs": 1, "max_length": 128, "group_by_length": grouped}
        clf = SharpReCLClassifier(**params, callbacks=[PaddingMeter()]).fit(X, y)
        meter = dict(clf.net_.callbacks_)["PaddingMeter"]
        waste[grouped] = 1 - meter.real / meter.padded
        if grouped:
            again = SharpReCLClassifier(**params).fit(X, y)
            np.testing.assert_array_equal(clf.predict_proba(X[:20]), again.predict_proba(X[:20]))
    # Mega-batches of only 3 batches on 224 texts: still a third less padding.
    assert waste[True] < 0.7 * waste[False]


def test_head_tail_truncation_keeps_both_ends(tiny_encoder, fast_params, tickets, tmp_path):
    from sklearn_sharprecl._data import tokenize
    from sklearn_sharprecl._encoder import load_tokenizer

    tokenizer = load_tokenizer(tiny_encoder)
    text = " ".join(tickets[0][0].split() * 10)
    full = tokenizer(text)["input_ids"]
    (head,), (head_tail,) = tokenize(tokenizer, [text], 16), tokenize(tokenizer, [text], 16, "head_tail")
    assert head.tolist() == full[:15] + [tokenizer.sep_token_id]
    assert head_tail.tolist() == full[:4] + full[-12:]
    assert head_tail[0] == tokenizer.cls_token_id and head_tail[-1] == tokenizer.sep_token_id
    short = tickets[0][1]
    assert tokenize(tokenizer, [short], 64, "head_tail")[0].tolist() == tokenizer(short)["input_ids"]

    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "max_length": 8,
                                 "truncation": "head_tail"}).fit(X, y)
    loaded = SharpReCLClassifier.load_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.truncation == "head_tail"
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), clf.predict_proba(X[:10]), atol=1e-6)
    head_model = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, "max_length": 8}).fit(X, y)
    assert not np.allclose(head_model.predict_proba(X[:10]), clf.predict_proba(X[:10]))


def test_chunked_truncation_keeps_every_token_in_windows(tiny_encoder):
    from sklearn_sharprecl._data import PadCollator, tokenize
    from sklearn_sharprecl._encoder import load_tokenizer

    tokenizer = load_tokenizer(tiny_encoder)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    texts = ["the moon " * 20, "how far", ""]
    long_text, short, empty = tokenize(tokenizer, texts, 16, "chunks")
    content = tokenizer(texts[0], add_special_tokens=False)["input_ids"]
    assert len(content) == 40
    windows = long_text.split(16)
    assert [len(w) for w in windows] == [16, 16, 14]  # 14 + 14 + 12 text tokens
    assert all(w[0] == cls and w[-1] == sep for w in windows)
    assert [t for w in windows for t in w[1:-1].tolist()] == content
    assert short.tolist() == tokenizer("how far")["input_ids"]
    assert empty.tolist() == [cls, sep]

    batch = [([long_text, long_text], torch.tensor(0)), ([short, short], torch.tensor(1))]
    inputs, _ = PadCollator(0, chunk_length=16)(batch)
    # View-major rows: text 0 (3 chunks), text 1, then the second view of each.
    assert inputs["chunk_owner"].tolist() == [0, 0, 0, 1, 2, 2, 2, 3]
    assert inputs["input_ids"].shape == (8, 16)
    assert inputs["attention_mask"].sum(1).tolist() == [16, 16, 14, 4, 16, 16, 14, 4]
    with pytest.raises(ValueError, match="no room for text"):
        tokenize(tokenizer, texts, 2, "chunks")


def test_chunk_features_are_the_token_weighted_mean_of_their_windows(tiny_encoder):
    from sklearn_sharprecl._data import PadCollator, tokenize
    from sklearn_sharprecl._encoder import load_tokenizer
    from sklearn_sharprecl._module import SharpReCLModule

    tokenizer = load_tokenizer(tiny_encoder)
    module = SharpReCLModule(tiny_encoder, n_classes=2).eval()
    long_text, short = tokenize(tokenizer, ["the moon is far " * 9, "who is the moon"], 16, "chunks")
    windows = long_text.split(16)
    with torch.no_grad():
        label = torch.tensor(0)
        chunked = module.encode(**PadCollator(0, chunk_length=16)([([long_text], label), ([short], label)])[0])
        separate = module.encode(**PadCollator(0)([([w], label) for w in [*windows, short]])[0])
    n = torch.tensor([len(w) for w in windows], dtype=torch.float32)[:, None]
    torch.testing.assert_close(chunked[0], (separate[:-1] * n).sum(0) / n.sum(), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(chunked[1], separate[-1], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("train_layers", [None, 1])
def test_chunked_model_fits_reads_whole_texts_and_saves(fast_params, tickets, tmp_path, train_layers):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1, "max_length": 8, "train_layers": train_layers}
    clf = SharpReCLClassifier(**params, truncation="chunks").fit(X, y)
    loaded = SharpReCLClassifier.load_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.truncation == "chunks"
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), clf.predict_proba(X[:10]), atol=1e-6)
    # Tokens beyond the first window change a chunked model's output.
    tail = [text + " " + " ".join(["moon"] * 12) for text in X[:10]]
    assert not np.allclose(clf.predict_proba(tail), clf.predict_proba(X[:10]))
    # A head-truncated model never sees them (these tickets are all longer than 8 tokens).
    head = SharpReCLClassifier(**params).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(tail), head.predict_proba(X[:10]), atol=1e-6)
    # Texts longer than the encoder's 128 positions only fit when cut apart.
    book = " ".join(["moon"] * 300)
    assert clf.net_.iterator_train__collate_fn.chunk_length == 8
    assert np.isfinite(clf.predict_proba([book])).all()
    # Inference follows settings changed after fit (the collator used to stay as fitted).
    head.set_params(truncation="chunks")
    assert np.isfinite(head.predict_proba([book])).all()
    clf.set_params(max_length=16)
    clf.predict_proba(X[:2])
    assert clf.net_.iterator_valid__collate_fn.chunk_length == 16


def test_pool_chunks_gives_zeros_for_a_text_without_tokens():
    from sklearn_sharprecl._module import pool_chunks

    features = torch.tensor([[1.0, 3.0], [3.0, 5.0], [7.0, 7.0]])
    pooled = pool_chunks(features, torch.tensor([1, 3, 0]), torch.tensor([0, 0, 1]))
    torch.testing.assert_close(pooled, torch.tensor([[2.5, 4.5], [0.0, 0.0]]))


def test_selection_on_balanced_validation_log_loss(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 3, "lr": 3e-3, "random_state": 2,
                                 "n_iter_no_change": None, "selection_metric": "balanced_log_loss",
                                 **SELECTION},
                              callbacks=[ValidationScoreAtEnd()]).fit(X, y)
    history = clf.net_.history
    losses, f1s = history[:, "valid_balanced_log_loss"], history[:, "valid_f1_macro"]
    best = int(np.argmin(losses))
    assert best != int(np.argmax(f1s))  # this seed: the two rules disagree
    # The restored epoch is the loss's best, whatever macro-F1 said.
    assert validation_score_at_end(clf) == pytest.approx(f1s[best], abs=1e-12)
    assert all(np.isfinite(losses)) and min(losses) > 0


def test_long_document_settings_survive_save_and_load(fast_params, tickets, tmp_path):
    X, y = tickets
    settings = {"group_by_length": True, "inference_quantization": "int8", "truncation": "head_tail",
                "train_layers": 1, "lr_schedule": "linear", "selection_metric": "balanced_log_loss",
                "head_init": "linear_probe"}
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, **settings}).fit(X, y)
    loaded = SharpReCLClassifier.load_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert {k: loaded.get_params()[k] for k in settings} == settings
    # Both predict through their own int8 copy of the same fp32 weights.
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), clf.predict_proba(X[:10]), atol=1e-6)


def test_step_schedule_reaches_a_full_hard_share_at_the_last_batch(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**fast_params, hard_share_schedule="step").fit(X, y)
    n_steps = -(-len(X) // fast_params["batch_size"])
    shares = clf.net_.history[:, "hard_share"]
    assert shares[-1] == pytest.approx(1.0)
    assert shares[0] == pytest.approx(0.5 + 0.5 * (n_steps - 1) / (2 * n_steps - 1))


def test_centred_prototypes_of_two_classes_are_opposite(fast_params, tickets, tmp_path):
    X, y = tickets
    binary = np.where(np.asarray(y) == np.asarray(y)[0], "a", "b")
    centred = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, binary)  # the default
    np.testing.assert_allclose(centred.prototypes_[0], -centred.prototypes_[1], atol=1e-5)
    centred.save_pretrained(tmp_path / "centred")
    loaded = SharpReCLClassifier.load_pretrained(tmp_path / "centred")
    assert loaded.center_prototypes is True
    np.testing.assert_allclose(loaded.prototypes_, centred.prototypes_, atol=1e-6)
    plain = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, center_prototypes=False).fit(X, binary)
    assert plain.prototypes_[0] @ plain.prototypes_[1] > -0.9


class HeadAtTrainBegin(Callback):
    """The classifier and the first view's features as training begins (after the probe)."""

    def on_train_begin(self, net, X=None, **kwargs):
        classifier = net.module_.classifier
        self.weight = classifier.weight.detach().clone().double()
        self.bias = classifier.bias.detach().clone().double()
        self.features = torch.as_tensor(net.transform(TokenizedTexts([X.views[0]]))).double()
        self.y = X.y.clone()
        self.criterion = net.criterion_


def _head_at_start(params, X, y):
    clf = SharpReCLClassifier(**params, callbacks=[HeadAtTrainBegin()]).fit(X, y)
    return dict(clf.net_.callbacks_)["HeadAtTrainBegin"]


@pytest.mark.parametrize("train_layers", [None, 1])
def test_linear_probe_head_is_sklearns_logistic_regression(fast_params, tickets, train_layers):
    from sklearn.linear_model import LogisticRegression

    X, y = tickets
    params = {**fast_params, "max_epochs": 1, "contrastive": None, "classification_loss": "cross_entropy",
              "head_init": "linear_probe", "train_layers": train_layers}
    start = _head_at_start(params, X, y)
    reference = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(start.features.numpy(), start.y.numpy())
    np.testing.assert_allclose(start.weight.numpy(), reference.coef_, atol=2e-3)
    logits = (start.features @ start.weight.T + start.bias).numpy()
    np.testing.assert_allclose(
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
        reference.predict_proba(start.features.numpy()), atol=1e-3,
    )


def test_linear_probe_minimises_the_logit_adjusted_loss(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1}  # SharpReCL, logit-adjusted: the defaults
    objectives = {}
    for head_init in ("random", "linear_probe"):
        start = _head_at_start({**params, "head_init": head_init}, X, y)
        weight = start.weight.clone().requires_grad_()
        bias = start.bias.clone().requires_grad_()
        loss = start.criterion.classification(start.features @ weight.T + bias, start.y)
        objective = loss + 0.5 / len(start.y) * weight.pow(2).sum()
        objective.backward()
        objectives[head_init] = (objective.item(), float(max(weight.grad.abs().max(), bias.grad.abs().max())))
    probe_loss, probe_gradient = objectives["linear_probe"]
    random_loss, random_gradient = objectives["random"]
    assert probe_gradient < 1e-5 < random_gradient
    assert probe_loss < random_loss


def test_linear_probe_is_refused_with_accelerate(fast_params, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="not supported with accelerate"):
        SharpReCLClassifier(**fast_params, head_init="linear_probe", accelerate=True).fit(X, y)


def test_linear_probe_warns_when_lbfgs_stops_early_and_leaves_continued_training_alone(fast_params, tickets):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn_sharprecl._callbacks import LinearProbeHead

    X, y = tickets
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1},
                                  callbacks=[LinearProbeHead(max_iter=1)]).fit(X, y)
    probe = dict(clf.net_.callbacks_)["LinearProbeHead"]
    assert probe.n_iter_ == 1
    # Training that continues (history not empty) keeps the head it has.
    weight = clf.net_.module_.classifier.weight.detach().clone()
    probe.on_train_begin(clf.net_, X=None)
    torch.testing.assert_close(clf.net_.module_.classifier.weight, weight, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: checks the probe "
                    "with the features on the CPU and the logit-adjusted loss's prior on the GPU")
def test_linear_probe_on_cuda_with_the_logit_adjusted_loss(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1, "device": "cuda"}
    probed = _head_at_start({**params, "head_init": "linear_probe"}, X, y)
    random = _head_at_start(params, X, y)
    assert not torch.allclose(probed.weight, random.weight)
