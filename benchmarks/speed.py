"""What SharpReCL's criterion costs beside the encoder, measured side by side.

Writes ``benchmarks/results/speed.json`` and ``speed.md``.

Measured in one run, on the same encoder (the packaged all-MiniLM-L6-v2), batch
and views:

- a full training step (two-view forward, loss, backward, AdamW step) with the
  SharpReCL criterion, with plain SupCon + CE (SCLCE) and with logit-adjusted CE
  alone, at C=6 (TREC texts) and C=52 (R52 texts);
- the criterion alone (prototype head, sampling, mixup, loss; forward and
  backward) and its share of the SharpReCL step;
- the vectorised criterion against a per-class-loop reference of the same
  computation (the way the authors' code loops over classes), with the
  deterministic parts checked equal to 1e-5.

- inference: ``predict_proba`` against the bare encoder forward on the same
  texts (timings alternated, medians), length grouping, tokenisation share;
- memory: peak resident memory of a one-epoch ``fit`` (fresh process each) on
  TREC and on R52 with the default (paper) set sizes, SharpReCL against SCLCE
  and plain CE;
- gpu (CUDA only): seconds per epoch on TREC ir=50, fp32 against bf16;
- scaling: seconds per epoch and peak memory against training-set size (1k to
  8k texts, C=6) and, part ``classes``, against the number of classes (6, 23,
  52: the same 1k texts under random labels), ``max_length`` fixed.

- partial / truncation (R52, opt-in parts): one epoch with ``train_layers=2``
  cached against skorch's Freezer, and head / head + tail / chunked truncation.

Usage: ``python -m benchmarks.speed [--parts criterion inference memory scaling classes]
[--steps 4] [--data ../shared/datasets]``. Parts not run keep their previous
results in ``speed.json``.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import load_text_dataset, make_long_tailed

# The criterion is timed in isolation (beside the encoder, and against a
# class-loop reference): the network, the loss and the sampling as the estimator
# builds them inside fit, and the batches as it pads them.
from sklearn_sharprecl.nn import (HardMixupContrastiveLoss, PadCollator, SharpReCLLoss, SharpReCLModule,
                                  balanced_synthetic_sets, tokenize)

from .encoders import encoder_path, load_tokenizer

RESULTS = Path(__file__).resolve().parent / "results"
REPO = RESULTS.parents[1]  # where ``python -m benchmarks.speed`` finds the package


def criterion_defaults():
    """The criterion's settings at the estimator's defaults (its routed ``criterion__``
    parameters: n_pos 10, n_neg 500, k_hard 20, ...)."""
    prefix = "criterion__"
    return {name[len(prefix):]: value for name, value in SharpReCLClassifier.routed_parameters().items()
            if name.startswith(prefix)}


def timed(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def batch_of(dataset_name, n_classes, batch_size, max_length, tokenizer, data_home, seed=0):
    """``batch_size`` texts of ``dataset_name`` and labels spread over ``n_classes``."""
    texts, _ = load_text_dataset(dataset_name, data_home=data_home, return_X_y=True)
    rng = np.random.RandomState(seed)
    texts = [texts[i] for i in rng.choice(len(texts), batch_size, replace=False)]
    ids = tokenize(tokenizer, texts, max_length)
    X, _ = PadCollator(tokenizer.pad_token_id)([([t, t], torch.tensor(0), None) for t in ids])
    y = torch.as_tensor(rng.randint(0, n_classes, batch_size))
    return X, y


# ---------------------------------------------------------------- reference
def loop_reference_criterion(embeddings, prototypes, y, class_weight, *, n_pos, n_neg, k_hard,
                             hard_share, alpha, tau):
    """The SharpReCL contrastive loss computed class by class, as the authors' code does."""
    n_classes = prototypes.shape[0]
    labels = torch.cat([y.repeat(embeddings.shape[0] // y.shape[0]), torch.arange(n_classes)])
    pool = torch.cat([embeddings, prototypes])
    syn_pos, syn_neg = [], []
    for c in range(n_classes):
        for n, same in ((n_pos, True), (n_neg, False)):
            idx = torch.where((labels == c) if same else (labels != c))[0]
            sim = prototypes[c] @ pool[idx].T
            top = torch.topk(-sim if same else sim, min(k_hard, len(idx))).indices
            n_hard = int(round(hard_share * n))
            i, j = torch.randint(len(top), (2, n_hard))
            lam = torch.distributions.Beta(alpha, alpha).sample((n_hard, 1))
            hard = F.normalize(lam * pool[idx[top[i]]] + (1 - lam) * pool[idx[top[j]]], dim=1)
            easy = pool[idx[torch.randint(len(idx), (n - n_hard,))]]
            (syn_pos if same else syn_neg).append(torch.cat([hard, easy]))
    return loop_reference_loss(pool, labels, torch.stack(syn_pos), torch.stack(syn_neg),
                               class_weight, tau)


def loop_reference_loss(pool, labels, syn_pos, syn_neg, class_weight, tau):
    """Eq. 11 anchors grouped class by class (positives-normalised)."""
    n = pool.shape[0]
    total = pool.new_zeros(())
    for c in range(syn_pos.shape[0]):
        anchors = torch.where(labels == c)[0]
        for i in anchors.tolist():
            others = torch.arange(n) != i
            logits = torch.cat([pool[i] @ pool[others].T, pool[i] @ syn_pos[c].T,
                                pool[i] @ syn_neg[c].T]) / tau
            positive = torch.cat([labels[others] == c, torch.ones(syn_pos.shape[1], dtype=torch.bool),
                                  torch.zeros(syn_neg.shape[1], dtype=torch.bool)])
            log_prob = logits - torch.logsumexp(logits, 0)
            total = total + class_weight[c] * -log_prob[positive].mean()
    return total / n


def equality_checks(n_classes, dim=128, n_rows=64, seed=0):
    """Vectorised vs class-loop reference on the same draws.

    Returns the absolute loss difference (the vectorised loss works from the
    Gram matrix, the reference from explicit mixed vectors) and whether the
    hard candidates picked by the masked top-k equal one top-k per class.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    pool = F.normalize(torch.randn(n_rows + n_classes, dim, generator=g), dim=1)
    labels = torch.cat([torch.randint(0, n_classes, (n_rows,), generator=g), torch.arange(n_classes)])
    weight = torch.rand(n_classes, generator=g) + 0.5
    protos = pool[-n_classes:]
    sampling = {k: v for k, v in criterion_defaults().items()
                if k in ("n_pos", "n_neg", "k_hard", "mixup_alpha", "simple_sampling", "hard_mixup")}
    pos, neg = balanced_synthetic_sets(protos @ pool.T, labels, hard_share=0.75, **sampling)
    fast = HardMixupContrastiveLoss(tau=0.3)(pool, labels, pos, neg, weight)
    slow = loop_reference_loss(pool, labels, pos.vectors(pool), neg.vectors(pool), weight, 0.3)
    sim = protos @ pool.T
    member = labels[None] == torch.arange(n_classes)[:, None]
    k = 20
    masked = (-sim).masked_fill(~member, float("-inf")).topk(k, dim=1)
    same = True
    for c in range(n_classes):
        idx = torch.where(member[c])[0]
        ref = torch.topk(-sim[c, idx], min(k, len(idx))).indices
        same &= set(idx[ref].tolist()) == set(masked.indices[c, : len(idx)].tolist())
    return abs(fast.item() - slow.item()), bool(same)


def criterion_part(args):
    """Training steps with each criterion and the criterion alone, at C=6 and C=52."""
    encoder = encoder_path(None)
    tokenizer = load_tokenizer(encoder)
    cells = []
    paper = criterion_defaults()  # n_pos 10, n_neg 500, k_hard 20
    for name, n_classes in (("trec", 6), ("r52", 52)):
        X, y = batch_of(name, n_classes, args.batch_size, args.max_length, tokenizer, args.data)
        counts = np.bincount(y.numpy(), minlength=n_classes) + 5
        module = SharpReCLModule(encoder, n_classes)
        optimizer = torch.optim.AdamW(module.parameters(), lr=1e-5)
        cell = {"dataset": name, "n_classes": n_classes, "tokens": int(X["input_ids"].shape[1])}
        for label, kwargs in (("sharp", {}), ("supcon", {"contrastive": "supcon"}), ("ce", {"contrastive": None})):
            criterion = SharpReCLLoss(counts, **{**paper, **kwargs})
            criterion.hard_share = 0.75

            def step():
                module.train()
                optimizer.zero_grad()
                logits, emb, _, prototypes = module(**X)
                criterion(logits, emb, prototypes, y)["loss"].backward()
                optimizer.step()

            cell[f"step_s_{label}"] = timed(step, args.steps)
        # The criterion alone, on embeddings of the right shape.
        criterion = SharpReCLLoss(counts, **paper)
        criterion.hard_share = 0.75
        with torch.no_grad():
            logits0, emb0, *_ = module(**X)

        def criterion_only():
            logits = logits0.clone().requires_grad_()
            emb = emb0.clone().requires_grad_()
            criterion(logits, emb, module.prototypes(), y)["loss"].backward()

        def loop_only():
            emb = emb0.clone().requires_grad_()
            loop_reference_criterion(emb, module.prototypes(), y, criterion.class_weight,
                                     n_pos=paper["n_pos"], n_neg=paper["n_neg"], k_hard=paper["k_hard"],
                                     hard_share=0.75, alpha=paper["mixup_alpha"], tau=0.3).backward()

        cell["criterion_s"] = timed(criterion_only, 10)
        cell["criterion_loop_reference_s"] = timed(loop_only, 3)
        cell["criterion_share_of_step"] = cell["criterion_s"] / cell["step_s_sharp"]
        cell["step_ratio_sharp_over_supcon"] = cell["step_s_sharp"] / cell["step_s_supcon"]
        cell["step_ratio_sharp_over_ce"] = cell["step_s_sharp"] / cell["step_s_ce"]
        cell["vectorised_speedup_over_loop"] = cell["criterion_loop_reference_s"] / cell["criterion_s"]
        cell["loss_abs_diff_vs_loop"], cell["hard_candidates_equal"] = equality_checks(n_classes)
        cells.append(cell)
        print(json.dumps(cell, indent=1), flush=True)
    return cells


def inference_cell(data_home, n_texts=256, max_length=128, batch_size=32, repeats=5):
    """predict_proba against the bare encoder on the same texts (R52: mixed lengths)."""
    from sklearn_sharprecl import SharpReCLClassifier

    texts, labels = load_text_dataset("r52", "test", data_home=data_home, return_X_y=True)
    rng = np.random.RandomState(0)
    pick = rng.choice(len(texts), n_texts, replace=False)
    texts, labels = [texts[i] for i in pick], np.asarray(labels)[pick]
    clf = SharpReCLClassifier(max_length=max_length, batch_size=batch_size, max_epochs=1,
                              validation_fraction=None, contrastive=None, random_state=0)
    # A fitted estimator without training cost: fit one step on a handful of texts.
    clf.fit(texts[:8], ["a", "b"] * 4)
    module = clf.net_.module_.eval()
    tokenizer = clf.tokenizer_
    ids = tokenize(tokenizer, texts, max_length)
    collate = PadCollator(tokenizer.pad_token_id)

    def bare(order):
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                items = [([ids[i]], torch.tensor(0), None) for i in order[start:start + batch_size]]
                batch, _ = collate(items)
                module.encoder(**batch)

    by_length = np.argsort([len(t) for t in ids], kind="stable")
    unsorted = np.arange(len(ids))
    cell = {"dataset": "r52 test", "n_texts": n_texts, "max_length": max_length,
            "mean_tokens": float(np.mean([len(t) for t in ids]))}
    # Alternate the two timings so that drift on a shared machine hits both alike.
    bare(by_length), clf.predict_proba(texts)
    sorted_s, proba_s = [], []
    for _ in range(repeats):
        sorted_s.append(timed(lambda: bare(by_length), 1, warmup=0))
        proba_s.append(timed(lambda: clf.predict_proba(texts), 1, warmup=0))
    cell["repeats"] = repeats
    cell["bare_encoder_sorted_s"] = statistics.median(sorted_s)
    cell["predict_proba_s"] = statistics.median(proba_s)
    cell["bare_encoder_unsorted_s"] = timed(lambda: bare(unsorted), 3)
    cell["tokenize_s"] = timed(lambda: tokenize(tokenizer, texts, max_length), 3)
    cell["predict_proba_throughput_vs_bare_sorted"] = cell["bare_encoder_sorted_s"] / cell["predict_proba_s"]
    cell["length_grouping_gain"] = cell["bare_encoder_unsorted_s"] / cell["bare_encoder_sorted_s"]
    cell["tokenize_share_of_predict"] = cell["tokenize_s"] / cell["predict_proba_s"]
    return cell



# ------------------------------------------------------------- memory, scaling
METHODS = {
    "SharpReCL": {},
    "SCLCE": {"contrastive": "supcon", "classification_loss": "cross_entropy"},
    "CE": {"contrastive": None, "classification_loss": "cross_entropy"},
}


def memory_status():
    """``VmRSS`` and ``VmHWM`` (peak) of this process in KiB, from ``/proc/self/status``.

    Not ``getrusage``: on Linux a child's ``ru_maxrss`` starts from its
    parent's resident size at ``fork``, which would hide the fit's own peak.
    ``VmHWM`` belongs to the address space that ``exec`` creates afresh.
    """
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def fit_in_child(spec):
    """Run :func:`child_fit` in a fresh interpreter: its peak RSS is this fit's alone."""
    out = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--child", json.dumps(spec)],
                         check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_fit(spec):
    """One epoch of ``fit`` on ``spec``: seconds per epoch and peak resident memory."""
    from sklearn_sharprecl import SharpReCLClassifier

    texts, labels = load_text_dataset(spec["dataset"], "train", data_home=spec["data"], return_X_y=True)
    labels = np.asarray(labels)
    rng = np.random.RandomState(0)
    if spec.get("imbalance_ratio"):
        texts, labels = make_long_tailed(texts, labels, spec["imbalance_ratio"], random_state=0)
        labels = np.asarray(labels)
        pick = np.arange(len(texts))
    elif spec.get("per_class"):  # every class present (R52: 52 classes)
        pick = np.concatenate([rng.permutation(np.where(labels == c)[0])[: spec["per_class"]]
                               for c in np.unique(labels)])
    else:
        pick = rng.choice(len(texts), spec["n_texts"], replace=spec["n_texts"] > len(texts))
    texts, labels = [texts[i] for i in pick], labels[pick]
    if spec.get("random_labels"):  # same texts, only the number of classes moves
        labels = np.array([f"c{i}" for i in rng.randint(0, spec["random_labels"], len(texts))])
    baseline = memory_status()["VmRSS"]
    callbacks = None
    if spec.get("freeze_layers"):  # the skorch Freezer path: frozen layers still run every step
        from skorch.callbacks import Freezer

        callbacks = [Freezer(["encoder.embeddings.*"] + [f"encoder.encoder.layer.{i}.*"
                                                         for i in range(spec["freeze_layers"])])]
    clf = SharpReCLClassifier(encoder=spec.get("encoder"), max_length=spec["max_length"], max_epochs=1,
                              validation_fraction=None, random_state=0, device=spec.get("device", "auto"),
                              precision=spec.get("precision", "fp32"), callbacks=callbacks,
                              **METHODS[spec["method"]], **spec.get("params", {}))
    tic = time.perf_counter()
    clf.fit(texts, labels)
    fit_s = time.perf_counter() - tic
    extra = {}
    if spec.get("predict"):  # inference on the training texts, same process
        tic = time.perf_counter()
        clf.predict_proba(texts)
        predict_s = time.perf_counter() - tic
        ids = tokenize(clf.tokenizer_, texts, clf.max_length, clf.truncation)
        extra = {"predict_s": predict_s, "mean_tokens": float(np.mean([len(t) for t in ids]))}
    criterion = {**criterion_defaults(), **{name[len("criterion__"):]: value
                                            for name, value in clf.get_params().items()
                                            if name.startswith("criterion__")}}
    print(json.dumps({
        **{k: v for k, v in spec.items() if k not in ("data", "encoder")},
        "n_texts": len(texts), "n_classes": len(clf.classes_),
        "n_pos": criterion["n_pos"], "n_neg": criterion["n_neg"], "k_hard": criterion["k_hard"],
        "epoch_s": float(clf.net_.history[-1, "dur"]), "fit_s": fit_s, "device": str(clf.net_.device),
        "peak_rss_mib": memory_status()["VmHWM"] / 1024,
        "rss_before_fit_mib": baseline / 1024, **extra,
    }))


def memory_part(data_home):
    rows = []
    for dataset, max_length, per_class, n_texts in (("trec", 32, None, 320), ("r52", 128, 6, None)):
        for method in METHODS:
            spec = {"dataset": dataset, "max_length": max_length, "per_class": per_class,
                    "n_texts": n_texts, "method": method, "data": data_home}
            rows.append(fit_in_child(spec))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def partial_part(data_home, per_class=12):
    """R52 (128 tokens, C = 52), top 2 of 6 layers trained, one SharpReCL epoch: the
    skorch Freezer path (frozen layers recomputed every step) against train_layers=2
    (their output cached once per fit), each with random and length-grouped batches,
    and the cached path with the trained blocks under bfloat16 autocast."""
    settings = {
        "Freezer, random batches": {"freeze_layers": 4},
        "Freezer, length-grouped": {"freeze_layers": 4, "params": {"group_by_length": True}},
        "train_layers=2 (cached), random batches": {"params": {"train_layers": 2}},
        "train_layers=2 (cached), length-grouped": {"params": {"train_layers": 2, "group_by_length": True}},
        # The trained blocks under bf16 autocast: fast where the CPU has bfloat16 matmuls.
        "train_layers=2 (cached), random batches, bf16": {"precision": "bf16", "params": {"train_layers": 2}},
    }
    return r52_epoch_rows(data_home, per_class, settings)


def truncation_part(data_home, per_class=6):
    """R52 (128 tokens, top 2 layers trained and cached), one SharpReCL epoch and a
    predict_proba of the same texts, for each way of fitting a long text in
    max_length: the head, head + tail, or every token in 128-token chunks."""
    settings = {t: {"predict": True, "params": {"train_layers": 2, "truncation": t}}
                for t in ("head", "head_tail", "chunks")}
    return r52_epoch_rows(data_home, per_class, settings)


def cpu_bf16_flags():
    """The CPU's bfloat16 instruction flags from ``/proc/cpuinfo`` (x86 ``flags``, Arm
    ``Features``): the instructions bf16 autocast runs its matmuls on."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = next((line.split(":", 1)[1].split() for line in info
                          if line.startswith(("flags", "Features"))), [])
    except OSError:
        flags = []
    return sorted(flag for flag in flags if "bf16" in flag)


def bf16_flags_text(flags):
    """``None`` (a speed.json from before the flags were recorded) is not an empty list."""
    if flags is None:
        return "not recorded"
    return ", ".join(flags) or "none"


def r52_epoch_rows(data_home, per_class, settings):
    """One SharpReCL epoch on ``per_class`` R52 texts a class (128 tokens), a fresh process
    per named setting (spec entries merged into the child's spec)."""
    rows = []
    for name, setting in settings.items():
        spec = {"dataset": "r52", "max_length": 128, "per_class": per_class, "method": "SharpReCL",
                "data": data_home, "setting": name, **setting}
        rows.append(fit_in_child(spec))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def scaling_part(data_home, sizes=(1000, 2000, 4000, 8000)):
    """Seconds per epoch and peak memory against the number of texts (C = 6; TREC texts drawn
    with replacement past its 5,452)."""
    rows = []
    for n in sizes:
        rows.append(fit_in_child({"dataset": "trec", "n_texts": n, "max_length": 32,
                                  "method": "SharpReCL", "data": data_home, "axis": "texts"}))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def classes_part(data_home, n_classes=(6, 23, 52), n_texts=1000):
    """The same 1,000 TREC texts under C random labels: only the class-dependent work moves."""
    rows = []
    for c in n_classes:
        rows.append(fit_in_child({"dataset": "trec", "n_texts": n_texts, "max_length": 32,
                                  "method": "SharpReCL", "data": data_home, "axis": "classes",
                                  "random_labels": c}))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def gpu_part(data_home):
    """Seconds per epoch on TREC ir=50 (the paper's Table 3 cell) with MiniLM, fp32 vs bf16, on CUDA."""
    if not torch.cuda.is_available():
        print("gpu part skipped: no CUDA device here", flush=True)
        return None
    rows = []
    for precision in ("fp32", "bf16"):
        rows.append(fit_in_child({"dataset": "trec", "imbalance_ratio": 50, "max_length": 32,
                                  "method": "SharpReCL", "precision": precision, "device": "cuda",
                                  "data": data_home, "gpu": torch.cuda.get_device_name(0)}))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def linear_fit(x, y):
    """Slope, intercept and R^2 of a least-squares line."""
    slope, intercept = np.polyfit(x, y, 1)
    pred = slope * np.asarray(x) + intercept
    r2 = 1 - np.sum((np.asarray(y) - pred) ** 2) / np.sum((np.asarray(y) - np.mean(y)) ** 2)
    return float(slope), float(intercept), float(r2)


def plot_scaling(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_texts = sorted((r for r in rows if r.get("axis") == "texts"), key=lambda r: r["n_texts"])
    by_classes = sorted((r for r in rows if r.get("axis") == "classes"), key=lambda r: r["n_classes"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    n = [r["n_texts"] for r in by_texts]
    axes[0].plot(n, [r["epoch_s"] for r in by_texts], "o-")
    axes[0].set(xlabel="training texts (C=6)", ylabel="seconds per epoch", title="time vs texts")
    axes[1].plot(n, [r["peak_rss_mib"] for r in by_texts], "o-")
    axes[1].set(xlabel="training texts (C=6)", ylabel="peak RSS of fit (MiB)", title="memory vs texts")
    c = [r["n_classes"] for r in by_classes]
    axes[2].plot(c, [r["epoch_s"] for r in by_classes], "o-")
    axes[2].set(xlabel="classes C (the same 1k TREC texts, random labels)", ylabel="seconds per epoch", title="time vs classes")
    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.suptitle("SharpReCL fit, all-MiniLM-L6-v2, 32 tokens, batch 32 x 2 views, CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(results):
    lines = ["# Speed, memory and scaling", "",
             f"{results['encoder']}, {results['machine']}, torch {results['torch']}. "
             "Generated by `python -m benchmarks.speed`; every part's figures come from one run of "
             "that part (side by side).", ""]
    if results.get("cells"):
        lines += [
            "## Criterion cost beside the encoder", "",
            f"Batch {results['batch_size']} texts x 2 views, {results['max_length']} tokens max; median of "
            f"{results['steps_timed']} steps.", "",
            "| C | step SharpReCL (s) | step SupCon+CE (s) | step CE (s) | SharpReCL / SupCon+CE | "
            "criterion alone (s) | criterion share of step | class-loop reference (s) | vectorised speed-up | "
            "loss diff vs loop |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for c in results["cells"]:
            lines.append(
                f"| {c['n_classes']} | {c['step_s_sharp']:.3f} | {c['step_s_supcon']:.3f} | {c['step_s_ce']:.3f} | "
                f"{c['step_ratio_sharp_over_supcon']:.3f} | {c['criterion_s']:.4f} | "
                f"{100 * c['criterion_share_of_step']:.1f}% | {c['criterion_loop_reference_s']:.3f} | "
                f"{c['vectorised_speedup_over_loop']:.0f}x | {c['loss_abs_diff_vs_loop']:.1e} |"
            )
    partial = results.get("partial")
    if partial:
        base = partial[0]["epoch_s"]
        lines += [
            "", f"## Partial fine-tuning on R52 ({partial[0]['n_texts']} texts, 128 tokens, "
            f"C = {partial[0]['n_classes']}, top 2 of 6 layers trained, one SharpReCL epoch, "
            "fresh process each)", "",
            "CPU bfloat16 flags: " + bf16_flags_text(results.get("cpu_bf16_flags")) + ".", "",
            "| setting | epoch (s) | fit incl. cache (s) | vs Freezer, random | peak RSS (MiB) |",
            "|---|---|---|---|---|",
        ]
        for r in partial:
            lines.append(f"| {r['setting']} | {r['epoch_s']:.1f} | {r['fit_s']:.1f} | "
                         f"{r['epoch_s'] / base:.2f} | {r['peak_rss_mib']:.0f} |")
    trunc = results.get("truncation")
    if trunc:
        base = trunc[0]
        lines += [
            "", f"## Truncation on R52 ({base['n_texts']} texts, max_length 128, C = {base['n_classes']}, "
            "top 2 of 6 layers trained and cached, one SharpReCL epoch, fresh process each)", "",
            "| truncation | tokens per text | epoch (s) | fit incl. cache (s) | predict_proba (s) | "
            "epoch vs head | predict vs head | peak RSS (MiB) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in trunc:
            lines.append(f"| {r['setting']} | {r['mean_tokens']:.0f} | {r['epoch_s']:.1f} | {r['fit_s']:.1f} | "
                         f"{r['predict_s']:.1f} | {r['epoch_s'] / base['epoch_s']:.2f} | "
                         f"{r['predict_s'] / base['predict_s']:.2f} | {r['peak_rss_mib']:.0f} |")
    inf = results.get("inference")
    if inf:
        lines += [
            "",
            f"## Inference ({inf['n_texts']} R52 test texts, {inf['mean_tokens']:.0f} tokens on average, "
            f"max_length {inf['max_length']}; medians of {inf.get('repeats', 3)} alternated timings)",
            "",
            "| bare encoder, length-sorted (s) | bare encoder, input order (s) | predict_proba (s) | "
            "predict_proba / bare throughput | length-grouping gain | tokenisation share |",
            "|---|---|---|---|---|---|",
            f"| {inf['bare_encoder_sorted_s']:.2f} | {inf['bare_encoder_unsorted_s']:.2f} | "
            f"{inf['predict_proba_s']:.2f} | {inf['predict_proba_throughput_vs_bare_sorted']:.3f} | "
            f"{inf['length_grouping_gain']:.2f}x | {100 * inf['tokenize_share_of_predict']:.1f}% |",
        ]
    mem = results.get("memory")
    if mem:
        lines += ["", "## Peak memory of `fit` (one epoch, a fresh process per row)", "",
                  "| data | C | texts | max_length | method | n_pos / n_neg / k | seconds per epoch | "
                  "peak RSS (MiB) | vs SCLCE |", "|---|---|---|---|---|---|---|---|---|"]
        for r in mem:
            ref = next(m for m in mem if m["dataset"] == r["dataset"] and m["method"] == "SCLCE")
            lines.append(
                f"| {r['dataset']} | {r['n_classes']} | {r['n_texts']} | {r['max_length']} | {r['method']} | "
                f"{r['n_pos']} / {r['n_neg']} / {r['k_hard']} | {r['epoch_s']:.1f} | {r['peak_rss_mib']:.0f} | "
                f"{100 * (r['peak_rss_mib'] / ref['peak_rss_mib'] - 1):+.1f}% |")
    sc = results.get("scaling")
    if sc:
        texts = sorted((r for r in sc if r.get("axis") == "texts"), key=lambda r: r["n_texts"])
        slope, intercept, r2 = linear_fit([r["n_texts"] for r in texts], [r["epoch_s"] for r in texts])
        lines += ["", "## Scaling (SharpReCL, 32 tokens, one epoch, a fresh process per row)", "",
                  "Text axis: TREC texts with their labels (C = 6). Class axis: the same 1,000 TREC "
                  "texts under C random labels, so only the class-dependent work (head, prototypes, "
                  "sampling, mixup, loss) changes.", "",
                  "| axis | data | texts | C | seconds per epoch | ms per text | peak RSS (MiB) |",
                  "|---|---|---|---|---|---|---|"]
        for r in texts + [r for r in sc if r.get("axis") == "classes"]:
            lines.append(f"| {r['axis']} | {r['dataset']} | {r['n_texts']} | {r['n_classes']} | "
                         f"{r['epoch_s']:.1f} | {1000 * r['epoch_s'] / r['n_texts']:.1f} | {r['peak_rss_mib']:.0f} |")
        lines += ["", f"Least-squares line through the text axis: {1000 * slope:.1f} ms per text, "
                  f"intercept {intercept:.1f} s, R^2 = {r2:.4f}.", "",
                  "![scaling](speed_scaling.png)"]
    gpu = results.get("gpu")
    lines += ["", "## GPU: seconds per epoch on TREC ir=50, fp32 vs bf16", ""]
    if gpu:
        lines += [f"{gpu[0]['gpu']}, all-MiniLM-L6-v2, {gpu[0]['n_texts']} texts, 2 views, 32 tokens. "
                  "The paper's Table 3 gives 16 s per TREC epoch with BERT-base on an RTX 3090 Ti: a "
                  "different encoder and GPU, not a like-for-like figure.", "",
                  "| precision | seconds per epoch |", "|---|---|"]
        lines += [f"| {r['precision']} | {r['epoch_s']:.2f} |" for r in gpu]
    else:
        lines += ["Not measured: no GPU was available when this file was written. On a CUDA machine, "
                  "`python -m benchmarks.speed --parts gpu` fills this section."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["criterion", "inference", "memory", "scaling", "classes"],
                        choices=["criterion", "inference", "memory", "scaling", "classes", "partial", "truncation",
                                 "gpu"])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--data", default=os.environ.get(
        "SHARPRECL_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "datasets")))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_fit(json.loads(args.child))
    torch.manual_seed(0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "speed.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results.update({
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "encoder": "all-MiniLM-L6-v2 (packaged)",
    })
    if "criterion" in args.parts:
        results.update(batch_size=args.batch_size, views=2, max_length=args.max_length,
                       steps_timed=args.steps, cells=criterion_part(args))
    if "inference" in args.parts:
        results["inference"] = inference_cell(args.data)
        print(json.dumps(results["inference"], indent=1), flush=True)
    if "memory" in args.parts:
        results["memory"] = memory_part(args.data)
    if "scaling" in args.parts or "classes" in args.parts:
        kept = [r for r in results.get("scaling", [])
                if (r.get("axis") == "texts") != ("scaling" in args.parts)
                and (r.get("axis") == "classes") != ("classes" in args.parts)]
        fresh = (scaling_part(args.data) if "scaling" in args.parts else []) + (
            classes_part(args.data) if "classes" in args.parts else [])
        results["scaling"] = kept + fresh
        plot_scaling(results["scaling"], RESULTS / "speed_scaling.png")
    if "partial" in args.parts:
        results["partial"] = partial_part(args.data)
        results["cpu_bf16_flags"] = cpu_bf16_flags()
    if "truncation" in args.parts:
        results["truncation"] = truncation_part(args.data)
    if "gpu" in args.parts:
        results["gpu"] = gpu_part(args.data)
    path.write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (RESULTS / "speed.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
