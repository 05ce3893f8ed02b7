"""calora.md: CALoRA on X against X on paired seeds (macro-F1, the rarest classes, cost)."""

import numpy as np

from ..methods import CALORA_BASES
from .fmt import fmt_cell, fmt_diff, fmt_num, md_table
from .records import all_records, row_label, rows_of
from .stats import mean_field, pair_of_diffs, paired, rarest_classes, scores, summarize, verdict

N_RAREST = 5


def calora_settings(grid):
    """``(ranks, top_ks)`` recorded by the CALoRA runs (sorted, may be empty)."""
    recs = [r["calora"] for r in all_records(grid) if "calora" in r]
    return (sorted({r["rank"] for r in recs if r.get("rank") is not None}),
            sorted({r["top_k"] for r in recs if r.get("top_k") is not None}))


def calora_pairs(grid):
    """``(row, calora method, base method, paired CALoRA runs, paired base runs)`` for every cell with both."""
    out = []
    for row in rows_of(grid):
        for cal, base in CALORA_BASES.items():
            runs_c, runs_b = grid[row].get(cal), grid[row].get(base)
            if runs_c and runs_b:
                seeds = sorted(set(runs_c) & set(runs_b))
                out.append((row, cal, base, {s: runs_c[s] for s in seeds}, {s: runs_b[s] for s in seeds}))
    return out


def calora_markdown(grid):
    ranks, top_ks = calora_settings(grid)
    setting = (f"rank-{'/'.join(map(str, ranks))} class-aware LoRA experts, top-{'/'.join(map(str, top_ks))} routing"
               if ranks and top_ks else "class-aware LoRA experts with top-k routing")
    out = ["# CALoRA: class-aware LoRA experts on a fitted model", "",
           f"`CALoRA on X` = stage 2 ({setting}) trained on top of "
           "the fitted X of the same cell and seed; differences are CALoRA − X on paired seeds, in "
           "points of %, with the same reading as Table 2 (beyond seed noise only if |mean| > sd).", ""]
    pairs = calora_pairs(grid)
    for row, cal, base, pc, pb in pairs:
        seeds = sorted(pc)
        pair = paired(pc, pb)
        out += [f"## {row_label(row)}: {cal} vs {base}", "",
                md_table(["metric", base, cal, "CALoRA − base", "per seed", "reading"],
                         [["macro-F1", fmt_cell(*summarize(scores(pb))), fmt_cell(*summarize(scores(pc))),
                           fmt_diff(pair), ", ".join(f"{d:+.1f}" for d in pair["diffs"]),
                           verdict(pair, "CALoRA")],
                          ["accuracy", fmt_cell(*summarize(scores(pb, "accuracy"))),
                           fmt_cell(*summarize(scores(pc, "accuracy"))),
                           fmt_diff(paired(pc, pb, "accuracy")), "", ""]]), ""]
        rare, counts = rarest_classes(pb, N_RAREST)
        body = []
        for label in rare:
            fb = [100 * pb[s]["per_class"][label]["f1"] for s in seeds]
            fc = [100 * pc[s]["per_class"][label]["f1"] for s in seeds]
            p = pair_of_diffs(np.subtract(fc, fb), seeds)
            body.append([label, f"{counts[label]:.0f}", pb[seeds[0]]["per_class"][label]["test_support"],
                         fmt_cell(*summarize(fb)), fmt_cell(*summarize(fc)), fmt_diff(p), verdict(p, "CALoRA")])
        out += [f"Per-class F1 (%) on the {len(rare)} rarest training classes (paired seeds: "
                f"{', '.join(map(str, seeds))}):", "",
                md_table(["class", "train n", "test n", base, cal, "CALoRA − base", "reading"], body), ""]
        params = sorted({int(r["calora"]["n_trainable_parameters"]) for r in pc.values() if "calora" in r})
        rk = sorted({(r["calora"].get("rank"), r["calora"].get("top_k")) for r in pc.values() if "calora" in r})
        base_spe, cal_spe = mean_field(pb, "seconds_per_epoch"), mean_field(pc, "calora", "seconds_per_epoch")
        out += ["Cost (mean over the paired seeds):", "",
                md_table(["", base, f"{cal} (stage 2)"],
                         [["seconds per epoch", fmt_num(base_spe), fmt_num(cal_spe)],
                          ["fit seconds", fmt_num(mean_field(pb, "fit_seconds")),
                           fmt_num(mean_field(pc, "fit_seconds")) + " (on top of the base's)"],
                          ["epochs", fmt_num(mean_field(pb, "epochs")), "–"],
                          ["trainable parameters added", "–", ", ".join(f"{p:,}" for p in params) or "–"],
                          ["rank / top-k", "–", ", ".join(f"{r} / {k}" for r, k in rk) or "–"]]), ""]
    if not pairs:
        out += ["No CALoRA run with its base yet."]
    return "\n".join(out) + "\n"
