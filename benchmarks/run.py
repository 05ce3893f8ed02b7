"""Benchmark harness: the paper's Table 2 / Table 4 protocol, every method side by side.

One command runs a named profile; every finished run is written at once to
``benchmarks/results/runs/<key>.json`` (key: dataset, ratio, method, seed and a
hash of the config), and a rerun skips what is done, so a long grid accumulates
across invocations and machines.

    python -m benchmarks.run --profile quick            # TREC and CR at ir=50
    python -m benchmarks.run --profile full             # + ir 20/10, R52, Ohsumed
    python -m benchmarks.run --profile quick --dry-run  # list what would run
    python -m benchmarks.run --profile full --cells r52 ohsumed --seeds 1

Protocol: the training split is long-tailed with the exponential profile (test
split untouched); R52 and Ohsumed are used as they are. In the benchmark's
recipe ``v1``, model selection uses a stratified validation split of the
training data only; the study recipe ``r1-linear-all`` (today's estimator
defaults, apart from their ``module__center_prototypes=True``) has none and
keeps the last epoch. For a seed, every method sees the same long-tailed
subset, validation split and initialisation seed (paired seeds).

``--set`` takes estimator parameters as ``SharpReCLClassifier`` spells them
(``module__center_prototypes=true``); the config keeps them as typed, so a
rerun finds its records.
Every record stores the estimator's complete settings (``estimator_params``),
the library version and the recipe.
"""

import argparse
import hashlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from tqdm import tqdm

import sklearn_sharprecl
from sklearn_sharprecl import CALoRAClassifier, SharpReCLClassifier
from sklearn_sharprecl.datasets import load_text_dataset, make_long_tailed

from .encoders import load_tokenizer
from .methods import CALORA_BASES, CLASSIC, MAIN, MAX_LENGTH_CAP, NEURAL, OTHER, PROFILES, RECIPES, neural_settings
from .peers import make_method

RESULTS = Path(__file__).resolve().parent / "results"
STOP_FILE = RESULTS / "STOP"
# Fitted CALoRA bases (safe format, not committed): a later invocation can add
# the CALoRA rows of a cell without refitting its base.
MODELS = RESULTS / "models"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def choose_max_length(texts, tokenizer, quantile=0.95, cap=MAX_LENGTH_CAP):
    """Token length covering ``quantile`` of the training texts, capped."""
    lengths = [len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]]
    return int(min(cap, np.quantile(lengths, quantile)))


def parse_overrides(items):
    """``["tau=0.5", "augment=wordnet"]`` -> ``{"tau": 0.5, "augment": "wordnet"}`` (JSON values, else strings)."""
    overrides = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--set takes PARAM=VALUE, got {item!r}")
        try:
            overrides[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides[name] = value
    return overrides


def check_overrides(overrides):
    """Refuse, before any run, ``--set`` names the estimator does not take."""
    try:
        SharpReCLClassifier().set_params(**overrides)
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"--set: {exc}") from exc


def json_safe(value):
    """``value`` as JSON: containers element-wise, estimators as their class and settings,
    classes by name, any other object as its repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, type):
        return value.__name__
    if hasattr(value, "get_params"):
        return {"class": type(value).__name__, "params": effective_params(value)}
    return repr(value)


def effective_params(model):
    """Every setting ``model`` fits with, JSON-safe.

    ``get_params(deep=False)``; for ``SharpReCLClassifier`` also the defaults of
    the routed parameters not set (those of a callback disabled with ``None``
    left out), so that a record needs neither the source nor the defaults of
    the library version it was made with.
    """
    params = model.get_params(deep=False)
    if isinstance(model, SharpReCLClassifier):
        disabled = [name for name, value in params.items() if name.startswith("callbacks__") and value is None]
        defaults = {name: value for name, value in SharpReCLClassifier.routed_parameters().items()
                    if not any(name.startswith(f"{d}__") for d in disabled)}
        params = {**defaults, **params}
    return {name: json_safe(value) for name, value in sorted(params.items())}


def code_revision():
    """The git commit of this checkout (``+`` when the library or the benchmark differ from it),
    or None outside git."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--",
                                  "sklearn_sharprecl", "benchmarks/*.py", "benchmarks/reporting"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if changed else "")


def run_key(dataset, ratio, method, seed, config):
    digest = hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    slug = method.lower().replace(" ", "-").replace("/", "").replace("(", "").replace(")", "").replace("+", "-").replace("δ", "delta")
    return f"{dataset}__ir{ratio or 'org'}__{slug}__seed{seed}__{digest}"


def per_dataset(setting, dataset):
    """A profile setting given per dataset, ``None`` being the default."""
    return setting.get(dataset, setting[None])


def select_cells(cells, wanted):
    """The profile's cells named in ``wanted`` (``r52`` or ``trec:50``), in profile order."""
    if not wanted:
        return list(cells)
    known = {d for d, _ in cells} | {f"{d}:{r}" for d, r in cells if r is not None}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise SystemExit(f"unknown cells {unknown}; this profile has {sorted(known)}")
    return [(d, r) for d, r in cells if d in wanted or f"{d}:{r}" in wanted]


def grid(profile, methods, cells=None, seeds=None):
    """Cells in the order that makes a partial grid most useful.

    First every seed of the multi-seed methods (the side-by-side comparison),
    seed 0 of every cell before seed 1; then the one-seed extras.
    """
    spec = PROFILES[profile]
    cells = select_cells(spec["cells"], cells)
    multi = [m for m in methods if m in MAIN or m in CLASSIC or m in CALORA_BASES]
    single = [m for m in methods if m not in multi]
    for seed in range(spec["seeds"] if seeds is None else seeds):
        for dataset, ratio in cells:
            for method in multi:
                yield dataset, ratio, method, seed
    for dataset, ratio in cells:
        for method in single:
            yield dataset, ratio, method, 0


def evaluate(y_true, y_pred, classes):
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "per_class": {
            str(c): {"f1": float(f), "recall": float(r), "precision": float(p), "test_support": int(s)}
            for c, f, r, p, s in zip(classes, f1, recall, precision, support)
        },
    }


def development_split(y, fraction=0.1, random_state=0):
    """Indices ``(pool, dev)`` of a training split: ``floor(fraction * n_c)`` texts of each class
    held out, drawn once (the same for every run seed), so that classes with fewer than
    ``1 / fraction`` texts stay whole in the pool. Protocol 2's development split."""
    rng = np.random.RandomState(random_state)
    y = np.asarray(y)
    dev = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: int(fraction * np.sum(y == c))]
                          for c in np.unique(y)])
    return np.setdiff1d(np.arange(len(y)), dev), np.sort(dev)


def load_cell(dataset, ratio, seed, data_home, protocol=1):
    """Training, test and (protocol 2) development texts and labels of a cell, and the kept
    training rows' ``aug_text`` (or None).

    Protocol 1 long-tails the whole training split. Protocol 2 first holds out a development
    split (:func:`development_split`) and long-tails the rest: screens and the choice of
    defaults read the development scores, never the test ones.
    """
    train = load_text_dataset(dataset, "train", data_home=data_home)
    X_test, y_test = load_text_dataset(dataset, "test", data_home=data_home, return_X_y=True)
    y_all = np.asarray(train.target)
    pool, dev = (np.arange(len(y_all)), None) if protocol == 1 else development_split(y_all)
    X_pool, y_pool = [train.data[i] for i in pool], y_all[pool]
    kept = np.arange(len(pool))
    if ratio is not None:
        _, _, kept = make_long_tailed(X_pool, y_pool, ratio, random_state=seed, return_indices=True)
    rows = pool[kept]
    X_train, y_train = [train.data[i] for i in rows], y_all[rows]
    aug_train = [train.aug_data[i] for i in rows] if "aug_data" in train else None
    dev_set = None if dev is None else ([train.data[i] for i in dev], y_all[dev])
    return X_train, y_train, X_test, np.asarray(y_test), aug_train, dev_set


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument("--methods", nargs="*", help="subset of methods (default: all)")
    parser.add_argument("--cells", nargs="*", help="subset of the profile's cells: a dataset (r52) "
                        "or dataset:ratio (trec:50); default: all")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the profile's)")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="override the profile's epochs for every cell (e.g. 4 on a GPU)")
    parser.add_argument("--encoder", default=None, help="local encoder directory (default: packaged MiniLM)")
    parser.add_argument("--data", default=os.environ.get("SHARPRECL_DATA", str(DEFAULT_DATA)))
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="v1",
                        help="settings shared by every neural method (default: v1, the benchmark's)")
    parser.add_argument("--set", nargs="*", default=[], metavar="PARAM=VALUE", dest="overrides",
                        help="estimator parameters for the neural methods of this invocation "
                        "(method-study screens, e.g. --set tau=0.5); recorded in the config")
    parser.add_argument("--aug-text", action="store_true",
                        help="pass the dataset's aug_text column to fit as X_aug, the second view of "
                        "the contrastive branch (profile authors-trec; method-study H7)")
    parser.add_argument("--protocol", type=int, choices=(1, 2), default=1,
                        help="1: long-tail the whole training split (the method study's records); "
                        "2: hold out a development split first and score it too (the suite study)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    args.overrides = parse_overrides(args.overrides)
    check_overrides(args.overrides)
    # Records of the method study (another recipe, overrides or second view)
    # are kept apart from the benchmark's, so the tables only ever show the
    # shipped settings.
    study = args.recipe != "v1" or bool(args.overrides) or args.aug_text

    spec = PROFILES[args.profile]
    methods = args.methods or (list(NEURAL) + list(CALORA_BASES) + CLASSIC + OTHER)
    # CALoRA rows need their base in the same cell: run bases first.
    methods = sorted(methods, key=lambda m: m in CALORA_BASES)
    todo = []
    runs_dir = RESULTS / ("study" if study else "runs")
    runs_dir.mkdir(parents=True, exist_ok=True)
    for dataset, ratio, method, seed in grid(args.profile, methods, args.cells, args.seeds):
        config = run_config(args, spec, dataset, method, study)
        key = run_key(dataset, ratio, method, seed, config)
        if not (runs_dir / f"{key}.json").exists():
            todo.append((dataset, ratio, method, seed, config, key))
    print(f"{len(todo)} runs to do for profile {args.profile!r}")
    if args.dry_run:
        for item in todo:
            print("  ", item[-1])
        return
    run_grid(todo, args, spec, runs_dir)


def run_config(args, spec, dataset, method, study):
    """The config of a run: what its key hashes (``--set`` exactly as typed)."""
    max_epochs = args.max_epochs or per_dataset(spec["max_epochs"], dataset)
    config = {"encoder": args.encoder or "all-MiniLM-L6-v2", "max_epochs": max_epochs,
              # No Freezer any more; the key stays so that records keep their names.
              "freeze_layers": 0, "protocol": args.protocol}
    train_layers = per_dataset(spec.get("train_layers", {None: None}), dataset)
    if train_layers and (method in NEURAL or method in CALORA_BASES):  # CALoRA: its base
        config["train_layers"] = train_layers
    if study:
        config["recipe"] = args.recipe
        # A CALoRA row is keyed by its base's settings, so that it finds that base.
        settings = NEURAL.get(CALORA_BASES.get(method, method))
        if settings is not None and args.overrides:
            config["set"] = args.overrides
        # Only where X_aug is the second view: not without a contrastive
        # branch, nor for a method whose view is its own augmenter.
        if settings is not None and args.aug_text and settings.get("contrastive", "sharp") \
                and "augment" not in settings:
            config["second_view"] = "aug_text"
        if method == "SetFit":  # a fair peer: as many seconds as SharpReCL took
            config["time_budget_of"] = "SharpReCL"
    return config


def time_budget(args, spec, dataset, ratio, seed, runs_dir):
    """Fit seconds of SharpReCL's record of this cell and seed (with this invocation's settings)."""
    config = run_config(args, spec, dataset, "SharpReCL", study=True)
    path = runs_dir / f"{run_key(dataset, ratio, 'SharpReCL', seed, config)}.json"
    if not path.is_file():
        raise FileNotFoundError(f"SetFit's time budget is SharpReCL's fit time on this cell and seed, "
                                f"and {path.name} does not exist yet: run SharpReCL first.")
    return json.loads(path.read_text())["fit_seconds"]


def run_grid(todo, args, spec, runs_dir):
    """Fit the runs of ``todo`` in order, writing each record as soon as it is done."""
    # Only the token lengths of the training texts: the same tokenizer the estimator loads.
    tokenizer = load_tokenizer(args.encoder)
    cache, lengths, fitted_bases = {}, {}, {}
    revision = code_revision()
    started = time.perf_counter()
    for dataset, ratio, method, seed, config, key in tqdm(todo, desc="benchmark", unit="run"):
        if STOP_FILE.exists():  # lets the user free the CPU between runs without losing one
            STOP_FILE.unlink()
            tqdm.write(f"stopped before {key}: {STOP_FILE.name} found")
            break
        cell = (dataset, ratio, seed)
        if cell not in cache:
            cache.clear()
            fitted_bases.clear()
            cache[cell] = load_cell(dataset, ratio, seed, args.data, args.protocol)
        X_train, y_train, X_test, y_test, aug_train, dev_set = cache[cell]
        if cell not in lengths:
            lengths[cell] = choose_max_length(X_train, tokenizer, RECIPES[args.recipe]["length_quantile"])
        max_length = lengths[cell]
        classes = np.unique(y_train)
        record = {
            "dataset": dataset, "imbalance_ratio": ratio, "method": method, "seed": seed,
            "config": config, "max_length": max_length,
            "n_train": len(X_train), "n_test": len(X_test),
            "train_class_counts": {str(c): int((y_train == c).sum()) for c in classes},
            "machine": f"{platform.machine()} {os.cpu_count()} cores",
            "library_version": sklearn_sharprecl.__version__, "code_revision": revision,
        }
        if method in NEURAL or method in CALORA_BASES:  # CALoRA: its base's recipe
            record["recipe"] = config.get("recipe", "v1")
        try:
            if "time_budget_of" in config:
                record["time_budget_seconds"] = time_budget(args, spec, dataset, ratio, seed, runs_dir)
            record = run_one(record, method, seed, cell, X_train, y_train, X_test, y_test, classes,
                             max_length, config, args, spec, fitted_bases, aug_train, dev_set)
        except Exception as exc:  # one broken peer must not stop the grid; rerun retries it
            tqdm.write(f"FAILED {key}: {type(exc).__name__}: {exc}")
            with open(RESULTS / "failures.log", "a") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {key}: {type(exc).__name__}: {exc}\n")
            continue
        if record is None:
            continue
        (runs_dir / f"{key}.json").write_text(json.dumps(record, indent=1))
        tqdm.write(f"{key}: macro-F1 {record['macro_f1']:.4f} acc {record['accuracy']:.4f} "
                   f"({record['fit_seconds']:.0f} s)")
    print(f"done in {time.perf_counter() - started:.0f} s")


def saved_model_path(record, method, seed, config):
    """Where the fitted ``method`` of this record's cell is kept for later CALoRA rows."""
    return MODELS / run_key(record["dataset"], record["imbalance_ratio"], method, seed, config)


def fit_method(record, method, seed, cell, X_train, y_train, max_length, config, args, fitted_bases,
               aug_train=None):
    """The fitted ``method`` of this record's cell (None when a CALoRA row has no base)."""
    if method in CALORA_BASES:
        base = fitted_bases.get((cell, CALORA_BASES[method]))
        saved = saved_model_path(record, CALORA_BASES[method], seed, config)
        if base is None and (saved / "config.json").is_file():
            base = SharpReCLClassifier.load_pretrained(saved)
        if base is None:
            tqdm.write(f"skip {method}: its base {CALORA_BASES[method]} was neither fitted in "
                       f"this run nor saved in {MODELS}")
            return None
        model = CALoRAClassifier(base, rank=8, top_k=2, random_state=seed).fit(X_train, y_train)
        record["calora"] = {"rank": 8, "top_k": 2,
                            "n_trainable_parameters": int(model.n_trainable_parameters_),
                            "seconds_per_epoch": float(np.mean(model.net_.history[:, "dur"]))}
        return model
    extra = {"train_layers": config["train_layers"]} if "train_layers" in config else {}
    params = neural_settings(config.get("recipe", "v1"), config.get("set"), **extra)
    if "time_budget_seconds" in record:
        params = {"time_budget": record["time_budget_seconds"]}
    model = make_method(method, seed, max_length, args.encoder, config["max_epochs"], params)
    fit_params = {}
    if config.get("second_view") == "aug_text":
        if aug_train is None:
            raise ValueError(f"--aug-text: dataset {record['dataset']!r} has no aug_text column")
        fit_params["X_aug"] = aug_train
    return model.fit(X_train, y_train, **fit_params)


def run_one(record, method, seed, cell, X_train, y_train, X_test, y_test, classes, max_length,
            config, args, spec, fitted_bases, aug_train=None, dev_set=None):
    """Fit and evaluate one method; returns the filled record (None to skip)."""
    tic, cpu_tic = time.perf_counter(), time.process_time()
    model = fit_method(record, method, seed, cell, X_train, y_train, max_length, config, args,
                       fitted_bases, aug_train)
    if model is None:
        return None
    record["fit_seconds"] = time.perf_counter() - tic
    # CPU seconds of every thread of this process: unlike the wall time, hardly changed by other
    # processes sharing the machine, so ratios of fits that did not run side by side stay fair.
    record["fit_cpu_seconds"] = time.process_time() - cpu_tic
    record["estimator_params"] = effective_params(model)
    if hasattr(model, "max_steps_"):
        record["setfit"] = {"max_steps": model.max_steps_, "seconds_per_step": model.seconds_per_step_}
    if hasattr(model, "versions_"):
        record["versions"] = dict(model.versions_)
    logit_adjusted = getattr(model, "classification_loss", None) == "logit_adjusted"
    tic = time.perf_counter()
    # One pass over the test texts: predict is the argmax of predict_proba.
    proba = model.predict_proba(X_test) if logit_adjusted else None
    y_pred = model.classes_[proba.argmax(1)] if logit_adjusted else model.predict(X_test)
    record["predict_seconds"] = time.perf_counter() - tic
    int8_diagnostic(record, model, X_test, y_test, classes)
    if logit_adjusted and getattr(model, "decision_prior", None) is None:  # proba: balanced
        prior_diagnostics(record, model, proba, X_test, y_test, classes)
    if hasattr(model, "net_") and method not in CALORA_BASES:
        training_facts(record, model)
        if method in CALORA_BASES.values():
            fitted_bases[(cell, method)] = model
            model.save_pretrained(saved_model_path(record, method, seed, config))
    if dev_set is not None:  # protocol 2: what screens and defaults are chosen on
        record["dev"] = evaluate(dev_set[1], model.predict(dev_set[0]), classes)
        record["n_dev"] = len(dev_set[1])
    record.update(evaluate(y_test, y_pred, classes))
    return record


def int8_diagnostic(record, model, X_test, y_test, classes):
    """Diagnostic, never used for selection: the same model's test predictions with int8
    dynamic quantization (issue #16), timed right after the fp32 pass.

    Only our estimator fitted on the CPU has an int8 copy (``quantize_int8``). The time
    includes making the copy, as in the records made before the estimator redesign
    (the copy was then made inside the first int8 ``predict_proba``).
    """
    if not isinstance(model, SharpReCLClassifier) or not str(model.net_.device).startswith("cpu"):
        return
    tic = time.perf_counter()
    quantized = model.quantize_int8()
    y_int8 = quantized.classes_[quantized.predict_proba(X_test).argmax(1)]
    record["int8"] = {"predict_seconds": time.perf_counter() - tic,
                      "macro_f1": evaluate(y_test, y_int8, classes)["macro_f1"]}


def prior_diagnostics(record, model, proba, X_test, y_test, classes):
    """Diagnostics only, never used for selection, of a model whose ``proba`` is the balanced
    posterior: its decisions under other priors."""
    # The *training* prior (Bayes rule p(y|x) ~ p_bal(y|x) * pi_y).
    prior = np.array([record["train_class_counts"][str(c)] for c in model.classes_], float)
    scores = proba * (prior / prior.sum())
    record["train_prior_decision"] = evaluate(y_test, model.classes_[scores.argmax(1)], classes)
    if hasattr(model, "estimate_decision_prior"):  # CALoRA has none
        # The prior estimated by EM from the unlabelled test texts (no test label is read).
        estimated = model.estimate_decision_prior(X_test)
        scores = proba * estimated
        record["estimated_prior_decision"] = {
            **evaluate(y_test, model.classes_[scores.argmax(1)], classes),
            "prior": {str(c): float(v) for c, v in zip(model.classes_, estimated)}}


def training_facts(record, model):
    """What partial fine-tuning (frozen layers) left trainable, and the training curve."""
    params = list(model.net_.module_.parameters())
    record["n_parameters"] = sum(p.numel() for p in params)
    record["n_trainable_parameters"] = sum(p.numel() for p in params if p.requires_grad)
    history = model.net_.history
    record["epochs"] = len(history)
    record["seconds_per_epoch"] = float(np.mean(history[:, "dur"]))
    if "valid_f1_macro" in history[-1]:
        record["best_epoch"] = int(np.argmax(history[:, "valid_f1_macro"])) + 1
        record["valid_f1_macro"] = [float(v) for v in history[:, "valid_f1_macro"]]


if __name__ == "__main__":
    main()
