"""Saving and loading a fitted SharpReCLClassifier, two ways.

1. ``joblib.dump`` / ``joblib.load``: the whole estimator as a pickle, like any
   scikit-learn model. Loading a pickle can run arbitrary code: load only
   files you trust.
2. ``clf.save_pretrained(dir)`` / ``SharpReCLClassifier.load_pretrained(dir)``:
   a directory of safetensors weights and JSON (parameters, classes, library
   versions, the SHA-256 of every file loaded), the fine-tuned encoder and its
   tokenizer in the transformers layout (``encoder/``, which
   ``transformers.AutoModel.from_pretrained`` loads as it is) and a generated
   model card (``README.md``). Loading runs no code from the files, and a
   truncated or edited file is refused. Suited to sharing models.

For each round trip the script checks with numpy that the loaded model gives
exactly the same ``predict_proba`` as the original, prints the result, and
lists what the saved directory holds.

    python examples/persistence.py --output-dir saved/

uses the packaged all-MiniLM-L6-v2 encoder (a saved model is then about
90 MB); without ``--output-dir`` the files go to a temporary directory that
is deleted at the end.
"""

import argparse
import tempfile
from pathlib import Path

import joblib
import numpy as np

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets


def _size(n_bytes):
    if n_bytes < 1024:
        return f"{n_bytes} B"
    for unit in ("KB", "MB", "GB"):
        n_bytes /= 1024
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.1f} {unit}"


def round_trips(clf, X, folder):
    """Both round trips into ``folder``; True if both give identical probabilities."""
    folder = Path(folder)
    proba = clf.predict_proba(X)

    pickle_file = folder / "model.joblib"
    joblib.dump(clf, pickle_file)
    from_pickle = joblib.load(pickle_file)
    joblib_ok = np.array_equal(from_pickle.predict_proba(X), proba)
    print(f"joblib:          {pickle_file.name} ({_size(pickle_file.stat().st_size)}), "
          f"identical predict_proba: {joblib_ok}")

    model_dir = clf.save_pretrained(folder / "model")
    from_dir = SharpReCLClassifier.load_pretrained(model_dir)
    pretrained_ok = np.array_equal(from_dir.predict_proba(X), proba)
    print(f"save_pretrained: {model_dir.name}/, identical predict_proba: {pretrained_ok}")
    print(f"  classes after loading: {from_dir.classes_.tolist()}")

    print(f"\ncontents of {model_dir}:")
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        print(f"  {str(path.relative_to(model_dir)):<36} {_size(path.stat().st_size):>8}")
    return joblib_ok and pretrained_ok


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=None,
                        help="encoder directory or hub id (default: the packaged MiniLM)")
    parser.add_argument("--n-samples", type=int, default=300, help="training texts (generated)")
    parser.add_argument("--max-epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=32, help="tokens per text")
    parser.add_argument("--output-dir", default=None,
                        help="where to write model.joblib and model/ (default: a temporary directory)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    X, y = make_support_tickets(args.n_samples, random_state=args.seed)
    clf = SharpReCLClassifier(
        encoder=args.encoder,
        max_length=args.max_length,
        max_epochs=args.max_epochs,
        random_state=args.seed,
    ).fit(X, y)
    X_new, _ = make_support_tickets(60, 1.0, random_state=args.seed + 1)
    print(f"fitted on {len(X)} texts; comparing predict_proba on {len(X_new)} new texts\n")

    if args.output_dir is not None:
        folder = Path(args.output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        identical = round_trips(clf, X_new, folder)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            identical = round_trips(clf, X_new, tmp)
    print(f"\nboth round trips identical: {identical}")
    return identical


if __name__ == "__main__":
    main()
