"""Loading the encoder at fit: a missing directory, an unknown hub id, a max_length beyond its positions."""

import time

import pytest

from sklearn_sharprecl import SharpReCLClassifier


def test_max_length_beyond_the_position_embeddings_is_refused_at_fit(fast_params, tickets):
    X, y = tickets  # the tiny encoder has 128 positions
    with pytest.raises(ValueError, match=r"max_length=600 .* at most 128 tokens"):
        SharpReCLClassifier(**{**fast_params, "max_length": 600}).fit(X, y)


def test_missing_encoder_directory_names_the_path(tickets):
    X, y = tickets
    with pytest.raises(OSError, match="'/nonexistent' does not exist"):
        SharpReCLClassifier(encoder="/nonexistent").fit(X, y)


def test_empty_encoder_directory_says_what_a_model_directory_holds(tmp_path, tickets):
    X, y = tickets
    with pytest.raises(OSError, match="holds no config.json; a model directory holds config.json"):
        SharpReCLClassifier(encoder=tmp_path).fit(X, y)


@pytest.mark.parametrize("offline_mode, reason", [
    (False, r"the hub gave no model for it \(ConnectError: Name or service not known\)"),
    (True, "HF_HUB_OFFLINE is set"),
])
def test_unknown_hub_id_offline_fails_fast(monkeypatch, tickets, offline_mode, reason):
    import socket

    from huggingface_hub import constants

    def unreachable(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline_mode)
    X, y = tickets
    start = time.perf_counter()
    with pytest.raises(OSError, match=f"not in the Hugging Face cache, and {reason}"):
        SharpReCLClassifier(encoder="someone/no-such-model-xyz").fit(X, y)
    assert time.perf_counter() - start < 5
