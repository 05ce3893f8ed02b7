"""Plots and an evaluation report for a fitted :class:`SharpReCLClassifier`.

matplotlib is an optional dependency (``pip install sklearn-sharprecl[plots]``);
it is imported only when a function here is called. Every plot function
returns its matplotlib :class:`~matplotlib.figure.Figure`, draws on ``ax``
when one is given, and never calls ``plt.show()``: display the figure in a
notebook, or save it with ``fig.savefig(...)``.
"""

# License: BSD 3 clause

import json
from pathlib import Path

import numpy as np

__all__ = [
    "contrastive_embeddings",
    "evaluation_report",
    "plot_confusion_matrix",
    "plot_embeddings",
    "plot_f1_by_class_frequency",
    "plot_training_curves",
]

#: Names of the files :func:`evaluation_report` writes, by key of its result.
REPORT_FILES = {
    "f1_by_class": "f1_by_class.png",
    "confusion_matrix": "confusion_matrix.png",
    "training_curves": "training_curves.png",
    "embeddings": "embeddings.png",
    "report": "report.txt",
    "metrics": "metrics.json",
}


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_sharprecl.plotting needs matplotlib: "
            "pip install 'sklearn-sharprecl[plots]' (or pip install matplotlib)."
        ) from exc
    return plt


def _class_colors(n):
    """``n`` distinct colours: tab10, then tab20, then an evenly spaced hsv."""
    import matplotlib

    if n <= 10:
        return [matplotlib.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(n)]
    return [matplotlib.colormaps["hsv"](i / n) for i in range(n)]


def _label_ticks(ax, names):
    """Class names as x tick labels, slanted when they would collide."""
    ax.set_xticks(np.arange(len(names)))
    long = len(names) > 6 or max((len(n) for n in names), default=0) > 8
    ax.set_xticklabels(names, rotation=35 if long else 0, ha="right" if long else "center")


# --------------------------------------------------------------- per class
def plot_f1_by_class_frequency(y_true, y_pred, class_counts, classes, ax=None):
    """Per-class F1 as bars, ordered from the head to the tail class.

    Classes are sorted by their number of training examples, largest first;
    the counts are drawn as points on a secondary y-axis, so a drop of F1
    towards the tail shows at a glance. A dashed line marks the macro-F1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_labels)
        True labels, or a multi-label indicator matrix whose columns follow
        ``classes``.
    y_pred : array-like of shape (n_samples,) or (n_samples, n_labels)
        Predicted labels, or the predicted indicator matrix.
    class_counts : array-like of shape (n_classes,)
        Training examples per class (per label: its positive texts), aligned
        with ``classes`` (e.g. a fitted estimator's ``class_counts_``).
    classes : array-like of shape (n_classes,)
        The class labels (e.g. ``classes_``), or the names of the labels.
    ax : matplotlib Axes, default=None
        Axes to draw the bars on; a new figure is made when None. The counts
        go on ``ax.twinx()``.

    Returns
    -------
    fig : matplotlib Figure
    """
    from sklearn.metrics import f1_score
    from sklearn.utils.multiclass import type_of_target

    plt = _pyplot()
    classes = np.asarray(classes)
    class_counts = np.asarray(class_counts)
    if class_counts.shape != classes.shape:
        raise ValueError(
            f"class_counts has shape {class_counts.shape} but classes has shape "
            f"{classes.shape}; give one count per class."
        )
    order = np.argsort(-class_counts, kind="stable")
    if type_of_target(y_true) == "multilabel-indicator":  # one column per label, in classes' order
        f1 = f1_score(y_true, y_pred, average=None, zero_division=0)[order]
    else:
        f1 = f1_score(y_true, y_pred, labels=classes[order], average=None, zero_division=0)
    classes, class_counts = classes[order], class_counts[order]
    macro = float(np.mean(f1))
    names = [str(c) for c in classes]
    x = np.arange(len(classes))

    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(classes) + 2.5), 4.2))
    fig = ax.figure
    bars = ax.bar(x, f1, width=0.65, color="tab:blue", alpha=0.85, label="F1 (test)")
    macro_line = ax.axhline(macro, color="navy", linestyle="--", linewidth=1,
                            label=f"macro-F1 = {macro:.3f}")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("F1")
    ax.set_xlabel("class (head → tail by training examples)")
    _label_ticks(ax, names)
    ax.set_title("Per-class F1 by training frequency", pad=24)

    counts_ax = ax.twinx()
    (count_line,) = counts_ax.plot(
        x, class_counts, color="0.25", marker="o", linewidth=1, label="training examples"
    )
    counts_ax.set_ylim(0, max(1, class_counts.max()) * 1.12)
    counts_ax.set_ylabel("training examples")
    # The F1 values go on the twin axes, which is drawn last, on a white box:
    # on ``ax`` the count line and the macro-F1 line would cross them.
    for rect, value in zip(bars, f1):
        counts_ax.annotate(
            f"{value:.2f}",
            (rect.get_x() + rect.get_width() / 2, rect.get_height()),
            xycoords=ax.transData,
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            zorder=5,
            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none",
                      alpha=0.85),
        )
    # Above the axes: inside, it would hide the tops of high bars.
    ax.legend(handles=[bars, macro_line, count_line], loc="lower center",
              bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(y_true, y_pred, labels, ax=None):
    """Confusion matrix normalised by true class (each row sums to one).

    Drawn by :meth:`sklearn.metrics.ConfusionMatrixDisplay.from_predictions`
    with ``normalize="true"``, so the diagonal is each class's recall. The
    colour scale is fixed to [0, 1].

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_classes,)
        Classes, in the order of the rows and columns.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is made when None.

    Returns
    -------
    fig : matplotlib Figure
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    labels = np.asarray(labels)
    if ax is None:
        size = max(5.0, 0.65 * len(labels) + 2.5)
        fig, ax = plt.subplots(figsize=(size + 1.0, size))
    display = ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        normalize="true",
        display_labels=[str(c) for c in labels],
        values_format=".2f",
        cmap="Blues",
        xticks_rotation=35 if len(labels) > 4 else "horizontal",
        ax=ax,
    )
    display.im_.set_clim(0, 1)
    ax.set_title("Confusion matrix (rows normalised by true class)")
    display.figure_.tight_layout()
    return display.figure_


# ----------------------------------------------------------------- history
def _epoch_rows(history):
    rows = list(history)
    if not rows:
        raise ValueError("history is empty: fit the estimator first.")
    return rows


def _epoch_values(rows, key):
    """``(epochs, values)`` of the epochs that recorded ``key``."""
    pairs = [(row.get("epoch", i + 1), row[key]) for i, row in enumerate(rows)
             if row.get(key) is not None]
    if not pairs:
        return None
    epochs, values = zip(*pairs)
    return np.asarray(epochs), np.asarray(values, dtype=float)


def _batch_means(rows, key):
    """Per-epoch mean of a per-batch key, weighted by ``train_batch_size``."""
    epochs, means = [], []
    for i, row in enumerate(rows):
        batches = [b for b in row.get("batches", ()) if key in b]
        if batches:
            weights = [b.get("train_batch_size", 1) for b in batches]
            epochs.append(row.get("epoch", i + 1))
            means.append(np.average([b[key] for b in batches], weights=weights))
    if not epochs:
        return None
    return np.asarray(epochs), np.asarray(means, dtype=float)


def plot_training_curves(history, ax=None):
    """Losses per epoch, and validation loss and macro-F1 when there was a validation split.

    Up to three panels, each drawn only when ``history`` holds its data:

    1. **classification loss**: the epoch mean of the training batches'
       classification loss next to the validation loss, if any (which is the
       classification loss of the single, unaugmented view), so the two are
       comparable. Without per-batch parts this panel shows skorch's
       ``train_loss`` and ``valid_loss``.
    2. **contrastive loss**: the training batches' contrastive loss and the
       total training loss ``L_CLS + mu * L_CL`` (skorch's ``train_loss``);
       omitted when the contrastive loss is always zero (``contrastive=None``
       or ``mu=0``).
    3. **validation macro-F1**, with the best epoch marked; omitted when
       there was no validation split (``validation_fraction=None``, the default).

    Parameters
    ----------
    history : skorch History or list of dict
        ``estimator.net_.history``: one dict per epoch with ``epoch``,
        ``train_loss`` and optionally ``valid_loss``, ``valid_f1_macro`` and
        ``batches`` (per-batch ``classification_loss``/``contrastive_loss``).
    ax : matplotlib Axes or sequence of Axes, default=None
        One Axes per panel drawn (see above); a new figure with one row of
        panels is made when None.

    Returns
    -------
    fig : matplotlib Figure
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    rows = _epoch_rows(history)
    train_total = _epoch_values(rows, "train_loss")
    valid_loss = _epoch_values(rows, "valid_loss")
    valid_f1 = _epoch_values(rows, "valid_f1_macro")
    train_cls = _batch_means(rows, "classification_loss")
    train_cl = _batch_means(rows, "contrastive_loss")
    if train_cl is not None and not np.any(train_cl[1]):
        train_cl = None  # no contrastive branch: a flat zero line says nothing

    panels = ["loss"]
    if train_cl is not None:
        panels.append("contrastive")
    if valid_f1 is not None:
        panels.append("f1")
    if ax is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(np.ravel(ax)) if np.ndim(ax) or isinstance(ax, (list, tuple)) else [ax]
        if len(axes) != len(panels):
            raise ValueError(
                f"This history needs {len(panels)} axes ({', '.join(panels)}), got {len(axes)}."
            )
        fig = axes[0].figure

    for name, panel in zip(panels, axes):
        if name == "loss":
            train, label, title = (
                (train_cls, "train (epoch mean)", "Classification loss")
                if train_cls is not None
                else (train_total, "train", "Loss")
            )
            if train is not None:
                panel.plot(*train, marker="o", label=label, color="tab:blue")
            if valid_loss is not None:
                panel.plot(*valid_loss, marker="o", label="validation", color="tab:orange")
            panel.set_title(title)
            panel.set_ylabel("loss")
        elif name == "contrastive":
            panel.plot(*train_cl, marker="o", label="contrastive (train)", color="tab:green")
            if train_total is not None:
                panel.plot(*train_total, marker="o", linestyle="--", color="0.4",
                           label="total: CLS + μ·CL (train)")
            panel.set_title("Contrastive and total training loss")
            panel.set_ylabel("loss")
        else:
            epochs, values = valid_f1
            panel.plot(epochs, values, marker="o", color="tab:purple", label="validation")
            best = int(np.argmax(values))
            panel.scatter([epochs[best]], [values[best]], marker="*", s=220, color="gold",
                          edgecolor="black", zorder=3, label=f"best: {values[best]:.3f}")
            panel.set_ylim(0, 1.05)
            panel.set_title("Validation macro-F1")
            panel.set_ylabel("macro-F1")
        panel.set_xlabel("epoch")
        panel.xaxis.set_major_locator(MaxNLocator(integer=True))
        panel.grid(alpha=0.3)
        panel.legend(fontsize=8)
    fig.tight_layout()
    return fig


# -------------------------------------------------------------- embeddings
def contrastive_embeddings(estimator, X):
    """L2-normalised contrastive embeddings ``normalize(proj_f(f))`` of ``X``.

    ``f`` is :meth:`SharpReCLClassifier.transform` (the pooled sentence
    features); ``proj_f`` is the fitted projection head. These live in the
    same space as ``estimator.prototypes_``.

    Parameters
    ----------
    estimator : fitted SharpReCLClassifier
    X : sequence of str of shape (n_samples,)

    Returns
    -------
    embeddings : ndarray of shape (n_samples, proj_dim)
    """
    import torch
    import torch.nn.functional as F

    features = np.array(estimator.transform(X))  # also under set_output(transform='pandas')
    module = estimator.net_.module_
    module = getattr(module, "module", module)  # unwrap DistributedDataParallel
    proj_f = module.proj_f
    weight = next(proj_f.parameters())
    with torch.inference_mode():
        f = torch.as_tensor(features, dtype=weight.dtype, device=weight.device)
        z = F.normalize(proj_f(f), dim=-1)
    return z.float().cpu().numpy()


def _cap_per_class(y, max_points, random_state):
    """Indices keeping at most ``max_points // n_classes`` random points per class."""
    classes = np.unique(y)
    if max_points is None or len(y) <= max_points:
        return np.arange(len(y))
    per_class = max(1, max_points // len(classes))
    rng = np.random.RandomState(random_state)
    keep = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if len(members) > per_class:
            members = rng.choice(members, per_class, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _project_2d(points, method, random_state):
    """``points`` in two dimensions by PCA or t-SNE, and the axes' labels."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if method == "pca":
        reducer = PCA(n_components=2, random_state=random_state)
        xy = reducer.fit_transform(points)
        ratio = reducer.explained_variance_ratio_
        return xy, [f"PC {i + 1} ({100 * r:.0f}% of variance)" for i, r in enumerate(ratio)]
    perplexity = float(min(30.0, max(2.0, (len(points) - 1) / 3)))
    reducer = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state)
    return reducer.fit_transform(points), ["t-SNE 1", "t-SNE 2"]


def plot_embeddings(estimator, X, y, method="pca", ax=None, max_points=2000, random_state=0):
    """2-D view of the learned embeddings, with the class prototypes.

    The class prototypes (``estimator.prototypes_``) live in the contrastive
    space of the projection head, not in the space of
    :meth:`~SharpReCLClassifier.transform`. So the points drawn are the
    contrastive embeddings ``normalize(proj_f(transform(X)))`` (see
    :func:`contrastive_embeddings`), the space in which the contrastive loss
    pulls texts towards their class prototype. Texts and prototypes are
    reduced to 2-D together (one PCA fit, or one t-SNE run, on both), and the
    prototypes are drawn as large stars in their class colour.

    An estimator fitted with ``contrastive=None`` never trained the
    projection or prototype heads: then the sentence features of
    ``transform(X)`` are drawn and no prototypes.

    Parameters
    ----------
    estimator : fitted SharpReCLClassifier
    X : sequence of str of shape (n_samples,)
        Texts to embed.
    y : array-like of shape (n_samples,)
        Their labels (colours).
    method : {'pca', 'tsne'}, default='pca'
        :class:`sklearn.decomposition.PCA` or :class:`sklearn.manifold.TSNE`
        (whose perplexity is lowered for small samples).
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is made when None.
    max_points : int or None, default=2000
        With more texts than this, at most ``max_points // n_classes``
        random texts of each class are drawn (so tail classes stay visible);
        the title then gives the number drawn. None draws all.
    random_state : int, default=0
        Seeds the subsample, PCA's solver and t-SNE.

    Returns
    -------
    fig : matplotlib Figure
    """
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
    plt = _pyplot()
    from ._shared.texts import check_texts
    from ._text.validation import check_labels

    texts = check_texts(X)
    y = check_labels(y, len(texts))
    n_texts = len(texts)
    keep = _cap_per_class(y, max_points, random_state)
    texts, y = [texts[i] for i in keep], y[keep]

    with_prototypes = getattr(estimator, "contrastive", "sharp") is not None
    if with_prototypes:
        points = contrastive_embeddings(estimator, texts)
        prototypes = estimator.prototypes_
        space = "contrastive embeddings"
    else:
        points = np.array(estimator.transform(texts))
        prototypes = np.empty((0, points.shape[1]), dtype=points.dtype)
        space = "sentence embeddings (contrastive=None: no prototypes)"
    stacked = np.vstack([points, prototypes])

    xy, axis_labels = _project_2d(stacked, method, random_state)
    xy_points, xy_protos = xy[: len(points)], xy[len(points):]

    classes = list(estimator.classes_)
    extra = [c for c in np.unique(y) if c not in set(classes)]
    colors = dict(zip(classes + extra, _class_colors(len(classes) + len(extra))))

    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 6))
    fig = ax.figure
    for c in classes + extra:
        mask = y == c
        if mask.any():
            ax.scatter(*xy_points[mask].T, s=14, alpha=0.6, color=colors[c],
                       edgecolors="none", label=str(c))
    for c, (px, py) in zip(classes, xy_protos):
        ax.scatter([px], [py], marker="*", s=420, color=colors[c], edgecolors="black",
                   linewidths=1.2, zorder=3)
    handles, _ = ax.get_legend_handles_labels()
    if len(xy_protos):
        handles.append(ax.scatter([], [], marker="*", s=200, color="white",
                                  edgecolors="black", label="class prototype"))
    ax.legend(handles=handles, fontsize=8, markerscale=1.0, loc="best", framealpha=0.9)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    drawn = f"{len(points)} texts" + (f" (a per-class sample of {n_texts})" if len(points) < n_texts else "")
    title = f"{method.upper() if method == 'pca' else 't-SNE'} of the {space}"
    ax.set_title(f"{title}\n{drawn}" + (", ★ = class prototypes" if len(xy_protos) else ""),
                 fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ report
def evaluation_report(estimator, X, y, out_dir, *, embeddings_method="pca", dpi=120):
    """Predict ``X``, then write plots, a text report and metrics to ``out_dir``.

    Files written (``out_dir`` is created if needed; existing files are
    overwritten):

    - ``f1_by_class.png``: :func:`plot_f1_by_class_frequency`
    - ``confusion_matrix.png``: :func:`plot_confusion_matrix`, classes head
      to tail
    - ``training_curves.png``: :func:`plot_training_curves`
    - ``embeddings.png``: :func:`plot_embeddings`
    - ``report.txt``: imbalanced-learn's
      :func:`~imblearn.metrics.classification_report_imbalanced`
    - ``metrics.json``: ``n_samples``, ``accuracy``, ``f1_macro``,
      ``balanced_accuracy`` and, per class, ``f1``, ``precision``,
      ``recall``, ``support`` (test) and ``train_count``.

    Labels of ``y`` that are not classes of the estimator are reported with
    a training count of 0 (the estimator never predicts them).

    Parameters
    ----------
    estimator : fitted SharpReCLClassifier
    X : sequence of str of shape (n_samples,)
        Evaluation texts (not the training texts, for an honest report).
    y : array-like of shape (n_samples,)
        Their true labels.
    out_dir : str or path-like
        Folder for the files.
    embeddings_method : {'pca', 'tsne'}, default='pca'
        Passed to :func:`plot_embeddings` as ``method``.
    dpi : int, default=120
        Resolution of the PNG files.

    Returns
    -------
    paths : dict of str to pathlib.Path
        The written files by key: ``'f1_by_class'``, ``'confusion_matrix'``,
        ``'training_curves'``, ``'embeddings'``, ``'report'``, ``'metrics'``.
    """
    from imblearn.metrics import classification_report_imbalanced

    from ._shared.texts import check_texts
    from ._text.validation import check_labels

    plt = _pyplot()
    if embeddings_method not in ("pca", "tsne"):
        raise ValueError(f"embeddings_method must be 'pca' or 'tsne', got {embeddings_method!r}.")
    texts = check_texts(X)
    y = check_labels(y, len(texts))
    y_pred = estimator.predict(texts)

    classes = list(estimator.classes_)
    known = set(classes)
    extra = [c for c in np.unique(y) if c not in known]
    labels = np.asarray(classes + extra, dtype=object if extra else None)
    counts = np.concatenate([np.asarray(estimator.class_counts_), np.zeros(len(extra), int)])
    head_to_tail = labels[np.argsort(-counts, kind="stable")]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {key: out_dir / name for key, name in REPORT_FILES.items()}

    figures = {
        "f1_by_class": lambda: plot_f1_by_class_frequency(y, y_pred, counts, labels),
        "confusion_matrix": lambda: plot_confusion_matrix(y, y_pred, head_to_tail),
        "training_curves": lambda: plot_training_curves(estimator.net_.history),
        "embeddings": lambda: plot_embeddings(estimator, texts, y, method=embeddings_method),
    }
    for key, draw in figures.items():
        fig = draw()
        try:
            fig.savefig(paths[key], dpi=dpi, bbox_inches="tight")
        finally:
            plt.close(fig)

    report = classification_report_imbalanced(
        y, y_pred, labels=head_to_tail, target_names=[str(c) for c in head_to_tail],
        digits=3, zero_division=0,
    )
    paths["report"].write_text(report, encoding="utf-8")

    metrics = _report_metrics(y, y_pred, labels, counts)
    paths["metrics"].write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return paths


def _report_metrics(y, y_pred, labels, counts):
    """The ``metrics.json`` of :func:`evaluation_report`: overall scores and one entry per class."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(y, y_pred, labels=labels, zero_division=0)
    per_class = {
        str(c): {"f1": float(f1[i]), "precision": float(precision[i]), "recall": float(recall[i]),
                 "support": int(support[i]), "train_count": int(counts[i])}
        for i, c in enumerate(labels)
    }
    return {
        "n_samples": len(y),
        "accuracy": float(accuracy_score(y, y_pred)),
        # Over the labels of y and y_pred, as sklearn averages them.
        "f1_macro": float(f1_score(y, y_pred, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y, y_pred)),
        "per_class": per_class,
    }
