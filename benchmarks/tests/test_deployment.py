"""benchmarks/deployment.py: a smoke run on the tiny encoder fits, exports and scores every
variant side by side; a smoke run never writes into the recorded results."""

import csv
import json

import pytest

from benchmarks import deployment
from sklearn_sharprecl.datasets import make_support_tickets


def _write_dataset(folder, train, test):
    for name, (texts, labels) in (("train", train), ("test", test)):
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(("text", "label"))
            writer.writerows(zip(texts, labels))


def test_deployment_benchmark_quick_run(tiny_encoder, tmp_path):
    train = make_support_tickets(n_samples=240, imbalance_ratio=10, random_state=0)
    test = make_support_tickets(n_samples=120, imbalance_ratio=1, random_state=1)
    for name in ("trec", "r52"):
        _write_dataset(tmp_path / "data" / name, train, test)
    results = deployment.main(["--quick", "--encoder", tiny_encoder, "--data", str(tmp_path / "data"),
                               "--out", str(tmp_path / "out"), "--threads", "1"])
    assert [cell["cell"] for cell in results["cells"]] == ["trec", "r52"]
    for cell in results["cells"]:
        rows = {row["variant"]: row for row in cell["rows"]}
        assert list(rows) == list(deployment.VARIANTS)
        assert (cell["n_train"], cell["n_test"]) == (60, 40)
        assert rows["ONNX fp32"]["max_abs_dp_vs_torch_fp32"] < 1e-4
        assert rows["ONNX fp32"]["macro_f1_change_vs_torch_fp32"] == 0
        assert rows["ONNX int8"]["model_mb"] < rows["ONNX fp32"]["model_mb"]
    saved = json.loads((tmp_path / "out" / "deployment.json").read_text())
    assert saved["cells"][1]["rows"][2]["variant"] == "ONNX fp32"
    table = (tmp_path / "out" / "deployment.md").read_text()
    assert "| ONNX int8 |" in table and "smoke run" in table


def test_deployment_benchmark_quick_run_needs_its_own_folder():
    with pytest.raises(SystemExit):
        deployment.parse_args(["--quick"])
