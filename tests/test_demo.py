"""The demo script (sklearn_sharprecl.demo)."""

import warnings

from sklearn_sharprecl.demo import main as demo_main


def test_demo_prints_plain_labels(tiny_encoder, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        demo_main(["--n-train", "80", "--max-epochs", "1", "--encoder", tiny_encoder])
    out = capsys.readouterr().out
    assert "examples per class: account" in out
    assert "np.str_" not in out and "np.int64" not in out

