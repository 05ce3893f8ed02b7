"""Tests for sklearn_sharprecl.datasets: CSV loaders and long-tailed subsampling."""

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sklearn_sharprecl.datasets import get_data_home, load_text_dataset, make_long_tailed

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _write_csv(path, rows, header=("text", "label")):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def toy_home(tmp_path):
    """data_home with a dataset 'toy' (aug_text in train only) and a README."""
    train = [
        ("What is the capital of France ?", "LOC", "What is the working capital of France ?"),
        ("NA", "ABBR", "NA"),
        ("null", "ABBR", ""),
        ('He said "hi", then left\u00e9', "DESC", "He said hi"),
        ("Who killed Gandhi ?", "HUM", "Who defeat Gandhi ?"),
    ]
    test = [("Where is Aspen ?", "LOC"), ("Who wrote Hamlet ?", "HUM")]
    _write_csv(tmp_path / "toy" / "train.csv", train, ("text", "label", "aug_text"))
    _write_csv(tmp_path / "toy" / "test.csv", test)
    (tmp_path / "README.md").write_text(
        "# Datasets\n\n### toy\n- A toy dataset.\n- Five questions.\n\n### other\n- no.\n",
        encoding="utf-8",
    )
    return tmp_path


def test_load_bunch_fields(toy_home):
    bunch = load_text_dataset(toy_home / "toy")
    assert bunch.data[0] == "What is the capital of France ?"
    assert bunch.data[3] == 'He said "hi", then left\u00e9'  # csv quoting, UTF-8
    assert all(isinstance(t, str) for t in bunch.data)
    assert isinstance(bunch.target, np.ndarray)
    assert bunch.target.tolist() == ["LOC", "ABBR", "ABBR", "DESC", "HUM"]
    assert bunch.target_names == ["ABBR", "DESC", "HUM", "LOC"]
    assert bunch.filename == str(toy_home / "toy" / "train.csv")
    assert bunch.aug_data[0] == "What is the working capital of France ?"
    assert len(bunch.aug_data) == len(bunch.data)
    assert bunch.DESCR.startswith("toy (train): 5 texts, 4 classes")
    assert "ABBR=2" in bunch.DESCR
    # The README section for this dataset, and only it.
    assert "A toy dataset." in bunch.DESCR and "no." not in bunch.DESCR


def test_na_like_texts_stay_strings(toy_home):
    bunch = load_text_dataset(toy_home / "toy")
    assert bunch.data[1] == "NA" and bunch.data[2] == "null"
    assert bunch.aug_data[2] == ""


def test_return_X_y(toy_home):
    X, y = load_text_dataset(toy_home / "toy", subset="test", return_X_y=True)
    assert X == ["Where is Aspen ?", "Who wrote Hamlet ?"]
    assert y.tolist() == ["LOC", "HUM"]


def test_subset_all_concatenates(toy_home):
    bunch = load_text_dataset(toy_home / "toy", subset="all")
    assert len(bunch.data) == 7
    assert bunch.data[-1] == "Who wrote Hamlet ?"
    assert bunch.filename == [
        str(toy_home / "toy" / "train.csv"),
        str(toy_home / "toy" / "test.csv"),
    ]
    # test.csv has no aug_text column, so there is no aligned aug_data.
    assert "aug_data" not in bunch
    assert "aug_data" not in load_text_dataset(toy_home / "toy", subset="test")


def test_lookup_by_name_in_data_home_and_env(toy_home, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert len(load_text_dataset("toy", data_home=toy_home).data) == 5
    monkeypatch.setenv("SHARPRECL_DATA", str(toy_home))
    assert get_data_home() == toy_home
    assert len(load_text_dataset("toy", subset="test").data) == 2
    monkeypatch.delenv("SHARPRECL_DATA")
    assert get_data_home() == Path("~/sharprecl_data").expanduser()


def test_readme_absent_gives_summary_only(tmp_path):
    _write_csv(tmp_path / "d" / "train.csv", [("a", "x"), ("b", "y"), ("c", "y")])
    bunch = load_text_dataset(tmp_path / "d")
    assert bunch.DESCR == "d (train): 3 texts, 2 classes; class counts: x=1, y=2."


def test_missing_dataset_error_names_path_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as excinfo:
        load_text_dataset("nope", subset="all", data_home=tmp_path / "home")
    message = str(excinfo.value)
    assert str(tmp_path / "home" / "nope") in message
    assert "train.csv" in message and "test.csv" in message


def test_missing_split_and_bad_subset(toy_home):
    (toy_home / "toy" / "test.csv").unlink()
    with pytest.raises(FileNotFoundError, match="test.csv"):
        load_text_dataset(toy_home / "toy", subset="test")
    with pytest.raises(ValueError, match="subset must be one of"):
        load_text_dataset(toy_home / "toy", subset="valid")


def test_missing_columns(tmp_path):
    _write_csv(tmp_path / "d" / "train.csv", [("a", "x")], header=("sentence", "label"))
    with pytest.raises(ValueError, match="text,label"):
        load_text_dataset(tmp_path / "d")


# ---------------------------------------------------------------- long tail

# TREC train class sizes (coarse labels).
TREC_SIZES = {"ENTY": 1250, "HUM": 1223, "DESC": 1162, "NUM": 896, "LOC": 835, "ABBR": 86}


def _labels(sizes):
    return np.repeat(list(sizes), list(sizes.values()))


@pytest.fixture
def trec_like():
    y = _labels(TREC_SIZES)
    # Shuffle so that classes are interleaved, as in a real file.
    y = y[np.random.RandomState(0).permutation(len(y))]
    X = [f"text {i}" for i in range(len(y))]
    return X, y


def test_long_tailed_exact_counts(trec_like):
    X, y = trec_like
    # int(1250 * 50 ** (-i / 5)) for i = 0..5:
    # 1250.0, 571.63, 261.41, 119.54, 54.67, 25.0
    expected = {"ENTY": 1250, "HUM": 571, "DESC": 261, "NUM": 119, "LOC": 54, "ABBR": 25}
    _, y_lt = make_long_tailed(X, y, 50, random_state=0)
    assert dict(Counter(y_lt.tolist())) == expected
    # ir=10: ABBR's target int(1250 / 10) = 125 exceeds its 86 examples.
    _, y_lt = make_long_tailed(X, y, 10, random_state=0)
    assert dict(Counter(y_lt.tolist())) == {
        "ENTY": 1250,
        "HUM": 788,
        "DESC": 497,
        "NUM": 313,
        "LOC": 198,
        "ABBR": 86,
    }


def test_long_tailed_ties_broken_by_label_and_at_least_one():
    y = _labels({"b": 10, "a": 10, "c": 3})
    X = np.arange(len(y))
    _, y_lt = make_long_tailed(X, y, 1000, random_state=0)
    # 'a' ranks before 'b' on the tie: a keeps 10, b int(10 / sqrt(1000)) = 0 -> 1.
    assert dict(Counter(y_lt.tolist())) == {"a": 10, "b": 1, "c": 1}


def test_long_tailed_ratio_one_keeps_everything(trec_like):
    X, y = trec_like
    X_lt, y_lt = make_long_tailed(X, y, 1, random_state=0)
    assert X_lt == X and y_lt.tolist() == y.tolist()


def test_long_tailed_deterministic(trec_like):
    X, y = trec_like
    a = make_long_tailed(X, y, 20, random_state=3, return_indices=True)
    b = make_long_tailed(X, y, 20, random_state=3, return_indices=True)
    c = make_long_tailed(X, y, 20, random_state=4, return_indices=True)
    assert np.array_equal(a[2], b[2]) and a[0] == b[0]
    assert not np.array_equal(a[2], c[2])


def test_long_tailed_nested(trec_like):
    X, y = trec_like
    kept = {
        ir: set(make_long_tailed(X, y, ir, random_state=7, return_indices=True)[2])
        for ir in (10, 20, 50)
    }
    assert kept[50] <= kept[20] <= kept[10]
    assert len(kept[50]) < len(kept[20]) < len(kept[10])


def test_long_tailed_container_round_trip(trec_like):
    X, y = trec_like
    X_list, y_list = make_long_tailed(X, list(y), 20, random_state=0)
    assert isinstance(X_list, list) and isinstance(y_list, np.ndarray)
    X_arr, _ = make_long_tailed(np.asarray(X), y, 20, random_state=0)
    assert isinstance(X_arr, np.ndarray) and X_arr.tolist() == X_list
    X_2d, _ = make_long_tailed(np.arange(2 * len(y)).reshape(-1, 2), y, 20, random_state=0)
    assert X_2d.shape == (len(X_list), 2)


def test_long_tailed_indices_align(trec_like):
    X, y = trec_like
    aug = [f"aug {t}" for t in X]
    X_lt, y_lt, idx = make_long_tailed(X, y, 50, random_state=0, return_indices=True)
    assert np.all(np.diff(idx) > 0)  # original order kept
    assert X_lt == [X[i] for i in idx]
    assert np.array_equal(y_lt, y[idx])
    assert [aug[i] for i in idx] == [f"aug {t}" for t in X_lt]


@pytest.mark.parametrize("bad", [0.5, 0, -3, float("nan"), float("inf"), "10", True, None])
def test_long_tailed_bad_ratio(trec_like, bad):
    X, y = trec_like
    with pytest.raises(ValueError, match="imbalance_ratio must be"):
        make_long_tailed(X, y, bad)


def test_long_tailed_validation():
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_long_tailed(["a", "b"], ["x", "x"], 10)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_long_tailed(["a", "b", "c"], ["x", "y"], 10)


# ---------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def shared_datasets():
    """The benchmark's shared data folder (``SHARPRECL_DATA``, else ``../shared/datasets``).

    Absent on a bare checkout: skipped with where it was looked for, failed under
    CI (``CI`` set) so that CI never passes without reading the real files.
    """
    home = Path(os.environ.get("SHARPRECL_DATA", SHARED_DATASETS))
    missing = [name for name in ("trec", "trec-sharprecl", "cr") if not (home / name / "train.csv").is_file()]
    if missing:
        message = (f"the shared benchmark data is not at {home} ({missing[0]}/train.csv is missing); "
                   "set SHARPRECL_DATA to the folder that holds trec/, trec-sharprecl/ and cr/")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return home


def test_real_trec_and_long_tailed_counts(shared_datasets):
    train = load_text_dataset("trec", data_home=shared_datasets)
    test = load_text_dataset("trec", subset="test", data_home=shared_datasets)
    assert len(train.data) == 5452 and len(test.data) == 500
    assert train.target_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert "### trec" in train.DESCR
    # The authors' TREC files carry the augmented view of every training text.
    authors = load_text_dataset(shared_datasets / "trec-sharprecl")
    assert len(authors.aug_data) == len(authors.data) == 5452
    assert sum(a != t for a, t in zip(authors.aug_data, authors.data, strict=True)) > 5452 // 2

    counts = {}
    for name in ("trec", "cr"):
        X, y = load_text_dataset(name, data_home=shared_datasets, return_X_y=True)
        for ir in (50, 20, 10):
            _, y_lt = make_long_tailed(X, y, ir, random_state=0)
            counts[name, ir] = dict(Counter(y_lt.tolist()).most_common())
            print(f"{name} ir={ir}: {counts[name, ir]}")
    assert counts["trec", 50] == {
        "ENTY": 1250,
        "HUM": 571,
        "DESC": 261,
        "NUM": 119,
        "LOC": 54,
        "ABBR": 25,
    }
    assert counts["cr", 50] == {"positive": 2165, "negative": 43}
    assert counts["cr", 20] == {"positive": 2165, "negative": 108}
    assert counts["cr", 10] == {"positive": 2165, "negative": 216}
