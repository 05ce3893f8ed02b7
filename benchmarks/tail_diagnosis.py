"""Why the branch loses the tail on many classes (suite study, issue #32, step 1).

Fits SharpReCL and LA-CE exactly as ``benchmarks.run`` does for one protocol-2 cell and seed
(same data, development split, settings and seed) and writes, per class and against its
training count, on the development split:

- ``recall``, ``precision``;
- ``auc``: the one-vs-rest ROC AUC of the class's own score (the logit ``decision_function``
  returns): does the model rank the class's texts first, whatever the level of its scores?
- ``offset_all``: the class's logit minus the mean logit over classes, averaged over every dev
  text; ``offset_own``: the same over the class's own dev texts; ``margin_own``: over its own dev
  texts, its logit minus the best other class's (negative: mostly missed);
- ``weight_norm`` and ``bias``: the class's classifier row and bias;
- ``proto_norm``: the norm of the class's prototype before normalisation (``proj_h(w_c)``, centred
  over classes when ``module__center_prototypes``), in the contrastive space;
- ``proto_cos``: the cosine, in the contrastive space, between the class's normalised prototype
  and the normalised mean of the normalised embeddings ``normalize(proj_f(f))`` of its training
  texts (what the contrastive loss pulls together). For LA-CE, whose projection heads are never
  trained, it is reported for reference only.

    python -m benchmarks.tail_diagnosis --cell stackoverflow:50 --seed 0
    python -m benchmarks.tail_diagnosis --cell banking77:50 --seed 0 --set head_init=linear_probe
    python -m benchmarks.tail_diagnosis --plot   # one PNG per record, from the records alone
    python -m benchmarks.tail_diagnosis --from-runs  # recall and precision per class over the suite's seeds

``--from-runs`` needs no fit: it reads the suite's protocol-2 run records of SharpReCL and LA-CE
(their development recall and precision per class) and writes ``diagnosis/from_runs.json`` and
``tail_recall_precision_from_runs.png``.

Records: ``benchmarks/results/diagnosis/<cell>__seed<seed>.json``.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support, roc_auc_score

from .methods import BRANCH, RECIPES, neural_settings
from .peers import make_method
from .run import DEFAULT_DATA, RESULTS, choose_max_length, code_revision, effective_params, load_cell
from .encoders import load_tokenizer

DIAGNOSIS = RESULTS / "diagnosis"
METHODS = ("SharpReCL", "LA-CE (w/o CL)")
# SharpReCL as the baseline records ran it (0.1.0's defaults): the branch (the benchmark's one
# definition of it) on two views, spelled out since augment=None became the default (H25).
TWO_VIEW_BRANCH = {**BRANCH, "augment": "dropout"}
# The suite's baseline settings (``benchmarks.run --set``); ``--set`` adds to them.
BASELINE = ["module__center_prototypes=true", "precision=bf16"]
QUANTITIES = ("recall", "precision", "auc", "offset_own", "margin_own", "offset_all",
              "weight_norm", "proto_norm", "proto_cos")


def _normalize(a):
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def per_class(y_dev, scores, y_train, train_embeddings, prototypes, classes):
    """The per-class quantities (see the module docstring) as a dict of lists, one entry a class.

    ``scores``: (n_dev, C) logits of the dev texts; ``train_embeddings``: (n_train, d) normalised
    contrastive embeddings of the training texts; ``prototypes``: (C, d) before normalisation.
    """
    y_dev, y_train, classes = np.asarray(y_dev), np.asarray(y_train), list(classes)
    pred = np.asarray(classes)[scores.argmax(1)]
    precision, recall, _, _ = precision_recall_fscore_support(y_dev, pred, labels=classes, zero_division=0)
    centred = scores - scores.mean(1, keepdims=True)
    out = {name: [] for name in ("train_count", "dev_count", "auc", "offset_all", "offset_own",
                                 "margin_own", "proto_norm", "proto_cos")}
    unit_protos = _normalize(prototypes)
    for k, c in enumerate(classes):
        own = y_dev == c
        others = np.delete(scores, k, axis=1).max(1)
        out["train_count"].append(int((y_train == c).sum()))
        out["dev_count"].append(int(own.sum()))
        out["auc"].append(float(roc_auc_score(own, scores[:, k])) if 0 < own.sum() < len(own) else None)
        out["offset_all"].append(float(centred[:, k].mean()))
        out["offset_own"].append(float(centred[own, k].mean()) if own.any() else None)
        out["margin_own"].append(float((scores[own, k] - others[own]).mean()) if own.any() else None)
        out["proto_norm"].append(float(np.linalg.norm(prototypes[k])))
        mean_embedding = _normalize(train_embeddings[y_train == c].mean(0))
        out["proto_cos"].append(float(unit_protos[k] @ mean_embedding))
    out["recall"], out["precision"] = recall.tolist(), precision.tolist()
    return out


def network_parts(model, X_train):
    """Prototypes before normalisation, classifier rows and biases, and the training texts'
    normalised contrastive embeddings, as numpy arrays."""
    import torch

    module = model.net_.module_
    with torch.no_grad():
        weight = module.classifier.weight.detach().float()
        head = module.prototype_head
        prototypes = head.proj_h(weight)
        if head.center:
            prototypes = prototypes - prototypes.mean(0, keepdim=True)
        features = torch.as_tensor(model.transform(X_train)).float()
        embeddings = torch.nn.functional.normalize(module.proj_f(features), dim=-1)
        parts = (prototypes, weight.norm(dim=1), module.classifier.bias.detach().float(), embeddings)
    return tuple(part.detach().cpu().numpy() for part in parts)


def diagnose(cell, seed, overrides, data, recipe="r1-linear-all", max_epochs=4):
    dataset, ratio = cell.split(":")
    ratio = int(ratio)
    X_train, y_train, _, _, _, (X_dev, y_dev) = load_cell(dataset, ratio, seed, data, protocol=2)
    max_length = choose_max_length(X_train, load_tokenizer(None), RECIPES[recipe]["length_quantile"])
    classes = np.unique(y_train)
    record = {"dataset": dataset, "imbalance_ratio": ratio, "seed": seed, "recipe": recipe,
              "set": overrides, "max_length": max_length, "code_revision": code_revision(),
              "classes": [str(c) for c in classes], "methods": {}}
    for method in METHODS:
        settings = {**neural_settings(recipe, overrides), **(TWO_VIEW_BRANCH if method == "SharpReCL" else {})}
        model = make_method(method, seed, max_length, None, max_epochs, settings)
        tic, cpu_tic = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train)
        fit_seconds, fit_cpu_seconds = time.perf_counter() - tic, time.process_time() - cpu_tic
        scores = np.asarray(model.decision_function(X_dev), float)
        prototypes, weight_norm, bias, embeddings = network_parts(model, X_train)
        result = per_class(y_dev, scores, y_train, embeddings, prototypes, classes)
        result.update(estimator_params=effective_params(model), weight_norm=weight_norm.tolist(), bias=bias.tolist(), fit_seconds=fit_seconds,
                      fit_cpu_seconds=fit_cpu_seconds,
                      head_init=getattr(model, "head_init_", None), settings=settings,
                      dev_macro_f1=float(f1_score(y_dev, classes[scores.argmax(1)], labels=classes,
                                                  average="macro", zero_division=0)))
        record["methods"][method] = result
        print(f"{method}: dev macro-F1 {result['dev_macro_f1']:.4f} ({fit_seconds:.0f} s)", flush=True)
    DIAGNOSIS.mkdir(parents=True, exist_ok=True)
    path = DIAGNOSIS / f"{dataset}__ir{ratio}__seed{seed}.json"
    path.write_text(json.dumps(record, indent=1))
    return path


def plot(path):
    """One PNG per record: a panel per quantity against the training count, both methods."""
    import matplotlib

    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    record = json.loads(Path(path).read_text())
    fig, axes = plt.subplots(3, 3, figsize=(13, 10))
    for ax, name in zip(axes.flat, QUANTITIES):
        for method, marker in zip(METHODS, ("o", "x")):
            r = record["methods"][method]
            pairs = [(n, v) for n, v in zip(r["train_count"], r[name]) if v is not None]
            ax.scatter(*zip(*pairs), marker=marker, s=18, alpha=0.8, label=method)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(name)
        ax.set_xlabel("training texts of the class")
    axes.flat[0].legend()
    fig.suptitle(f"{record['dataset']} ir={record['imbalance_ratio']}, seed {record['seed']}, "
                 f"development split (set: {record['set']})")
    fig.tight_layout()
    out = RESULTS / f"tail_diagnosis_{record['dataset']}_ir{record['imbalance_ratio']}.png"
    fig.savefig(out, dpi=80)
    return out


#: The suite's runs read by ``--from-runs``: a cell and the ``--set`` of its records.
RUN_SETS = ((("stackoverflow", 50), {"module__center_prototypes": True, "precision": "bf16"}),
            (("banking77", 50), {"module__center_prototypes": True, "precision": "bf16"}),
            (("banking77", 50), {"module__center_prototypes": True, "precision": "bf16", "head_init": "linear_probe"}))


def from_runs(results=RESULTS / "study"):
    """Per class, the mean over seeds of the development recall and precision of SharpReCL and
    LA-CE in the suite's run records (the seeds both have), with the class's training count."""
    from . import suite_report

    grid = suite_report.load(results)
    out = []
    for cell, settings in RUN_SETS:
        runs = {m: suite_report.runs_of(grid, 2, m, settings, cell) for m in METHODS}
        seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
        if not seeds:
            continue
        counts = runs[METHODS[0]][seeds[0]]["train_class_counts"]
        classes = sorted(counts, key=lambda c: (counts[c], c))
        entry = {"dataset": cell[0], "imbalance_ratio": cell[1], "set": settings, "seeds": seeds,
                 "classes": classes, "train_count": [counts[c] for c in classes], "methods": {}}
        for method in METHODS:
            per_class = [runs[method][s]["dev"]["per_class"] for s in seeds]
            entry["methods"][method] = {
                key: [float(np.mean([pc[c][key] for pc in per_class])) for c in classes]
                for key in ("recall", "precision")}
        out.append(entry)
    DIAGNOSIS.mkdir(parents=True, exist_ok=True)
    (DIAGNOSIS / "from_runs.json").write_text(json.dumps(out, indent=1))
    return out


def plot_from_runs(entries):
    """SharpReCL minus LA-CE, recall and precision per class against its training count."""
    import matplotlib

    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(entries), 2, figsize=(11, 3.2 * len(entries)), squeeze=False)
    for row, entry in zip(axes, entries):
        for ax, key in zip(row, ("recall", "precision")):
            a, b = (np.array(entry["methods"][m][key]) for m in METHODS)
            ax.scatter(entry["train_count"], 100 * (a - b), s=14)
            ax.axhline(0, color="grey", lw=0.8)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            head = "probe head" if entry["set"].get("head_init") == "linear_probe" else "random head"
            ax.set_title(f"{entry['dataset']} ir={entry['imbalance_ratio']} ({head}, {len(entry['seeds'])} seeds): "
                         f"{key}, SharpReCL − LA-CE", fontsize=9)
            ax.set_xlabel("training texts of the class")
    fig.tight_layout()
    out = RESULTS / "tail_recall_precision_from_runs.png"
    fig.savefig(out, dpi=80)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", help="dataset:ratio, e.g. stackoverflow:50")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], dest="overrides", metavar="PARAM=VALUE",
                        help=f"settings added to the baseline's ({' '.join(BASELINE)})")
    parser.add_argument("--data", default=os.environ.get("SHARPRECL_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--plot", action="store_true", help="plot every record in " + str(DIAGNOSIS))
    parser.add_argument("--from-runs", action="store_true", help="recall and precision per class from the "
                        "suite's run records (no fit)")
    args = parser.parse_args(argv)
    if args.from_runs:
        print(plot_from_runs(from_runs()))
        return
    if args.plot:
        for path in sorted(DIAGNOSIS.glob("*__seed*.json")):
            print(plot(path))
        return
    from .run import parse_overrides

    print(diagnose(args.cell, args.seed, parse_overrides(BASELINE + args.overrides), args.data))


if __name__ == "__main__":
    main()
