"""The CoNLL-2003 CALoRA evaluation (benchmarks/calora_conll.py) end to end on the tiny encoder
and a small CoNLL-format corpus written here: real training, tiny sizes."""

import json

import numpy as np
import pytest

from benchmarks import calora_conll

WORDS = ["billing", "refund", "account", "security", "shipping", "technical", "the", "is", "what"]


def write_conll(path, n_sentences, seed):
    """IOB1 sentences: an entity of 1-2 words of one type among 'O' words, as in CoNLL."""
    rng = np.random.RandomState(seed)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for _ in range(n_sentences):
        n = rng.randint(3, 8)
        tags = ["O"] * n
        start = rng.randint(0, n - 1)
        kind = rng.choice(["PER", "LOC", "ORG", "MISC"], p=[0.5, 0.3, 0.15, 0.05])
        tags[start] = f"I-{kind}"
        if start + 1 < n and rng.rand() < 0.5:
            tags[start + 1] = f"I-{kind}"
        lines += [f"{rng.choice(WORDS)} NN I-NP {t}" for t in tags] + [""]
    path.write_text("\n".join(lines))


def test_iob1_to_iob2_opens_every_entity_with_b():
    assert calora_conll.iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"]
    assert calora_conll.iob1_to_iob2(["O", "O"]) == ["O", "O"]


def test_read_conll_skips_docstart_and_splits_sentences(tmp_path):
    write_conll(tmp_path / "train.txt", 7, seed=0)
    sentences = calora_conll.read_conll(tmp_path / "train.txt")
    assert len(sentences) == 7
    assert all(len(w) == len(t) and "-DOCSTART-" not in w for w, t in sentences)
    assert len(calora_conll.read_conll(tmp_path / "train.txt", n_sentences=3)) == 3


def test_evaluation_writes_paired_results_for_every_variant(tiny_encoder, tmp_path):
    write_conll(tmp_path / "train.txt", 60, seed=0)
    write_conll(tmp_path / "test.txt", 30, seed=1)
    result = calora_conll.main([
        "--encoder", tiny_encoder, "--data", str(tmp_path), "--seeds", "0", "1",
        "--base-epochs", "1", "--lora-epochs", "2", "--rank", "2", "--top-k", "2",
        "--max-length", "32", "--results", str(tmp_path / "out"),
    ])
    tags = result["tags"]
    assert "O" in tags and any(t.startswith("B-") for t in tags)  # IOB2 by default
    assert not any(t.startswith("I-") and result["train_words_per_tag"].get("B-" + t[2:], 0) == 0
                   for t in tags)
    methods = ["base (CE fine-tuned)", *calora_conll.VARIANTS]
    assert list(result["summary"]) == methods
    for run in result["runs"]:
        for m in methods:
            per_tag = run["methods"][m]["per_tag"]
            # every test word is scored exactly once
            assert sum(v["support"] for v in per_tag.values()) == result["n_test_words"]
    n_tags = len(tags)
    calora = result["runs"][0]["methods"]["CALoRA (CE)"]
    rank = 2  # A: (C*r) x d with d = 32, B: C x (C*r)
    assert calora["n_trainable_parameters"] == rank * n_tags * (32 + n_tags)
    # paired: one gain per seed, equal to the difference of that seed's own scores
    gains = result["summary"]["CALoRA (LA)"]["paired_macro_f1_gain_vs_base"]
    expected = [r["methods"]["CALoRA (LA)"]["macro_f1"] - r["methods"]["base (CE fine-tuned)"]["macro_f1"]
                for r in result["runs"]]
    assert gains == pytest.approx(expected) and len(gains) == 2
    written = json.loads((tmp_path / "out" / "calora_conll.json").read_text())
    assert written["summary"] == result["summary"]
    table = (tmp_path / "out" / "calora_conll.md").read_text()
    assert all(f"| {m} |" in table for m in methods)
