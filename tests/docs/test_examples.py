"""The scripts in examples/ run end to end (in-process, on the tiny encoder) and report real results."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoTokenizer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["quickstart", "grid_search_mu_tau", "imblearn_comparison", "persistence", "own_encoder",
         "calora"]
CLASSES = ["account", "billing", "refund", "security", "shipping", "technical"]

# An example must not show a setting the others leave without effect (the estimator warns).
pytestmark = pytest.mark.filterwarnings("error:.*has no effect with:UserWarning")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread: the tiny encoder's matmuls gain nothing from more, and on a busy
    machine (e.g. a benchmark on the other cores) the threads' contention makes fits 20x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def example_main(name):
    """The ``main`` of ``examples/<name>.py``, loaded without running the script."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="not_main")["main"]


@pytest.fixture
def fast_args(tiny_encoder):
    return ["--encoder", tiny_encoder, "--max-epochs", "1", "--n-samples", "120", "--max-length", "32"]


@pytest.mark.parametrize("name", NAMES)
def test_every_example_has_the_common_options_and_a_docstring(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        example_main(name)(["--help"])
    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--encoder", "--max-epochs", "--n-samples", "--max-length"):
        assert option in usage
    docstring = runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="not_main")["__doc__"]
    assert docstring and f"python examples/{name}.py" in docstring


def test_quickstart(fast_args, capsys):
    result = example_main("quickstart")(fast_args + ["--n-test", "60"])
    out = capsys.readouterr().out
    counts = result["class_counts"]
    assert sorted(counts) == CLASSES
    assert max(counts.values()) >= 10 * min(counts.values())  # long-tailed training set
    assert result["n_test"] == 60 and result["epochs"] == 1
    # imbalanced-learn's report, one row per class, and the printed scores are the returned ones.
    assert "spe" in out and "iba" in out
    assert all(c in out for c in CLASSES)
    assert f"macro-F1 on the balanced test set: {result['macro_f1']:.4f}" in out
    assert f"geometric mean of the recalls:     {result['geometric_mean']:.4f}" in out


def test_grid_search_mu_tau(fast_args, capsys):
    result = example_main("grid_search_mu_tau")(
        fast_args + ["--n-test", "60", "--cv", "2", "--mu", "0.5", "1.0", "--tau", "0.3"]
    )
    out = capsys.readouterr().out
    table = result["cv_results"]
    assert len(table) == 2
    assert sorted(table["param_mu"]) == [0.5, 1.0] and set(table["param_tau"]) == {0.3}
    assert np.isfinite(table["mean_f1_macro"]).all()
    best = table.iloc[0]  # sorted by rank
    assert best["rank_test_score"] == 1
    assert result["best_params"] == {"mu": best["param_mu"], "tau": best["param_tau"]}
    assert result["best_score"] == pytest.approx(table["mean_f1_macro"].max())
    assert f"macro-F1 on the balanced test set: {result['test_macro_f1']:.4f}" in out
    assert "mean_f1_macro" in out and f"best parameters: {result['best_params']}" in out


def test_imblearn_comparison(fast_args, capsys):
    table = example_main("imblearn_comparison")(fast_args + ["--n-test", "60"])
    out = capsys.readouterr().out
    models = table["model"].tolist()
    assert len(models) == 7
    for expected in ("class_weight=balanced", "RandomOverSampler", "SMOTE", "RandomUnderSampler",
                     "contrastive=None"):
        assert any(expected in m for m in models), expected
    assert "SharpReCL" in models
    # The printed table holds the returned scores.
    scores = table[["macro-F1", "G-mean"]].to_numpy()
    assert all(f"{score:.4f}" in out for score in scores.ravel())
    # The TF-IDF baselines really learn the generated tickets (chance macro-F1 is about 1/6).
    balanced_lr = table.set_index("model").loc["TF-IDF + LR (class_weight=balanced)"]
    assert balanced_lr["macro-F1"] > 0.3
    assert all(m in out for m in models)


def test_persistence_round_trips_are_identical(fast_args, tmp_path, capsys):
    assert example_main("persistence")(fast_args + ["--output-dir", str(tmp_path)]) is True
    out = capsys.readouterr().out
    assert out.count("identical predict_proba: True") == 2
    assert (tmp_path / "model.joblib").is_file()
    for name in ("config.json", "model.safetensors", "encoder/config.json", "encoder/model.safetensors",
                 "encoder/tokenizer_config.json", "history.json", "README.md"):
        assert (tmp_path / "model" / name).is_file()
        assert name in out


def test_own_encoder(tiny_encoder, tmp_path, capsys):
    main = example_main("own_encoder")
    args = ["--max-epochs", "1", "--n-samples", "120", "--n-test", "60", "--max-length", "32",
            "--hidden-size", "32"]
    # It writes an encoder, so it refuses a directory that already holds one.
    with pytest.raises(SystemExit):
        main(args + ["--encoder", tiny_encoder])
    capsys.readouterr()

    directory = tmp_path / "my-encoder"
    result = main(args + ["--encoder", str(directory)])
    out = capsys.readouterr().out
    assert result["encoder_name"] == str(directory) and result["epochs"] == 1
    assert f"macro-F1 on 60 balanced test texts: {result['macro_f1']:.4f}" in out
    for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer.json"):
        assert (directory / name).is_file()
    # The saved tokenizer uses the written vocabulary (not a default one): every word is known.
    vocab = (directory / "vocab.txt").read_text().split()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert len(tokenizer) == len(vocab) == result["vocab_size"]
    assert AutoConfig.from_pretrained(directory).vocab_size == len(vocab)
    assert tokenizer.unk_token not in tokenizer.tokenize("my parcel has not arrived yet, thanks")
    assert f"{result['n_encoder_parameters']:,} parameters" in out


def test_calora(fast_args, tiny_encoder, capsys):
    result = example_main("calora")(fast_args + ["--n-test", "60", "--lora-epochs", "5"])
    out = capsys.readouterr().out
    per_class = result["per_class_f1"]
    assert sorted(per_class.index) == CLASSES
    f1 = per_class.drop(columns="train count").to_numpy()
    assert f1.shape == (6, 2)
    # The two classes with the fewest training texts, rarest first.
    counts = per_class["train count"]
    rare = result["rarest_classes"]
    assert len(rare) == 2 and sorted(counts[rare]) == sorted(counts)[:2]
    assert counts[rare[0]] == counts.min()
    # rank-8 experts for each of the C classes: C * rank * (hidden + C) parameters.
    hidden = AutoConfig.from_pretrained(tiny_encoder).hidden_size
    assert result["n_added_parameters"] == 6 * 8 * (hidden + 6)
    assert result["n_base_parameters"] > result["n_added_parameters"]
    # Each model's macro-F1 is the mean of its per-class column (every class is in the test set).
    np.testing.assert_allclose(f1.mean(axis=0), [result["base_macro_f1"], result["calora_macro_f1"]])
    assert f"experts add {result['n_added_parameters']:,}" in out
    for c in result["rarest_classes"]:
        assert f"rare class {c!r}" in out
