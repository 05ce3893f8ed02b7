"""Partial fine-tuning (train_layers): the cached path equals the plain one, and only the top trains."""

import joblib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from transformers import AutoTokenizer, BertModel

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._text.data import PadCollator, TokenizedTexts, tokenize
from sklearn_sharprecl._network.module import SharpReCLModule
from sklearn_sharprecl._network.partial import freeze_lower_layers, frozen_states


def _batch(items, chunk_length=None):
    data = TokenizedTexts([items])
    return PadCollator(0, chunk_length)([data[i] for i in range(len(data))])[0]


@pytest.mark.parametrize("truncation, max_length", [("head", 32), ("chunks", 8)])
def test_cached_states_give_the_same_loss_and_gradients(tiny_encoder, tickets, truncation, max_length):
    encoder = BertModel.from_pretrained(
        tiny_encoder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    torch.manual_seed(0)
    module = SharpReCLModule(encoder, n_classes=3, dropout=0.0).train()
    n_frozen = freeze_lower_layers(module.encoder, 1)
    assert n_frozen == 1
    ids = tokenize(AutoTokenizer.from_pretrained(tiny_encoder), tickets[0][:6], max_length, truncation)
    assert len({len(t) for t in ids}) > 1  # padding is exercised
    assert truncation == "head" or max(len(t) for t in ids) > 2 * max_length  # so is chunking
    chunk_length = max_length if truncation == "chunks" else None
    plain_inputs = _batch(ids, chunk_length)
    y = torch.tensor([0, 1, 2, 0, 1, 2])

    def loss_and_grads(inputs):
        module.zero_grad()
        logits, embeddings, features, prototypes = module(**inputs)
        loss = F.cross_entropy(logits, y) + (embeddings @ prototypes.T).sum() + features.pow(2).mean()
        loss.backward()
        # (The pooler, which neither pooling reads, gets no gradient.)
        grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
        return loss.detach(), grads

    plain_loss, plain_grads = loss_and_grads(plain_inputs)
    states = frozen_states(module.encoder, [plain_inputs], n_frozen)
    assert [s.shape[0] for s in states] == [len(t) for t in ids]
    module.use_frozen_states(n_frozen)
    cached_loss, cached_grads = loss_and_grads(_batch(states, chunk_length))
    torch.testing.assert_close(cached_loss, plain_loss, atol=1e-5, rtol=1e-5)
    assert set(cached_grads) == set(plain_grads)
    assert not any(name.startswith(("encoder.embeddings", "encoder.encoder.layer.0"))
                   for name in cached_grads)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(cached_grads[name], grad, atol=1e-5, rtol=1e-5, msg=name)


def test_only_the_top_layers_train_and_the_model_saves_as_usual(fast_params, tickets, tmp_path):
    X, y = tickets
    params = {**fast_params, "train_layers": 1, "max_epochs": 2}
    clf = SharpReCLClassifier(**params).fit(X, y)
    pretrained = BertModel.from_pretrained(fast_params["encoder"]).state_dict()
    trained = clf.net_.module_.encoder.state_dict()
    assert torch.equal(trained["embeddings.word_embeddings.weight"],
                       pretrained["embeddings.word_embeddings.weight"])
    assert torch.equal(trained["encoder.layer.0.output.dense.weight"],
                       pretrained["encoder.layer.0.output.dense.weight"])
    assert not torch.equal(trained["encoder.layer.1.output.dense.weight"],
                           pretrained["encoder.layer.1.output.dense.weight"])
    # Deterministic, and an ordinary model afterwards: pickled, saved and loaded.
    again = SharpReCLClassifier(**params).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X[:20]), again.predict_proba(X[:20]))
    joblib.dump(clf, tmp_path / "m.joblib")
    np.testing.assert_allclose(joblib.load(tmp_path / "m.joblib").predict_proba(X[:20]),
                               clf.predict_proba(X[:20]), atol=1e-6)
    loaded = SharpReCLClassifier.load_pretrained(clf.save_pretrained(tmp_path / "m"))
    assert loaded.train_layers == 1
    np.testing.assert_allclose(loaded.predict_proba(X[:20]), clf.predict_proba(X[:20]), atol=1e-6)


class _TrainingEmbeddingCalls(Callback):
    """Counts the forward passes of the (frozen) embeddings during training steps."""

    def on_train_begin(self, net, **kwargs):
        self.calls = 0

        def count(module, args, output):
            self.calls += module.training  # the cache is computed in evaluation mode

        self._hook = net.module_.encoder.embeddings.register_forward_hook(count)

    def on_train_end(self, net, **kwargs):
        self._hook.remove()  # a fitted model must not keep a test's closure (it would not pickle)
        del self._hook


def test_without_room_for_the_cache_the_frozen_layers_are_recomputed(fast_params, tickets, monkeypatch):
    import sklearn_sharprecl._network.partial as partial

    X, y = tickets
    params = {**fast_params, "train_layers": 1, "max_epochs": 1}
    n_steps = -(-len(X) // fast_params["batch_size"])

    def embedding_calls():
        clf = SharpReCLClassifier(**params, callbacks=[("calls", _TrainingEmbeddingCalls())]).fit(X, y)
        assert not clf.net_.module_.encoder.embeddings.word_embeddings.weight.requires_grad
        return dict(clf.net_.callbacks_)["calls"].calls

    assert embedding_calls() == 0  # cached: the frozen part ran once, before training
    monkeypatch.setattr(partial, "available_memory", lambda: 0)
    with pytest.warns(UserWarning, match="recomputed every step"):
        assert embedding_calls() == n_steps  # one pass of both views per step


def test_more_layers_than_the_encoder_has_is_refused(fast_params, tickets):
    X, y = tickets
    with pytest.raises(ValueError, match="train_layers=5 but the encoder has 2 layers"):
        SharpReCLClassifier(**{**fast_params, "train_layers": 5}).fit(X, y)


class _MatmulDtypes(Callback):
    """Records the dtype of the trained top block's linear output at every training forward."""

    def on_train_begin(self, net, **kwargs):
        self.seen = set()
        dense = net.module_.encoder.encoder.layer[-1].output.dense
        self._hook = dense.register_forward_hook(
            lambda module, args, output: self.seen.add(output.dtype) if module.training else None)

    def on_train_end(self, net, **kwargs):
        self._hook.remove()  # a fitted model must not keep a test's lambda (it would not pickle)
        del self._hook


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_precision_sets_the_dtype_the_cached_top_layers_train_in_on_cpu(fast_params, tickets, precision,
                                                                         dtype):
    # The CPU route to a cheaper long-document epoch: the cached top blocks' matmuls in
    # bfloat16 (AVX512-BF16 / AMX), the losses in float32 and the probabilities in
    # float64 (from the float32 logits), as scikit-learn's classifiers give them.
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "train_layers": 1, "max_epochs": 1, "device": "cpu",
                                 "precision": precision,
                                 "callbacks": [("matmul_dtypes", _MatmulDtypes())]}).fit(X, y)
    assert clf.precision_ == precision
    assert dict(clf.net_.callbacks_)["matmul_dtypes"].seen == {dtype}
    assert np.isfinite(clf.net_.history[-1, "train_loss"])
    proba = clf.predict_proba(X[:20])
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_int8_inference_of_a_bf16_trained_model(fast_params, tickets):
    # Regression: a model trained with precision='bf16' ran its int8 copy under bf16
    # autocast, and dynamically quantized linears refuse bfloat16 input (found on the bf16 R52 runs).
    X, y = tickets
    clf = SharpReCLClassifier(**{**fast_params, "train_layers": 1, "max_epochs": 1, "device": "cpu",
                                 "precision": "bf16"}).fit(X, y)
    bf16 = clf.predict_proba(X[:40])
    int8 = clf.quantize_int8().predict_proba(X[:40])
    assert clf.net_.precision == "bf16"  # the copy runs in fp32; the model keeps bf16
    np.testing.assert_array_equal(clf.predict_proba(X[:40]), bf16)
    assert not np.array_equal(int8, bf16)
    assert (int8.argmax(1) == bf16.argmax(1)).mean() > 0.9
    np.testing.assert_allclose(int8.sum(axis=1), 1.0, atol=1e-5)
