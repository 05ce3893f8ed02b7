"""Use an encoder of your own: build one, save it to a directory, pass the directory.

``SharpReCLClassifier(encoder=...)`` takes anything that
``transformers.AutoModel.from_pretrained`` and ``AutoTokenizer.from_pretrained``
accept: a hub id such as ``"bert-base-uncased"`` (downloaded once into the
Hugging Face cache), or a local directory holding the model (``config.json``
and the weights) and its tokenizer files, as written by ``model.save_pretrained(d)``
and ``tokenizer.save_pretrained(d)``. Models whose code lives in the repository
rather than in transformers need ``module__trust_remote_code=True`` (a routed
parameter of the network module); it stays False unless you ask for it, so no
downloaded code runs by default.

To show the mechanics with no download, this script builds an encoder from
scratch: a WordPiece vocabulary of the training texts' words (``vocab.txt``),
a small randomly initialised BERT (``BertConfig``), both saved with
``save_pretrained`` into one directory, which is then given as ``encoder=``.
An encoder that was never pretrained has nothing to transfer, so it is
trained with a high learning rate for the whole network (``--lr``, default
1e-3; the default 5e-5 is meant for pretrained encoders). For real work use a
pretrained encoder.

    python examples/own_encoder.py --encoder my-encoder/

writes the encoder to ``my-encoder/`` (which must not exist or be empty;
default: a temporary directory) and fits on generated support tickets. The
model is small enough to train on a CPU in seconds.
"""

import argparse
import re
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import BertConfig, BertModel, BertTokenizer

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_encoder(directory, texts, hidden_size=64, num_layers=2, max_length=128, seed=0):
    """Write a small random BERT and a word-level WordPiece vocabulary of ``texts`` to ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # BERT's pre-tokenizer splits on whitespace and punctuation (after lower-casing).
    words = sorted({w for text in texts for w in re.findall(r"\w+|[^\w\s]", text.lower())})
    vocab = SPECIAL_TOKENS + [w for w in words if w not in SPECIAL_TOKENS]
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # The vocabulary is the first positional argument: transformers 5 calls it
    # ``vocab`` (and silently ignores ``vocab_file=``), transformers 4 ``vocab_file``.
    tokenizer = BertTokenizer(str(vocab_file), do_lower_case=True)
    if len(tokenizer) != len(vocab):
        raise RuntimeError(
            f"the tokenizer has {len(tokenizer)} tokens, not the {len(vocab)} of {vocab_file}"
        )
    tokenizer.save_pretrained(directory)

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=max(1, hidden_size // 32),
        intermediate_size=4 * hidden_size,
        max_position_embeddings=max(64, max_length),
    )
    model = BertModel(config)
    model.save_pretrained(directory)
    return directory, tokenizer, sum(p.numel() for p in model.parameters())


def fit_and_score(directory, args):
    X_train, y_train = make_support_tickets(args.n_samples, args.imbalance_ratio, random_state=args.seed)
    X_test, y_test = make_support_tickets(args.n_test, 1.0, random_state=args.seed + 1)
    directory, tokenizer, n_parameters = build_encoder(
        directory, X_train, args.hidden_size, args.num_layers, args.max_length, args.seed
    )
    print(f"encoder written to {directory}: {len(tokenizer)} tokens, {n_parameters:,} parameters")
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        print(f"  {path.name}")
    print("tokens of a test text:", tokenizer.tokenize(X_test[0]))

    clf = SharpReCLClassifier(
        encoder=str(directory),  # any local directory or hub id
        max_length=args.max_length,
        max_epochs=args.max_epochs,
        lr=args.lr,
        random_state=args.seed,
    ).fit(X_train, y_train)
    y_pred = clf.predict(X_test)
    macro_f1 = f1_score(y_test, y_pred, average="macro")
    epochs = len(clf.net_.history)
    print(f"\nfitted {epochs} epoch(s) on {len(X_train)} long-tailed texts "
          f"(encoder_name_={clf.encoder_name_})")
    print(f"macro-F1 on {len(X_test)} balanced test texts: {macro_f1:.4f}")
    predicted, counts = np.unique(y_pred, return_counts=True)
    print("predicted class counts:", dict(zip(predicted.tolist(), counts.tolist())))
    return {
        "macro_f1": float(macro_f1),
        "encoder_dir": str(directory),
        "vocab_size": len(tokenizer),
        "n_encoder_parameters": n_parameters,
        "encoder_name": clf.encoder_name_,
        "epochs": epochs,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", default=None, metavar="DIR",
                        help="directory to write the new encoder to (must not exist or be empty; "
                             "default: a temporary directory)")
    parser.add_argument("--n-samples", type=int, default=400, help="training texts (generated)")
    parser.add_argument("--n-test", type=int, default=300, help="balanced test texts (generated)")
    parser.add_argument("--imbalance-ratio", type=float, default=20.0, help="largest / smallest class")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=32, help="tokens per text")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate of the encoder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.encoder is None:
        with tempfile.TemporaryDirectory() as tmp:
            return fit_and_score(Path(tmp) / "encoder", args)
    directory = Path(args.encoder)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        parser.error(f"--encoder {directory} exists and is not an empty directory; "
                     "this example writes a new encoder there.")
    return fit_and_score(directory, args)


if __name__ == "__main__":
    main()
