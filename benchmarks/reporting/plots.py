"""The figures: macro-F1 vs imbalance ratio, per-class F1 vs training frequency, run time."""

import math

import numpy as np

from ..methods import CLASSIC
from .order import PER_CLASS_MAIN, RUNTIME_ORDER
from .records import DATASET_NAMES, present_methods, ratio_slug, row_label, row_sort_key, rows_of
from .stats import rarest_classes, scores, summarize
from .tables import table2_methods


def per_class_name(row):
    return f"per_class_f1_vs_frequency_{row[0]}_ir{ratio_slug(row[1])}.png"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def method_styles(methods):
    """A stable colour and marker per method: ours in strong colours, classic peers in muted ones."""
    import matplotlib

    strong = matplotlib.colormaps["tab10"].colors
    muted = ["#7f7f7f", "#b5a27a", "#8fa3bf", "#c49aa8", "#7fa88f"]
    markers = "osD^vP*Xh<>p"
    styles, i, j = {}, 0, 0
    for m in methods:
        if m in CLASSIC:
            styles[m] = {"color": muted[j % len(muted)], "marker": "x", "linestyle": "--", "classic": True}
            j += 1
        else:
            styles[m] = {"color": strong[i % len(strong)], "marker": markers[i % len(markers)],
                         "linestyle": "-", "classic": False}
            i += 1
    return styles


def plot_f1_vs_ir(grid, path):
    """Macro-F1 against the imbalance ratio, one panel per dataset, error bars = sd over seeds."""
    plt = _pyplot()
    rows = rows_of(grid)
    datasets = sorted({d for d, _ in rows}, key=lambda d: row_sort_key((d, None)))
    ratios = sorted({r for _, r in rows}, key=lambda r: (r is not None, r or 0))  # org, 10, 20, 50
    methods = table2_methods(grid, rows)
    styles = method_styles(methods)
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(1.2 + 4.2 * max(1, len(datasets)), 5.6),
                             squeeze=False, sharey=False)
    width = 0.6
    offsets = {m: (i - (len(methods) - 1) / 2) * width / max(1, len(methods)) for i, m in enumerate(methods)}
    for ax, dataset in zip(axes[0], datasets):
        for m in methods:
            xs, ys, es, ns = [], [], [], []
            for k, r in enumerate(ratios):
                runs = grid.get((dataset, r), {}).get(m)
                if runs:
                    mean, sd, n = summarize(scores(runs))
                    xs.append(k + offsets[m]), ys.append(mean), es.append(0 if n < 2 else sd), ns.append(n)
            if not xs:
                continue
            st = styles[m]
            ax.plot(xs, ys, linestyle=st["linestyle"], color=st["color"], linewidth=1 if st["classic"] else 1.6,
                    alpha=0.8)
            ax.errorbar(xs, ys, yerr=es, fmt="none", ecolor=st["color"], elinewidth=1.2, capsize=3)
            for x, y, n in zip(xs, ys, ns):
                ax.plot([x], [y], marker=st["marker"], color=st["color"], markersize=7, linestyle="none",
                        markerfacecolor=st["color"] if n > 1 or st["marker"] == "x" else "white")
        ax.set_xticks(range(len(ratios)))
        ax.set_xticklabels(["original" if r is None else f"ir = {r}" for r in ratios])
        ax.set_xlim(-0.6, len(ratios) - 0.4)
        ax.set_xlabel("imbalance ratio of the training split (→ more imbalanced)")
        ax.set_ylabel("test macro-F1 (%)")
        ax.set_title(DATASET_NAMES.get(dataset, dataset))
        ax.grid(axis="y", alpha=0.3)
        for k in range(1, len(ratios)):
            ax.axvline(k - 0.5, color="0.85", linewidth=0.8)
    handles = [plt.Line2D([], [], color=styles[m]["color"], marker=styles[m]["marker"],
                          linestyle=styles[m]["linestyle"], label=m) for m in methods]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               title="method (error bar: sd over seeds;\nhollow marker: one seed)", fontsize=9, title_fontsize=9)
    fig.suptitle("Macro-F1 vs imbalance ratio (mean over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_per_class(grid, row, path):
    """Per-class F1 (mean over seeds) against the training class size, head -> tail."""
    plt = _pyplot()
    methods_all = grid[row]
    main = [m for m in PER_CLASS_MAIN if methods_all.get(m)]
    classic = [m for m in CLASSIC if methods_all.get(m)]
    methods = main + classic
    runs_any = next(iter(methods_all.values()))
    every = [rec for runs in methods_all.values() for rec in runs.values()]
    _, counts = rarest_classes(dict(enumerate(every)), k=len(every[0]["train_class_counts"]))
    classes = sorted(counts, key=lambda c: (-counts[c], c))  # head -> tail
    styles = method_styles(methods)
    n = len(classes)
    many = n > 12
    fig, ax = plt.subplots(figsize=(min(18, 0.24 * n + 4), 7) if many else (max(7.5, 0.6 * n + 4), 5.2))
    ax2 = ax.twinx()
    ax2.bar(range(n), [counts[c] for c in classes], color="0.88", width=0.7, zorder=0)
    ax2.set_yscale("log")
    ax2.set_ylim(1, 1.5 * max(counts.values()))
    ax2.set_ylabel("training examples of the class (bars, log scale)", color="0.45")
    ax2.tick_params(axis="y", colors="0.45")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    for m in methods:
        runs = methods_all[m]
        ys = []
        for c in classes:
            f1s = [r["per_class"][c]["f1"] for r in runs.values() if c in r["per_class"]]
            ys.append(100 * float(np.mean(f1s)) if f1s else math.nan)
        st = styles[m]
        ax.plot(range(n), ys, color=st["color"], marker=st["marker"], linestyle=st["linestyle"],
                linewidth=1.0 if st["classic"] else 1.8, markersize=(3 if many else 4) if st["classic"] else
                (4 if many else 6),
                alpha=0.75 if st["classic"] else 1.0, label=f"{m} ({len(runs)} seed{'s' * (len(runs) > 1)})")
    labels = [f"{c} ({counts[c]:.0f})" for c in classes] if many else [f"{c}\n{counts[c]:.0f}" for c in classes]
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, rotation=90 if many else 0, fontsize=7 if many else 9)
    ax.set_xlabel("class and its training examples, head → tail")
    ax.set_ylabel("test F1 of the class (%), mean over seeds")
    ax.set_ylim(-2, 102)
    ax.set_xlim(-0.5, n - 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3 if many else -0.2), ncol=3, frameon=False,
              fontsize=9)
    ax.set_title(f"Per-class F1 vs training frequency: {row_label(row)} "
                 f"(n_train = {runs_any[next(iter(runs_any))]['n_train']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_runtime(grid, path):
    """Seconds per epoch (neural, incl. CALoRA's stage 2) and fit seconds per method, by row."""
    plt = _pyplot()
    rows = rows_of(grid)
    methods = present_methods(grid, rows, RUNTIME_ORDER)
    methods += sorted({m for r in rows for m in grid[r]} - set(methods))

    def per_epoch(rec):
        if "calora" in rec:
            return rec["calora"].get("seconds_per_epoch")
        return rec.get("seconds_per_epoch")

    epoch_methods = [m for m in methods if any(per_epoch(rec) is not None for r in rows
                                              for rec in grid[r].get(m, {}).values())]
    import matplotlib

    colors = matplotlib.colormaps["tab10"].colors
    panels = [("seconds per training epoch", epoch_methods, per_epoch, False)] if epoch_methods else []
    panels.append(("fit seconds (whole fit; CALoRA: stage 2 only), log scale", methods,
                   lambda rec: rec.get("fit_seconds"), True))
    height = max(3.8, 1.5 + len(methods) * (0.25 + 0.09 * len(rows)))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), height), squeeze=False)
    bar = 0.8 / max(1, len(rows))
    ax_max = {title: max([getter(rec) or 0 for r in rows for runs in grid[r].values() for rec in runs.values()]
                         + [1e-9]) for title, _, getter, _ in panels}
    for ax, (title, ms, getter, log) in zip(axes[0], panels):
        for k, row in enumerate(rows):
            ys, means, sds = [], [], []
            for i, m in enumerate(ms):
                vals = [getter(rec) for rec in grid[row].get(m, {}).values()]
                vals = [v for v in vals if v is not None]
                if vals:
                    mean, sd, n = summarize(vals)
                    ys.append(i + (k - (len(rows) - 1) / 2) * bar), means.append(mean)
                    sds.append(0 if n < 2 else sd)
            ax.barh(ys, means, height=bar * 0.9, xerr=sds, color=colors[k % 10], label=row_label(row),
                    error_kw={"elinewidth": 0.8, "capsize": 2})
            for y, v, e in zip(ys, means, sds):
                end = v + e
                ax.text(end * 1.12 if log else end + 0.015 * ax_max[title], y,
                        f"{v:.0f}" if v >= 10 else f"{v:.1f}", va="center", fontsize=7)
        ends = [getter(rec) for r in rows for m in ms for rec in grid[r].get(m, {}).values()]
        ends = [v for v in ends if v is not None and v > 0] or [1.0]
        if log:
            ax.set_xscale("log")
            ax.set_xlim(10 ** math.floor(math.log10(min(ends) * 0.5)), max(ends) * 6)
        else:
            ax.set_xlim(0, max(ends) * 1.18)
        ax.set_yticks(range(len(ms)))
        ax.set_yticklabels(ms)
        ax.invert_yaxis()
        ax.set_xlabel("seconds (mean over seeds; bar = sd)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(rows)),
               frameon=False, fontsize=9, title="dataset / ratio")
    machines = sorted({rec.get("machine", "?") for r in rows for runs in grid[r].values() for rec in runs.values()})
    fig.suptitle(f"Run time per method ({', '.join(machines)})")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
