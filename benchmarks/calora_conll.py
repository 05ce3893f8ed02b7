"""CALoRA on CoNLL-2003 NER: class-aware LoRA experts on a token-classification head.

The paper's NLP experiment (Zhu et al., Section 4.2): a BERT token classifier
with a linear head, then one rank-r LoRA expert per NER tag on that head, each
token routed to the experts of its top-k tags as predicted by the frozen model.

Stage 1  fine-tunes encoder + linear head (plain cross-entropy) on the first
         ``--n-sentences`` training sentences.
Stage 2  freezes all of it, caches the word features once (the encoder is
         frozen, so they do not change), wraps a copy of the head in
         ``ClassAwareLoRALinear`` and trains only A and B on the cached
         features. Four stage-2 variants share one stage 1 per seed (paired):

         - ``CALoRA (CE)``: top-k routing, cross-entropy (the paper's setting);
         - ``CALoRA (LA)``: top-k routing, logit-adjusted CE (the library's
           ``CALoRAClassifier`` default);
         - ``all experts (CE)`` / ``all experts (LA)``: ``top_k = n_tags``, i.e.
           one plain LoRA of rank ``n_tags * r`` on the head: the same trained
           parameters without class-aware routing, to tell routing from the
           extra capacity and the loss.

Scores are per tag at the WORD level (the first sub-token of each word carries
the word's tag), macro- and weighted-F1 over the tags, computed with
scikit-learn: the metric of the paper's Table 2 (not seqeval's entity-level
F1). Tags are converted to IOB2 by default (``B-`` opens every entity, as in
the Hugging Face copy of the dataset), ``--scheme iob1`` keeps the original.

    python -m benchmarks.calora_conll                   # 3 seeds, writes results
    python -m benchmarks.calora_conll --n-sentences 300 --seeds 0 --no-write

writes ``benchmarks/results/calora_conll.{json,md}``. Uses the packaged
all-MiniLM-L6-v2 unless ``--encoder`` names another local model.
"""

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, precision_recall_fscore_support
from torch import nn

from sklearn_sharprecl import ClassAwareLoRALinear
# The token classifier of stages 1 and 2 is this script's own; it trains with the
# library's classification losses (cross-entropy and logit-adjusted CE).
from sklearn_sharprecl.nn import make_classification_loss

from .encoders import encoder_path, load_tokenizer, quiet_loading

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = Path(os.environ.get(
    "SHARPRECL_DATA", Path(__file__).resolve().parents[2] / "shared" / "datasets"
)) / "conll2003"
VARIANTS = {  # name -> (loss, routed)
    "CALoRA (CE)": ("cross_entropy", True),
    "CALoRA (LA)": ("logit_adjusted", True),
    "all experts (CE)": ("cross_entropy", False),
    "all experts (LA)": ("logit_adjusted", False),
}


def read_conll(path, n_sentences=None):
    """``[(words, tags)]`` of a CoNLL file (word first, NER tag last; ``-DOCSTART-`` skipped)."""
    sentences, words, tags = [], [], []
    for line in Path(path).read_text().splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append((words, tags))
                words, tags = [], []
                if n_sentences is not None and len(sentences) == n_sentences:
                    break
            continue
        parts = line.split()
        words.append(parts[0])
        tags.append(parts[-1])
    return sentences


def iob1_to_iob2(tags):
    """IOB2 tags of an IOB1 sentence: an ``I-X`` that opens an entity becomes ``B-X``."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def encode(tokenizer, sentences, tag_index, max_length):
    """Token ids and, per token, the tag of the word it starts (-100 elsewhere)."""
    items = []
    for words, tags in sentences:
        enc = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        labels, previous = [], None
        for word in enc.word_ids():
            labels.append(-100 if word is None or word == previous else tag_index[tags[word]])
            previous = word
        items.append((torch.tensor(enc["input_ids"]), torch.tensor(labels)))
    return items


def batches(items, batch_size, pad_id, shuffle=False, generator=None):
    order = torch.randperm(len(items), generator=generator) if shuffle else torch.arange(len(items))
    for start in range(0, len(items), batch_size):
        chunk = [items[i] for i in order[start:start + batch_size]]
        ids = nn.utils.rnn.pad_sequence([c[0] for c in chunk], batch_first=True, padding_value=pad_id)
        labels = nn.utils.rnn.pad_sequence([c[1] for c in chunk], batch_first=True, padding_value=-100)
        yield ids, (ids != pad_id).long(), labels


class TokenClassifier(nn.Module):
    def __init__(self, encoder, n_tags, dropout=0.1):
        super().__init__()
        from transformers import AutoModel

        with quiet_loading():
            self.encoder = AutoModel.from_pretrained(encoder, dtype=torch.float32)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.encoder.config.hidden_size, n_tags)

    def features(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def forward(self, input_ids, attention_mask):
        return self.classifier(self.dropout(self.features(input_ids, attention_mask)))


@torch.inference_mode()
def word_features(model, items, pad_id, batch_size=64):
    """Features and tags of the word-initial tokens: the frozen stage-1 encoder, once.

    Sentences are batched by length (less padding) and the words come back in
    corpus order.
    """
    model.eval()
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    feats, tags = [None] * len(items), [None] * len(items)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        (ids, mask, labels), = batches([items[i] for i in idx], batch_size, pad_id)
        hidden = model.features(ids, mask)
        for row, i in enumerate(idx):
            keep = labels[row] != -100
            feats[i], tags[i] = hidden[row][keep], labels[row][keep]
    return torch.cat(feats), torch.cat(tags)


def scores(y_true, y_pred, labels, names):
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "per_tag": {n: {"f1": float(fi), "recall": float(ri), "precision": float(pi), "support": int(si)}
                    for n, fi, ri, pi, si in zip(names, f, r, p, s)},
    }


def train_experts(base_head, x, y, counts, loss, top_k, rank, epochs, seed):
    torch.manual_seed(seed)
    head = ClassAwareLoRALinear(copy.deepcopy(base_head), rank=rank, top_k=top_k)
    criterion = make_classification_loss(loss, counts)
    optimizer = torch.optim.AdamW([head.lora_A, head.lora_B], lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    tic = time.perf_counter()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=generator).split(256):
            batch_loss = criterion(head(x[idx]), y[idx])
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
    return head, (time.perf_counter() - tic) / epochs


def run_seed(args, seed, train, test, tag_names):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    tag_index = {t: i for i, t in enumerate(tag_names)}
    tokenizer = load_tokenizer(args.encoder)
    pad_id = tokenizer.pad_token_id
    model = TokenClassifier(args.encoder, len(tag_names))
    max_length = min(args.max_length, model.encoder.config.max_position_embeddings)
    train_items = encode(tokenizer, train, tag_index, max_length)
    test_items = encode(tokenizer, test, tag_index, max_length)

    # Stage 1: fine-tune encoder + head with cross-entropy.
    optimizer = torch.optim.AdamW([
        {"params": model.encoder.parameters(), "lr": 5e-5},
        {"params": model.classifier.parameters(), "lr": 1e-3},
    ])
    tic = time.perf_counter()
    for _ in range(args.base_epochs):
        model.train()
        for ids, mask, labels in batches(train_items, 16, pad_id, shuffle=True, generator=generator):
            loss = nn.functional.cross_entropy(
                model(ids, mask).flatten(0, 1), labels.flatten(), ignore_index=-100
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    record = {"seed": seed, "stage1_seconds_per_epoch": (time.perf_counter() - tic) / args.base_epochs}

    # Stage 2: frozen model, cached word features, only A and B train.
    tic = time.perf_counter()
    x_train, y_train = word_features(model, train_items, pad_id)
    record["feature_cache_seconds"] = time.perf_counter() - tic
    x_test, y_test = word_features(model, test_items, pad_id)
    y_test = y_test.numpy()
    labels = list(range(len(tag_names)))
    counts = np.bincount(y_train.numpy(), minlength=len(tag_names))
    record["train_words_per_tag"] = {t: int(c) for t, c in zip(tag_names, counts)}
    record["n_base_parameters"] = sum(p.numel() for p in model.parameters())
    with torch.inference_mode():
        base_pred = model.classifier(x_test).argmax(1).numpy()
    record["methods"] = {"base (CE fine-tuned)": scores(y_test, base_pred, labels, tag_names)}
    for name, (loss, routed) in VARIANTS.items():
        top_k = args.top_k if routed else len(tag_names)
        head, seconds = train_experts(model.classifier, x_train, y_train, counts, loss, top_k,
                                      args.rank, args.lora_epochs, seed)
        with torch.inference_mode():
            pred = head(x_test).argmax(1).numpy()
        record["methods"][name] = scores(y_test, pred, labels, tag_names)
        record["methods"][name].update(
            stage2_seconds_per_epoch=seconds, n_trainable_parameters=head.n_trainable_parameters()
        )
    return record


def summarise(runs, tag_names, counts):
    """Mean ± std over seeds and paired differences against the base."""
    methods = list(runs[0]["methods"])
    rarest = [t for t in sorted(tag_names, key=lambda t: counts[t]) if counts[t] > 0][:5]
    summary = {}
    for m in methods:
        macro = np.array([r["methods"][m]["macro_f1"] for r in runs])
        weighted = np.array([r["methods"][m]["weighted_f1"] for r in runs])
        base = np.array([r["methods"]["base (CE fine-tuned)"]["macro_f1"] for r in runs])
        summary[m] = {
            "macro_f1_mean": float(macro.mean()), "macro_f1_std": float(macro.std(ddof=1)) if len(runs) > 1 else 0.0,
            "weighted_f1_mean": float(weighted.mean()),
            "weighted_f1_std": float(weighted.std(ddof=1)) if len(runs) > 1 else 0.0,
            "paired_macro_f1_gain_vs_base": [float(d) for d in macro - base],
            "rarest_tags_f1_mean": {t: float(np.mean([r["methods"][m]["per_tag"][t]["f1"] for r in runs]))
                                    for t in rarest},
        }
    return summary, rarest


def markdown(result):
    s, rarest = result["summary"], result["rarest_tags"]
    pct = lambda v: f"{100 * v:.2f}"  # noqa: E731
    lines = [
        "# CALoRA on CoNLL-2003 (word-level tag F1)", "",
        f"Encoder `{result['encoder_name']}`; stage 1 on the first {result['n_train_sentences']} training "
        f"sentences ({result['base_epochs']} epochs, CE), test = {result['n_test_sentences']} sentences of "
        f"`test.txt`; {result['scheme'].upper()} tags; rank {result['rank']}, top-k {result['top_k']}; "
        f"seeds {result['seeds']} (paired: every row of a seed shares its stage 1). "
        f"Command: `{result['command']}`.", "",
        "| method | macro-F1 | weighted-F1 | paired macro-F1 gain vs base (per seed) |",
        "|---|---|---|---|",
    ]
    for m, v in s.items():
        gains = ", ".join(f"{100 * g:+.2f}" for g in v["paired_macro_f1_gain_vs_base"])
        lines.append(f"| {m} | {pct(v['macro_f1_mean'])} ± {pct(v['macro_f1_std'])} | "
                     f"{pct(v['weighted_f1_mean'])} ± {pct(v['weighted_f1_std'])} | {gains} |")
    lines += ["", "Paper (BERT, full training set, their Table 2): base 83.21 → CALoRA 85.42 macro-F1; "
              "84.62 → 87.61 weighted-F1 (theirs, different encoder and data size).", "",
              "## F1 of the five rarest tags (mean over seeds)", "",
              "| method | " + " | ".join(f"{t} ({result['train_words_per_tag'][t]} train words)" for t in rarest) + " |",
              "|---|" + "---|" * len(rarest)]
    for m, v in s.items():
        lines.append(f"| {m} | " + " | ".join(pct(v["rarest_tags_f1_mean"][t]) for t in rarest) + " |")
    cost = result["cost"]
    lines += ["", "## Cost (mean over seeds, this CPU)", "",
              f"- stage 1: {cost['stage1_seconds_per_epoch']:.1f} s per epoch; "
              f"caching the training words' features once: {cost['feature_cache_seconds']:.1f} s",
              f"- stage 2: {cost['stage2_seconds_per_epoch']:.3f} s per epoch "
              f"({result['lora_epochs']} epochs), {cost['n_trainable_parameters']:,} trainable parameters "
              f"= {100 * cost['n_trainable_parameters'] / cost['n_base_parameters']:.3f}% of the "
              f"{cost['n_base_parameters']:,} of the base model", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-sentences", type=int, default=3000, help="training sentences (first N)")
    parser.add_argument("--n-test", type=int, default=None, help="test sentences (default: all)")
    parser.add_argument("--encoder", default=None, help="encoder directory (default: packaged MiniLM)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="folder with train.txt and test.txt")
    parser.add_argument("--base-epochs", type=int, default=2)
    parser.add_argument("--lora-epochs", type=int, default=30)
    parser.add_argument("--rank", type=int, default=8, help="rank per tag (paper: 8)")
    parser.add_argument("--top-k", type=int, default=2, help="experts per token (paper: 2)")
    parser.add_argument("--scheme", choices=["iob2", "iob1"], default="iob2")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--results", default=str(RESULTS), help="folder for calora_conll.{json,md}")
    parser.add_argument("--no-write", action="store_true", help="print only")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    encoder_name = args.encoder or "all-MiniLM-L6-v2 (packaged)"
    args.encoder = encoder_path(args.encoder)

    data = Path(args.data)
    train = read_conll(data / "train.txt", args.n_sentences)
    test = read_conll(data / "test.txt", args.n_test)
    if args.scheme == "iob2":
        train = [(w, iob1_to_iob2(t)) for w, t in train]
        test = [(w, iob1_to_iob2(t)) for w, t in test]
    tag_names = sorted({t for _, tags in train + test for t in tags})

    runs = []
    for seed in args.seeds:
        runs.append(run_seed(args, seed, train, test, tag_names))
        line = ", ".join(f"{m} {100 * v['macro_f1']:.2f}" for m, v in runs[-1]["methods"].items())
        print(f"seed {seed}: macro-F1 {line}", flush=True)
    counts = runs[0]["train_words_per_tag"]
    summary, rarest = summarise(runs, tag_names, counts)
    stage2 = [v["stage2_seconds_per_epoch"] for r in runs for m, v in r["methods"].items() if m.startswith("CALoRA")]
    result = {
        "encoder_name": encoder_name, "scheme": args.scheme, "n_train_sentences": len(train),
        "n_test_sentences": len(test), "n_test_words": sum(len(w) for w, _ in test),
        "base_epochs": args.base_epochs, "lora_epochs": args.lora_epochs, "rank": args.rank,
        "top_k": args.top_k, "seeds": args.seeds, "tags": tag_names, "train_words_per_tag": counts,
        "command": " ".join(["python -m benchmarks.calora_conll", *argv]),
        "summary": summary, "rarest_tags": rarest,
        "cost": {
            "stage1_seconds_per_epoch": float(np.mean([r["stage1_seconds_per_epoch"] for r in runs])),
            "feature_cache_seconds": float(np.mean([r["feature_cache_seconds"] for r in runs])),
            "stage2_seconds_per_epoch": float(np.mean(stage2)),
            "n_trainable_parameters": runs[0]["methods"]["CALoRA (CE)"]["n_trainable_parameters"],
            "n_base_parameters": runs[0]["n_base_parameters"],
        },
        "runs": runs,
    }
    text = markdown(result)
    print(text)
    if not args.no_write:
        out = Path(args.results)
        out.mkdir(parents=True, exist_ok=True)
        (out / "calora_conll.json").write_text(json.dumps(result, indent=1))
        (out / "calora_conll.md").write_text(text)
    return result


if __name__ == "__main__":
    main()
