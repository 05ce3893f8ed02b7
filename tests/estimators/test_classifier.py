import io
import warnings
from collections import Counter

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback

from conftest import SELECTION, ValidationScoreAtEnd, validation_score_at_end
from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.auto import resolve_head_init
from sklearn_sharprecl._text.data import TokenizedTexts


@pytest.fixture(scope="module")
def fitted(tiny_encoder, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=3, criterion__n_neg=40,
        lr=3e-3, random_state=0, validation_fraction=0.1,
        precision="fp32",  # batches of other lengths must give the same numbers
    )
    return clf.fit(X, y)


def test_fit_predict_contract(fitted, tickets):
    X, y = tickets
    assert list(fitted.classes_) == sorted(set(y))
    proba = fitted.predict_proba(X[:7])
    assert proba.shape == (7, 6)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    assert fitted.score(X, y) > 0.8  # the tickets are learnable even by a tiny random BERT
    # The validation split (a tenth, stratified) was held out of the counts.
    assert fitted.class_counts_.sum() == len(X) - int(np.ceil(0.1 * len(X)))
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
        encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=4, criterion__n_neg=20,
        lr=3e-3, random_state=6, callbacks__early_stopping__patience=4, callbacks=[ValidationScoreAtEnd()],
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


def test_get_params_clone_set_params_with_routed_parameters(fast_params):
    clf = SharpReCLClassifier(**fast_params, mu=0.5, tau=0.7, module__proj_dim=16)
    params = clf.get_params()
    assert params["mu"] == 0.5 and params["tau"] == 0.7 and params["augment"] is None
    assert params["criterion__n_neg"] == 40 and params["module__proj_dim"] == 16
    assert "criterion__n_pos" not in params  # only the routed settings given are parameters
    cloned = clone(clf)
    assert cloned.get_params() == params
    assert clf.set_params(mu=2.0).mu == 2.0
    assert clf.set_params(criterion__n_pos=3).get_params()["criterion__n_pos"] == 3
    with pytest.raises(TypeError, match="criterion__n_neg"):  # the did-you-mean
        clf.set_params(criterion__n_negs=3)


def test_grid_search_reaches_the_net_through_routed_parameters(fast_params, tickets):
    X, y = tickets
    search = GridSearchCV(
        SharpReCLClassifier(**{**fast_params, "max_epochs": 1}),
        param_grid={"mu": [0.5, 1.0], "criterion__n_neg": [10, 30]},
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="f1_macro",
    ).fit(X, y)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    # The refitted model was trained with the chosen settings: clone and set_params
    # carried the routed one into the net's criterion.
    best = search.best_estimator_
    assert best.net_.criterion_.sampling["n_neg"] == search.best_params_["criterion__n_neg"]
    assert best.net_.criterion_.mu == search.best_params_["mu"]


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
    # The classifier trained on what the sampler gave it: every class as large as the largest.
    counts = pipe.named_steps["clf"].class_counts_
    np.testing.assert_array_equal(counts, np.full(6, max(Counter(y).values())))
    assert pipe.predict(X2d[:5]).shape == (5,)


def test_sklearn_pipeline_routes_precomputed_views(fast_params, tickets):
    X, y = tickets
    # Reversed word order: other token ids (upper case would not do: the
    # tokenizer lower-cases, so such a view equals the dropout view).
    augmented = [" ".join(reversed(t.split())) for t in X]
    params = {**fast_params, "max_epochs": 1}
    pipe = Pipeline([("clf", SharpReCLClassifier(**params))]).fit(X, y, clf__X_aug=augmented)
    direct = SharpReCLClassifier(**params).fit(X, y, X_aug=augmented)
    np.testing.assert_array_equal(pipe.predict_proba(X[:20]), direct.predict_proba(X[:20]))
    dropout_view = SharpReCLClassifier(**params).fit(X, y)
    assert not np.allclose(direct.predict_proba(X[:20]), dropout_view.predict_proba(X[:20]))


def test_dataframe_and_series_inputs(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1}
    # A Series whose index is not 0..n-1: texts are taken by position.
    frame = pd.DataFrame({"id": range(len(X)), "body": X}, index=np.arange(len(X))[::-1])
    from_series = SharpReCLClassifier(**params).fit(frame["body"], pd.Series(y, index=frame.index))
    from_column = SharpReCLClassifier(**params).fit(pd.DataFrame({"t": X}), y)
    np.testing.assert_array_equal(from_series.predict_proba(X[:20]), from_column.predict_proba(X[:20]))
    np.testing.assert_array_equal(from_series.predict_proba(frame["body"].iloc[:20]),
                                  from_series.predict_proba(X[:20]))


def test_integer_labels_and_unseen_label_at_score(fast_params, tickets):
    X, y = tickets
    codes = {c: i * 10 for i, c in enumerate(sorted(set(y)))}
    y_int = np.array([codes[c] for c in y])
    clf = SharpReCLClassifier(**fast_params).fit(X, y_int)
    assert clf.classes_.dtype.kind == "i" and clf.classes_.tolist() == sorted(codes.values())
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
    clf = SharpReCLClassifier(**{**fast_params, "callbacks__lr_schedule__warmup_fraction": 0.25,
                                 "max_epochs": 2}).fit(X, y)
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
    clf = SharpReCLClassifier(**fast_params).fit(X, y)  # validation_fraction=None, the default
    assert clf.class_counts_.sum() == len(X)
    assert "valid_f1_macro" not in clf.net_.history[-1]
    assert "early_stopping" not in dict(clf.net_.callbacks_)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tau": 0}, "tau"),
        ({"mu": -1}, "mu"),
        ({"classification_loss": "hinge"}, "classification_loss"),
        ({"contrastive": "simclr"}, "contrastive"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"precision": "fp8"}, "precision"),
        ({"head_init": "zeros"}, "head_init"),
        ({"criterion__cl_normalization": "mean"}, "normalization"),
        ({"optimizer__weight_decay": -1}, "weight_decay"),
        ({"callbacks__early_stopping__metric": "accuracy", "validation_fraction": 0.1}, "metric"),
        ({"criterion__k_hard": 0}, "k_hard"),
        ({"module__pooling": "max"}, "pooling"),
        ({"callbacks__lr_schedule": "cosine"}, "lr_schedule"),
        ({"callbacks__lr_schedule__warmup_fraction": 1.0}, "warmup_fraction"),
        ({"criterion__n_neg": -1}, "n_neg"),
        ({"callbacks__hard_share__start": 2.0}, "start"),
    ],
)
def test_invalid_hyperparameters_raise(params, match, tiny_encoder, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match=match):
        SharpReCLClassifier(encoder=tiny_encoder, max_length=16, max_epochs=1, **params).fit(X, y)


def test_unknown_keyword_raises():
    with pytest.raises(TypeError, match="temperature"):
        SharpReCLClassifier(temperature=0.3)
    with pytest.raises(TypeError, match="Did you mean 'module__dropout'"):
        SharpReCLClassifier(module__droput=0.1)


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
    SharpReCLClassifier(**{**fast_params, "max_epochs": 3}, augment=each,
                        callbacks__refresh_view__each_epoch=True).fit(X, y)
    assert each.calls == 3


class ViewsAtTrainBegin(Callback):
    """The token ids of the training set's two views as training begins."""

    def on_train_begin(self, net, X=None, **kwargs):
        self.first, self.second = X.views


@pytest.mark.parametrize("preset", ["random_swap", "random_delete"])
def test_augmentation_presets_make_the_second_view(fast_params, tickets, preset):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, augment=preset,
                              callbacks=[ViewsAtTrainBegin()]).fit(X, y)
    views = dict(clf.net_.callbacks_)["ViewsAtTrainBegin"]
    changed = [not torch.equal(a, b) for a, b in zip(views.first, views.second, strict=True)]
    assert 0.5 * len(X) < sum(changed)
    if preset == "random_delete":  # words went missing from the changed views
        assert all(len(b) < len(a) for a, b, c in zip(views.first, views.second, changed) if c)


def test_unknown_augment_preset_is_refused(fast_params, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="wordnet"):
        SharpReCLClassifier(**fast_params, augment="backtranslate").fit(X, y)


@pytest.fixture(scope="module")
def fitted_for_prior(tiny_encoder, tickets):
    X, y = tickets
    return SharpReCLClassifier(encoder=tiny_encoder, max_length=32, batch_size=16, max_epochs=1,
                               criterion__n_neg=20, random_state=0).fit(X, y)


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


class _Accelerator:
    """What steps_per_epoch reads of an ``accelerate.Accelerator`` on two processes."""

    num_processes = 2

    def __init__(self, split_batches):
        self.split_batches = split_batches


def test_steps_per_epoch_follow_the_accelerate_processes():
    from types import SimpleNamespace

    from sklearn_sharprecl._network.callbacks import steps_per_epoch

    def net(accelerator):
        return SimpleNamespace(batch_size=16, accelerator=accelerator)

    assert steps_per_epoch(net(None), 81) == 6  # the last batch short
    assert steps_per_epoch(net(_Accelerator(split_batches=False)), 81) == 3  # every other batch
    assert steps_per_epoch(net(_Accelerator(split_batches=True)), 81) == 6  # each batch split


def test_int8_copy_is_close_and_leaves_the_fp32_model_alone(fitted, tickets, tmp_path):
    X, _ = tickets
    fp32 = fitted.predict_proba(X)
    weights = {k: v.clone() for k, v in fitted.net_.module_.state_dict().items()}
    quantized = fitted.quantize_int8()
    int8 = quantized.predict_proba(X)
    assert quantized.transform(X[:3]).shape == (3, 32)
    # The shipped variant (benchmarks/quantization.py): encoder only, per-channel scales.
    module = quantized.net_.module_
    assert type(module.classifier) is torch.nn.Linear
    assert module.encoder.encoder.layer[0].attention.self.query.weight().qscheme() == torch.per_channel_affine
    assert not np.array_equal(int8, fp32)  # it did run quantized
    assert np.abs(int8 - fp32).max() < 0.1
    assert (int8.argmax(1) == fp32.argmax(1)).mean() > 0.95
    # The fp32 model predicts and holds exactly what it did.
    np.testing.assert_array_equal(fitted.predict_proba(X), fp32)
    for name, value in fitted.net_.module_.state_dict().items():
        assert torch.equal(value, weights[name]), name
    with pytest.raises(ValueError, match="cannot be saved"):
        quantized.save_pretrained(tmp_path / "int8")
    assert not (tmp_path / "int8").exists()


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
    from sklearn_sharprecl._text.data import tokenize
    from sklearn_sharprecl._text.encoder import load_tokenizer

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
    from sklearn_sharprecl._text.data import PadCollator, tokenize
    from sklearn_sharprecl._text.encoder import load_tokenizer

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

    two_views = TokenizedTexts([[long_text, short], [long_text, short]], y=[0, 1])
    inputs, _ = PadCollator(0, chunk_length=16)([two_views[0], two_views[1]])
    # View-major rows: text 0 (3 chunks), text 1, then the second view of each.
    assert inputs["chunk_owner"].tolist() == [0, 0, 0, 1, 2, 2, 2, 3]
    assert inputs["input_ids"].shape == (8, 16)
    assert inputs["attention_mask"].sum(1).tolist() == [16, 16, 14, 4, 16, 16, 14, 4]
    with pytest.raises(ValueError, match="no room for text"):
        tokenize(tokenizer, texts, 2, "chunks")


def test_chunk_features_are_the_token_weighted_mean_of_their_windows(tiny_encoder):
    from sklearn_sharprecl._text.data import PadCollator, tokenize
    from sklearn_sharprecl._text.encoder import load_tokenizer
    from sklearn_sharprecl._network.module import SharpReCLModule

    tokenizer = load_tokenizer(tiny_encoder)
    module = SharpReCLModule(tiny_encoder, n_classes=2).eval()
    long_text, short = tokenize(tokenizer, ["the moon is far " * 9, "who is the moon"], 16, "chunks")
    windows = long_text.split(16)
    def batch(texts, chunk_length=None):
        data = TokenizedTexts([texts])
        return PadCollator(0, chunk_length=chunk_length)([data[i] for i in range(len(data))])[0]

    with torch.no_grad():
        chunked = module.encode(**batch([long_text, short], chunk_length=16))
        separate = module.encode(**batch([*windows, short]))
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
    # Inference follows settings changed after fit: the head model cuts the book
    # apart, and wider windows change the chunked model's output.
    head.set_params(truncation="chunks")
    assert np.isfinite(head.predict_proba([book])).all()
    narrow = clf.predict_proba(X[:10])
    clf.set_params(max_length=16)
    assert not np.allclose(clf.predict_proba(X[:10]), narrow)


def test_pool_chunks_gives_zeros_for_a_text_without_tokens():
    from sklearn_sharprecl._network.module import pool_chunks

    features = torch.tensor([[1.0, 3.0], [3.0, 5.0], [7.0, 7.0]])
    pooled = pool_chunks(features, torch.tensor([1, 3, 0]), torch.tensor([0, 0, 1]))
    torch.testing.assert_close(pooled, torch.tensor([[2.5, 4.5], [0.0, 0.0]]))


def test_selection_on_balanced_validation_log_loss(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 3, "lr": 3e-3, "random_state": 0,
                                 "callbacks__early_stopping__patience": None,
                                 "callbacks__early_stopping__metric": "balanced_log_loss", **SELECTION},
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
    settings = {"group_by_length": True, "truncation": "head_tail", "train_layers": 1,
                "validation_fraction": 0.1, "callbacks__early_stopping__metric": "balanced_log_loss",
                "callbacks__lr_schedule__warmup_fraction": 0.2, "head_init": "linear_probe"}
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1, **settings}).fit(X, y)
    loaded = SharpReCLClassifier.load_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert {k: loaded.get_params()[k] for k in settings} == settings
    assert loaded.get_params()["criterion__n_neg"] == fast_params["criterion__n_neg"]
    np.testing.assert_allclose(loaded.predict_proba(X[:10]), clf.predict_proba(X[:10]), atol=1e-6)
    # Int8 copies of the same fp32 weights predict alike.
    np.testing.assert_allclose(loaded.quantize_int8().predict_proba(X[:10]),
                               clf.quantize_int8().predict_proba(X[:10]), atol=1e-6)


def test_step_schedule_reaches_a_full_hard_share_at_the_last_batch(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**fast_params, callbacks__hard_share__per_step=True).fit(X, y)
    n_steps = -(-len(X) // fast_params["batch_size"])
    shares = clf.net_.history[:, "hard_share"]
    assert shares[-1] == pytest.approx(1.0)
    assert shares[0] == pytest.approx(0.5 + 0.5 * (n_steps - 1) / (2 * n_steps - 1))



def test_mu_warmup_holds_the_contrastive_term_off_and_raises_it_linearly(fast_params, tickets):
    X, y = tickets
    n_steps = -(-len(X) // fast_params["batch_size"])  # per epoch; the fit has 2
    clf = SharpReCLClassifier(**fast_params, validation_fraction=None,
                              callbacks__mu_warmup__fraction=1.0).fit(X, y)
    history = clf.net_.history
    # The first step trains the classifier alone: its loss is the classification loss.
    first = history[0, "batches", 0]
    assert first["train_loss"] == pytest.approx(first["classification_loss"])
    assert history[:, "contrastive_scale"] == pytest.approx([(n_steps - 1) / (2 * n_steps),
                                                             (2 * n_steps - 1) / (2 * n_steps)])
    assert clf.net_.criterion_.contrastive_scale == 1.0
    # Without a warm-up the first step already carries the contrastive term.
    plain = SharpReCLClassifier(**fast_params, validation_fraction=None).fit(X, y)
    first = plain.net_.history[0, "batches", 0]
    assert first["train_loss"] > first["classification_loss"] + 1e-3

def test_centred_prototypes_of_two_classes_are_opposite(fast_params, tickets, tmp_path):
    X, y = tickets
    binary = np.where(np.asarray(y) == np.asarray(y)[0], "a", "b")
    centred = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}).fit(X, binary)  # the default
    np.testing.assert_allclose(centred.prototypes_[0], -centred.prototypes_[1], atol=1e-5)
    centred.save_pretrained(tmp_path / "centred")
    loaded = SharpReCLClassifier.load_pretrained(tmp_path / "centred")
    assert loaded.net_.module_.prototype_head.center is True
    np.testing.assert_allclose(loaded.prototypes_, centred.prototypes_, atol=1e-6)
    plain = SharpReCLClassifier(**{**fast_params, "max_epochs": 1},
                                module__center_prototypes=False).fit(X, binary)
    assert plain.prototypes_[0] @ plain.prototypes_[1] > -0.9
    plain.save_pretrained(tmp_path / "plain")
    np.testing.assert_allclose(SharpReCLClassifier.load_pretrained(tmp_path / "plain").prototypes_,
                               plain.prototypes_, atol=1e-6)


class HeadAtTrainBegin(Callback):
    """The classifier and the first view's features as training begins (after the probe)."""

    def on_train_begin(self, net, X=None, **kwargs):
        classifier = net.module_.classifier
        self.weight = classifier.weight.detach().cpu().clone().double()
        self.bias = classifier.bias.detach().cpu().clone().double()
        self.features = torch.as_tensor(net.transform(TokenizedTexts([X.views[0]]))).double()
        self.y = X.y.clone()
        self.criterion = net.criterion_


def _head_at_start(params, X, y):
    """The head as training begins, and the fitted probe (None without head_init='linear_probe')."""
    clf = SharpReCLClassifier(**params, callbacks=[HeadAtTrainBegin()]).fit(X, y)
    callbacks = dict(clf.net_.callbacks_)
    probe = callbacks["head_init"].probe_ if "head_init" in callbacks else None
    return callbacks["HeadAtTrainBegin"], probe


@pytest.mark.parametrize("train_layers, n_classes", [(None, 6), (1, 2)])
def test_probed_head_predicts_what_the_probe_predicts(fast_params, tickets, train_layers, n_classes):
    X, y = tickets
    if n_classes == 2:  # scikit-learn's one-row binary probe becomes two rows
        y = np.where(np.asarray(y) == np.asarray(y)[0], "first", "other")
    params = {**fast_params, "max_epochs": 1, "contrastive": None, "classification_loss": "cross_entropy",
              "head_init": "linear_probe", "train_layers": train_layers}
    start, probe = _head_at_start(params, X, y)
    assert start.weight.shape == (n_classes, 32)
    features = start.features.numpy()
    logits = (start.features @ start.weight.T + start.bias).numpy()
    proba = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(proba / proba.sum(1, keepdims=True), probe.predict_proba(features), atol=1e-4)
    np.testing.assert_array_equal(logits.argmax(1), probe.predict(features))


def test_logit_adjusted_head_is_the_probe_minus_the_log_prior(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1, "head_init": "linear_probe"}  # logit-adjusted: the default
    start, probe = _head_at_start(params, X, y)
    log_prior = start.criterion.classification.log_prior.double().cpu()
    assert log_prior.std() > 0.5  # a long tail: the shift is not a constant
    np.testing.assert_allclose(start.weight.numpy(), probe.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(start.bias.numpy(), probe.intercept_ - log_prior.numpy(), rtol=1e-6, atol=1e-6)


def test_linear_probe_minimises_the_logit_adjusted_loss(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1}  # SharpReCL, logit-adjusted: the defaults
    objectives = {}
    for head_init in ("random", "linear_probe"):
        start, _ = _head_at_start({**params, "head_init": head_init}, X, y)
        weight = start.weight.clone().requires_grad_()
        bias = start.bias.clone().requires_grad_()
        loss = start.criterion.classification(start.features @ weight.T + bias, start.y)
        objective = loss + 0.5 / len(start.y) * weight.pow(2).sum()
        objective.backward()
        objectives[head_init] = (objective.item(), float(max(weight.grad.abs().max(), bias.grad.abs().max())))
    probe_loss, probe_gradient = objectives["linear_probe"]
    random_loss, random_gradient = objectives["random"]
    # L-BFGS stops once the largest gradient entry is below tol (scikit-learn's 1e-4).
    assert probe_gradient < 1e-4 < random_gradient
    assert probe_loss < random_loss


def test_linear_probe_is_refused_with_accelerate(fast_params, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="not supported with accelerate"):
        SharpReCLClassifier(**fast_params, head_init="linear_probe", accelerate=True).fit(X, y)


def test_linear_probe_warns_when_lbfgs_stops_early(fast_params, tickets):
    X, y = tickets
    # Recorded rather than pytest.warns, so that the warning raised as an error stays itself.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, head_init="linear_probe",
                                  callbacks__head_init__max_iter=1).fit(X, y)
    ours = [str(w.message) for w in caught
            if issubclass(w.category, ConvergenceWarning) and "callbacks__head_init__max_iter" in str(w.message)]
    assert len(ours) == 1 and "max_iter=1 " in ours[0]
    assert dict(clf.net_.callbacks_)["head_init"].probe_.n_iter_.max() == 1


def test_linear_probe_leaves_the_head_of_continued_training_alone(fast_params, tickets):
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, head_init="linear_probe").fit(X, y)
    head_init = dict(clf.net_.callbacks_)["head_init"]
    # Training that continues (history not empty) keeps the head it has.
    weight = clf.net_.module_.classifier.weight.detach().clone()
    head_init.on_train_begin(clf.net_, X=None)
    torch.testing.assert_close(clf.net_.module_.classifier.weight, weight, rtol=0, atol=0)


def _rarest_cut_to(tickets, n_texts):
    """The tickets whose classes have at least ``n_texts`` texts, the rarest of them cut to
    its first ``n_texts`` texts."""
    X, y = np.asarray(tickets[0], dtype=object), np.asarray(tickets[1])
    counts = Counter(y.tolist())
    kept = [c for c, count in counts.items() if count >= n_texts]
    rarest = min(kept, key=counts.get)
    keep = np.isin(y, kept) & ((y != rarest) | (np.cumsum(y == rarest) <= n_texts))
    return X[keep].tolist(), y[keep]


@pytest.mark.parametrize("rarest, validation_fraction, expected", [
    (9, None, "linear_probe"), (10, None, "random"),
    # The training texts count, after the validation split: 12 leave 9.
    (12, 0.25, "linear_probe")])
def test_auto_head_init_probes_when_the_rarest_class_has_few_texts(
        fast_params, tickets, rarest, validation_fraction, expected):
    X, y = _rarest_cut_to(tickets, rarest)
    clf = SharpReCLClassifier(**{**fast_params, "max_epochs": 1}, head_init="auto",
                              validation_fraction=validation_fraction).fit(X, y)
    assert clf.head_init_ == expected
    assert ("head_init" in dict(clf.net_.callbacks_)) == (expected == "linear_probe")


def test_auto_head_init_starts_where_the_chosen_setting_starts(fast_params, tickets):
    X, y = _rarest_cut_to(tickets, 5)
    params = {**fast_params, "max_epochs": 1}
    auto, _ = _head_at_start({**params, "head_init": "auto"}, X, y)
    probe, _ = _head_at_start({**params, "head_init": "linear_probe"}, X, y)
    torch.testing.assert_close(auto.weight, probe.weight, rtol=0, atol=0)


def test_auto_head_init_leaves_the_probe_out_with_accelerate():
    assert resolve_head_init("auto", [3, 40], accelerate=True) == "random"
    assert resolve_head_init("auto", [3, 40]) == "linear_probe"
    assert resolve_head_init("linear_probe", [40, 40]) == "linear_probe"


@pytest.mark.cuda
def test_linear_probe_on_cuda_with_the_logit_adjusted_loss(fast_params, tickets):
    X, y = tickets
    params = {**fast_params, "max_epochs": 1, "device": "cuda", "head_init": "linear_probe"}
    start, probe = _head_at_start(params, X, y)
    log_prior = start.criterion.classification.log_prior.double().cpu().numpy()
    np.testing.assert_allclose(start.bias.numpy(), probe.intercept_ - log_prior, rtol=1e-6, atol=1e-6)


def test_augmentation_tuple_spec_and_random_state_instance(fast_params, tickets):
    X, y = tickets

    def fit(seed):
        return SharpReCLClassifier(
            **{**fast_params, "max_epochs": 2, "random_state": np.random.RandomState(seed)},
            augment=("random_swap", {"aug_p": 0.3}), callbacks__refresh_view__each_epoch=True,
        ).fit(X, y).predict_proba(X[:20])

    # Equally seeded generators give the same views and the same model; another seed does not.
    first = fit(0)
    np.testing.assert_array_equal(fit(0), first)
    assert not np.allclose(fit(1), first)
