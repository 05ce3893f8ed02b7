"""benchmarks/speed.py's memory and scaling parts: a real one-epoch fit in a fresh process on the
tiny encoder, and the table/plot built from such rows. No timing is asserted."""

import csv

import pytest

from benchmarks import speed

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ticket_home(tmp_path, tickets):
    texts, labels = tickets
    with open(tmp_path / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return tmp_path


def test_fit_in_child_reports_its_own_fit(tiny_encoder, ticket_home):
    row = speed.fit_in_child({"dataset": str(ticket_home), "n_texts": 64, "max_length": 16,
                              "method": "SharpReCL", "data": None, "encoder": tiny_encoder,
                              "axis": "classes", "random_labels": 3})
    assert row["n_texts"] == 64 and row["axis"] == "classes" and row["method"] == "SharpReCL"
    assert row["n_classes"] == 3  # the texts' own six labels replaced by three random ones
    assert row["epoch_s"] > 0 and row["fit_s"] >= row["epoch_s"]
    # the fit ran in that process: its peak is above what the process held before fitting
    assert row["peak_rss_mib"] > row["rss_before_fit_mib"] > 0
    assert (row["n_pos"], row["n_neg"], row["k_hard"]) == (10, 500, 20)


def test_per_class_draw_keeps_every_class(tiny_encoder, ticket_home, tickets):
    row = speed.fit_in_child({"dataset": str(ticket_home), "per_class": 3, "n_texts": None,
                              "max_length": 16, "method": "SCLCE", "data": None,
                              "encoder": tiny_encoder})
    assert row["n_classes"] == len(set(tickets[1])) and row["n_texts"] == 3 * row["n_classes"]


def test_linear_fit_recovers_a_line():
    slope, intercept, r2 = speed.linear_fit([1000, 2000, 4000, 8000], [12, 22, 42, 82])
    assert slope == pytest.approx(0.01) and intercept == pytest.approx(2) and r2 == pytest.approx(1)


def test_markdown_and_plot_from_rows(tmp_path):
    def row(axis, dataset, n, c, epoch_s, rss, method="SharpReCL"):
        return {"axis": axis, "dataset": dataset, "n_texts": n, "n_classes": c, "epoch_s": epoch_s,
                "peak_rss_mib": rss, "max_length": 32, "method": method, "n_pos": 10, "n_neg": 500,
                "k_hard": 20}

    scaling = [row("texts", "trec", n, 6, n / 100 + 1, 900 + n / 100) for n in (1000, 2000, 4000, 8000)]
    scaling += [row("classes", "ohsumed", 1000, 23, 11.5, 910), row("classes", "r52", 1000, 52, 12, 915)]
    memory = [row(None, "trec", 320, 6, 5, rss, m) for m, rss in (("SharpReCL", 1050), ("SCLCE", 1000),
                                                                    ("CE", 990))]
    results = {"encoder": "tiny", "machine": "test", "torch": "x", "scaling": scaling, "memory": memory}
    text = speed.markdown(results)
    assert "| trec | 6 | 320 | 32 | SharpReCL | 10 / 500 / 20 | 5.0 | 1050 | +5.0% |" in text
    assert "10.0 ms per text, intercept 1.0 s, R^2 = 1.0000" in text
    assert "| classes | r52 | 1000 | 52 | 12.0 | 12.0 | 915 |" in text
    speed.plot_scaling(scaling, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG_MAGIC


def test_truncation_rows_measure_predict_and_whole_texts(tiny_encoder, ticket_home):
    rows = {t: speed.fit_in_child({"dataset": str(ticket_home), "n_texts": 32, "max_length": 8,
                                   "method": "CE", "data": None, "encoder": tiny_encoder,
                                   "setting": t, "predict": True, "params": {"truncation": t}})
            for t in ("head", "chunks")}
    assert rows["head"]["mean_tokens"] <= 8 < rows["chunks"]["mean_tokens"]
    assert rows["chunks"]["predict_s"] > 0
    text = speed.markdown({"encoder": "tiny", "machine": "test", "torch": "x",
                           "truncation": [rows["head"], rows["chunks"]]})
    assert "| chunks | " in text and "## Truncation on R52" in text


@pytest.mark.parametrize("flags, shown", [(None, "not recorded"), ([], "none"), (["avx512_bf16"], "avx512_bf16")])
def test_partial_table_tells_unrecorded_bf16_flags_from_none(flags, shown):
    partial = [{"setting": "Freezer, random batches", "n_texts": 495, "n_classes": 52, "epoch_s": 50.0,
                "fit_s": 52.0, "peak_rss_mib": 1974},
               {"setting": "train_layers=2 (cached), random batches, bf16", "n_texts": 495, "n_classes": 52,
                "epoch_s": 15.0, "fit_s": 24.0, "peak_rss_mib": 1900}]
    results = {"encoder": "tiny", "machine": "test", "torch": "x", "partial": partial}
    if flags is not None:
        results["cpu_bf16_flags"] = flags
    text = speed.markdown(results)
    assert f"CPU bfloat16 flags: {shown}." in text
    assert "| train_layers=2 (cached), random batches, bf16 | 15.0 | 24.0 | 0.30 | 1900 |" in text


def test_vectorised_criterion_matches_the_class_loop_at_the_estimators_defaults():
    assert {k: speed.criterion_defaults()[k] for k in ("n_pos", "n_neg", "k_hard")} == {
        "n_pos": 10, "n_neg": 500, "k_hard": 20}
    loss_diff, same_candidates = speed.equality_checks(n_classes=6)
    assert loss_diff < 1e-4 and same_candidates
