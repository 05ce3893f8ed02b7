"""reading.md: what the results say, in words, regenerated from the records.

Every number about our runs comes from :mod:`reporting.facts` (the records,
``speed.json``, ``calora_conll.json``, ``failures.log``) or the paper's json;
the hand-written sentences come from :mod:`reporting.commentary` and are shown
in italics, most of them only when the computed numbers support them. A
section whose records are missing is left out.
"""

import math
from pathlib import Path

import numpy as np

from ..methods import CALORA_BASES, CLASSIC, MAIN, NEURAL, ONE_SEED
from . import facts as F
from .calora import calora_pairs, calora_settings
from .commentary import OUTSIDE, note
from .fmt import fmt_duration, signed
from .order import ABLATIONS, is_logit_adjusted
from .paper import PAPER_SETUP, paper_cell
from .records import DATASET_NAMES, all_records, last_failures, row_label
from .sources import neural_setting, profiles, setfit_settings
from .stats import beyond_noise, paired_t_p
from .tables import table2_methods, words

TREC, CR, R52, OHSUMED = ("trec", 50), ("cr", 50), ("r52", None), ("ohsumed", None)
# Analysis choice (not a fact about the runs): R52's "tail" = classes with at most this many
# training documents.
TAIL_MAX_TRAIN = 10
REF, CE, LA, SCL = "SharpReCL", "CE", "LA-CE (w/o CL)", "SCLCE (w/o SSHM)"


# ------------------------------------------------------------------ phrasing helpers


def f1(x):
    return f"{x:.1f}"


def f2(x):
    return f"{x:.2f}"


def pct(x, digits=1):
    return f"{100 * x:.{digits}f}%"


def slash(values, fmt=f1):
    return " / ".join(fmt(v) for v in values)


def span(values, fmt=f1, sep="–"):
    """``0.27–0.56``, or one number when they are all equal (at the shown precision)."""
    lo, hi = fmt(min(values)), fmt(max(values))
    return lo if lo == hi else f"{lo}{sep}{hi}"


def seeds_text(seeds):
    seeds = list(seeds)
    return f"seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}"


def diffs_text(pair):
    return words(signed(d) for d in pair["diffs"])


def pm(pair):
    """``+0.5 ± 8.2`` (one seed: ``+0.5``)."""
    return signed(pair["mean"]) + (f" ± {pair['sd']:.1f}" if pair["n"] > 1 else "")


def noise_words(pair):
    if pair["n"] < 2:
        return "one seed, no noise estimate"
    return "beyond seed noise" if beyond_noise(pair) else "within seed noise"


def stat_text(pair):
    """``+0.5 ± 8.2, p = 0.92: within seed noise``."""
    p = paired_t_p(pair)
    return pm(pair) + ("" if math.isnan(p) else f", p = {p:.2f}") + f": {noise_words(pair)}"


def sweep(pair, other, extra=""):
    """``beats CE on every paired seed (+7.1 to +26.7)`` and its variants; ``extra`` goes inside the brackets."""
    d, n = pair["diffs"], pair["n"]
    extra = f"; {extra}" if extra else ""
    if n == 1:
        return f"{'beats' if d[0] > 0 else 'loses to'} {other} on seed {pair['seeds'][0]} ({signed(d[0])}{extra})"
    lo, hi = min(d), max(d)
    if lo > 0:
        return f"beats {other} on every paired seed ({signed(lo)} to {signed(hi)}{extra})"
    if hi < 0:
        return f"loses to {other} on every paired seed ({signed(hi)} to {signed(lo)}{extra})"
    ahead = sum(x > 0 for x in d)
    return f"is ahead of {other} on {ahead} of {n} paired seeds ({diffs_text(pair)}{extra})"


def above_below(x):
    return "above" if x > 0 else "below"


def name(cell):
    return row_label(cell)


def has(grid, cell, *methods):
    return all(F.runs(grid, cell, m) for m in methods)


def one_seed_of(grid, cell, method):
    """The seed of a one-seed method's run in ``cell`` (its lowest), or ``None``."""
    seeds = sorted(F.runs(grid, cell, method))
    return seeds[0] if seeds else None


# ------------------------------------------------------------------ sections


def status_section(grid):
    spec, out, seen = profiles(), ["**Status (from the records):**", ""], set()
    missing_methods = set()
    for prof in ("quick", "full"):
        p = spec.get(prof)
        if not p:
            continue
        cells = [c for c in p["cells"] if c not in seen]
        seen |= set(cells)
        st = F.profile_status(grid, cells, p["seeds"])
        missing_methods |= {m for m, by_cell in st["missing"].items() if any(c in grid for c in by_cell)}
        head = (f"- **{prof.capitalize()} profile** ({', '.join(name(c) for c in cells)}; {p['seeds']} seeds "
                f"for {', '.join(MAIN)}, the CALoRA rows and the classic peers, seed 0 for the rest): "
                f"{st['done']} of {st['expected']} runs have a record")
        if not st["missing"]:
            out.append(head + ": complete.")
            continue
        empty = [c for c in cells if c not in grid]
        started = [c for c in cells if c in grid]
        out.append(head + ".")
        for cell in started:
            lacking = {m: by_cell[cell] for m, by_cell in st["missing"].items() if cell in by_cell}
            done = sum(len(F.runs(grid, cell, m)) for m in grid[cell])
            if not lacking:
                continue
            if done * 2 >= sum(len(v) for v in lacking.values()) + done:
                out.append(f"  - {name(cell)}, no record yet: " + "; ".join(
                    f"{m} ({seeds_text(s)})" for m, s in lacking.items()) + ".")
            else:
                present = {m: sorted(r) for m, r in grid[cell].items()}
                out.append(f"  - {name(cell)}: only " + "; ".join(
                    f"{m} ({seeds_text(s)})" for m, s in sorted(present.items(), key=lambda kv: kv[0])) + ".")
        if empty:
            out.append(f"  - Not run yet: {', '.join(name(c) for c in empty)}.")
    if any(m in CALORA_BASES for m in missing_methods):
        out.append("- " + note("calora_seeds"))
    out.append("- " + note("fidelity_link"))
    return out + [""]


def summary_section(grid, paper):
    parts = []
    if has(grid, CR, REF, CE):
        p_ce = F.pair(grid, CR, REF, CE)
        parts.append(f"On {name(CR)} SharpReCL {sweep(p_ce, 'cross-entropy fine-tuning (CE)', stat_text(p_ce))}.")
        gap = F.min_gap_to(grid, CR, REF, CLASSIC)
        if gap:
            g, (best, mean) = gap
            parts.append(f"Its mean is {f1(g)} points or more above every classic peer's (best: {best}, {f1(mean)})."
                         if g > 0 else f"Its mean is {f1(-g)} points below the best classic peer ({best}, {f1(mean)}).")
        if has(grid, CR, LA):
            p_la = F.pair(grid, CR, REF, LA)
            parts.append(f"Against its own logit-adjusted-CE ablation (LA-CE) it is {stat_text(p_la)}.")
            if beyond_noise(p_ce) and p_ce["mean"] > 0 and not beyond_noise(p_la):
                parts.append(note("cr_gain_from_la"))
    if has(grid, TREC, REF, CE):
        p_ce = F.pair(grid, TREC, REF, CE)
        parts.append(f"On {name(TREC)} it {sweep(p_ce, 'plain CE', stat_text(p_ce))}.")
        rare = F.rarest_class(grid, TREC)
        if rare and p_ce["mean"] < 0 and beyond_noise(p_ce):
            parts.append(note("trec_cause", rare=rare["label"]))
        if has(grid, TREC, LA):
            p_la = F.pair(grid, TREC, REF, LA)
            parts.append(f"Against LA-CE there it is {stat_text(p_la)}.")
            if p_la["mean"] > 0 and beyond_noise(p_la):
                parts.append(note("trec_branch_earns"))
    big = [c for c in (R52, OHSUMED) if has(grid, c, REF)]
    if big:
        others = [m for m in (LA, "Frozen MiniLM+LR") if all(has(grid, c, m) for c in big)]
        scores = lambda m: " and ".join(f1(F.summary(grid, c, m)[0]) for c in big)  # noqa: E731
        text = (f"On {' and '.join(name(c) for c in big)} ({seeds_text(sorted({s for c in big for s in F.runs(grid, c, REF)}))}) "
                f"SharpReCL scores {scores(REF)}")
        if others:
            text += ", against " + " and ".join(f"{scores(m)} for {m}" for m in others)
        behind = all(F.summary(grid, c, REF)[0] < F.summary(grid, c, m)[0] for c in big for m in others)
        if others and behind:
            text += f" (behind {'both' if len(others) == 2 else 'it'} in every cell)"
        ours = [paper_cell(paper, c) for c in big]
        if all(v is not None for v in ours):
            text += f"; the paper reports {' and '.join(f2(v) for v in ours)} for its SharpReCL with BERT-base"
        parts.append(text + ".")
        neural = [r for r in all_records(grid, big) if r.get("valid_f1_macro")]
        if neural and all(F.still_climbing(r) for r in neural):
            parts.append(note("under_trained"))
        parts.append(note("probe_elsewhere"))
    if not parts:
        return []
    # The lead sentence holds when the balanced training wins where the tail is rare in training only.
    lead = has(grid, CR, REF, CE) and F.pair(grid, CR, REF, CE)["mean"] > 0 and beyond_noise(F.pair(grid, CR, REF, CE))
    return ["**In one paragraph.** " + (note("summary_lead") + " " if lead else "") + " ".join(parts), ""]


def cr_section(grid, paper):
    if not has(grid, CR, REF):
        return []
    counts = F.train_counts(grid, CR)
    head = f"- **{name(CR)}**"
    minority = None
    if counts:
        order = sorted(counts, key=lambda c: -counts[c])
        minority = order[-1]
        head += " (" + " vs ".join(f"{counts[c]} {c}" for c in order) + " training reviews)"
    out = []
    if has(grid, CR, CE):
        p = F.pair(grid, CR, REF, CE)
        out.append(head + (": " + note("cr_balanced_wins") if p["mean"] > 0 and beyond_noise(p) else "."))
        a = [F.score(grid, CR, REF, s) for s in p["seeds"]]
        b = [F.score(grid, CR, CE, s) for s in p["seeds"]]
        line = (f"  - SharpReCL against CE: {slash(a)} against {slash(b)} ({seeds_text(p['seeds'])}), "
                f"that is {diffs_text(p)} ({stat_text(p)}).")
        multi = [m for m in F.multi_seed_methods() if len(F.runs(grid, CR, m)) > 1]
        sds = {m: F.summary(grid, CR, m)[1] for m in multi}
        if sds and max(sds, key=sds.get) == REF:
            line += (f" Its own sd over seeds, {f1(sds[REF])}, is the largest of the methods run on every seed"
                     + (". " + note("cr_subset_matters", minority=minority) if minority else "."))
        out.append(line)
    else:
        out.append(head + ".")
    ours = paper_cell(paper, CR)
    if ours is not None:
        seeds = F.seed_scores(grid, CR, REF)
        best_seed, best = max(seeds, key=lambda sv: sv[1])
        mean = F.summary(grid, CR, REF)[0]
        layers = F.layers_of((F.config_values(grid, [CR], "encoder") or [None])[0])
        out.append(f"  - Its best seed (seed {best_seed}, {f1(best)}) is {above_below(best - ours)} the paper's "
                   f"BERT-base SharpReCL ({f2(ours)}); its mean ({f1(mean)}) is {above_below(mean - ours)} it"
                   + (f"; our encoder has {layers} layers." if layers else "."))
    if has(grid, CR, LA):
        p = F.pair(grid, CR, REF, LA)
        line = (f"  - Against its own w/o-CL ablation (LA-CE: {slash(F.score(grid, CR, LA, s) for s in p['seeds'])}), "
                f"SharpReCL is {diffs_text(p)} on the {p['n']} paired seeds ({stat_text(p)}).")
        if not beyond_noise(p):
            line += " " + note("cr_branch_not_earned")
        if has(grid, TREC, REF, LA):
            t = F.pair(grid, TREC, REF, LA)
            if t["n"] > 1 and min(t["diffs"]) > 0:
                line += " (On TREC it is ahead of LA-CE on every seed; see below.)"
        out.append(line)
    delta = "w/o δ_CLS"
    s = one_seed_of(grid, CR, delta)
    if s is not None and has(grid, CR, CE) and F.score(grid, CR, REF, s) is not None and \
            F.score(grid, CR, CE, s) is not None:
        d, r, c = F.score(grid, CR, delta, s), F.score(grid, CR, REF, s), F.score(grid, CR, CE, s)
        line = (f"  - `{delta}` (SharpReCL's contrastive branch with plain CE, the paper's Table 7) scores {f1(d)} "
                f"on seed {s}: {f1(abs(r - d))} {'below' if d < r else 'above'} SharpReCL and {f1(abs(d - c))} "
                f"{above_below(d - c)} CE ({f1(c)})")
        scl = F.score(grid, CR, SCL, s)
        if scl is not None:
            line += f", where plain SupCon on CE (SCLCE) is {f1(abs(scl - c))} {above_below(scl - c)} CE"
        line += f" ({len(F.runs(grid, CR, delta))} seed{'s' * (len(F.runs(grid, CR, delta)) > 1)} for this row)."
        la_noise = has(grid, CR, LA) and not beyond_noise(F.pair(grid, CR, REF, LA))
        if scl is not None and d > c > scl and d < r and la_noise:
            line += " " + note("delta_cls_reading")
        out.append(line)
    if has(grid, CR, SCL, CE):
        p = F.pair(grid, CR, SCL, CE)
        verdict = ("no better than CE" if p["mean"] <= 0 or not beyond_noise(p) else "better than CE")
        out.append(f"  - Plain SupCon + CE (SCLCE, {slash(F.score(grid, CR, SCL, s) for s in p['seeds'])}) is "
                   f"{verdict}: {diffs_text(p)} ({stat_text(p)}).")
    best = F.best_classic(grid, CR)
    if best:
        out.append(f"  - The classic peers reach at most {f1(best[1])} ({best[0]}, mean over "
                   f"{len(F.runs(grid, CR, best[0]))} seeds).")
    return out


def trec_section(grid, paper):
    if not has(grid, TREC, REF):
        return []
    out, rare = [], F.rarest_class(grid, TREC)
    if has(grid, TREC, CE):
        p = F.pair(grid, TREC, REF, CE)
        m_ref, s_ref, _ = F.summary(grid, TREC, REF)
        m_ce, s_ce, _ = F.summary(grid, TREC, CE)
        line = (f"- **{name(TREC)}** ({p['n']} paired seeds): SharpReCL {'beats' if p['mean'] > 0 else 'loses to'} CE "
                f"({f1(m_ref)} ± {f1(s_ref)} vs {f1(m_ce)} ± {f1(s_ce)}; per seed {diffs_text(p)}; {stat_text(p)})")
        if has(grid, TREC, SCL):
            q = F.pair(grid, TREC, REF, SCL)
            m, sd, _ = F.summary(grid, TREC, SCL)
            line += f"; against SCLCE ({f1(m)} ± {f1(sd)}) it is {stat_text(q)}"
        out.append(line + ".")
        if rare:
            share = F.class_share_of_gap(grid, TREC, REF, CE, rare["label"])
            line = (f"  - {rare['label']}'s F1 alone accounts for {signed(share['mean'])} of the {signed(p['mean'])} "
                    f"points (its F1 difference divided by the {F.n_classes(grid, TREC)} classes, mean over the "
                    "paired seeds).")
            if p["mean"] < 0 and share["mean"] < 0 and abs(share["mean"]) >= 0.5 * abs(p["mean"]):
                line += " " + note("trec_one_class")
            out.append(line)
    else:
        out.append(f"- **{name(TREC)}**.")
    if rare:
        label = rare["label"]
        out.append(f"  - The rarest class, {label}, has {rare['train']} training questions ({pct(rare['train_share'])} "
                   f"of the training split) and {rare['test']} test questions ({pct(rare['test_share'])} of the test "
                   "split).")
        la_methods = [m for m in NEURAL if is_logit_adjusted(m) and F.runs(grid, TREC, m)]
        full_recall = [m for m in la_methods
                       if all(F.class_stat(r, label, "recall") == 1 for r in F.runs(grid, TREC, m).values())]
        if full_recall:
            precisions = [F.class_stat(r, label, "precision") for m in full_recall
                          for r in F.runs(grid, TREC, m).values()]
            line = (f"  - Every run of the logit-adjusted {words(full_recall)} has {label} recall 1.00 and "
                    f"precision {span(precisions, f2)}")
            rest = [m for m in la_methods if m not in full_recall]
            if rest:
                line += "; " + "; ".join(
                    f"{m} ({seeds_text(sorted(F.runs(grid, TREC, m)))}): recall "
                    f"{slash((F.class_stat(r, label, 'recall') for r in F.runs(grid, TREC, m).values()), f2)}, "
                    f"precision {slash((F.class_stat(r, label, 'precision') for r in F.runs(grid, TREC, m).values()), f2)}"
                    for m in rest)
            if has(grid, TREC, CE):
                ce = list(F.runs(grid, TREC, CE).values())
                rec_ = [F.class_stat(r, label, "recall") for r in ce]
                pre_ = [F.class_stat(r, label, "precision") for r in ce]
                line += f". CE's runs: recall {span(rec_, f2)}, precision {span(pre_, f2)}"
            out.append(line + ".")
        if has(grid, TREC, CE):
            p = F.pair(grid, TREC, REF, CE)
            ours = np.mean([F.others_mean_f1(F.runs(grid, TREC, REF)[s], label) for s in p["seeds"]])
            theirs = np.mean([F.others_mean_f1(F.runs(grid, TREC, CE)[s], label) for s in p["seeds"]])
            out.append(f"  - On the other {F.n_classes(grid, TREC) - 1} classes SharpReCL's mean F1 is {f2(ours)} "
                       f"against CE's {f2(theirs)} (mean over the paired seeds).")
        if rare["test_share"] < 1 / F.n_classes(grid, TREC):
            out.append("  - " + note("balanced_posterior", rare=label))
        ref_runs = F.runs(grid, TREC, REF)
        costs = [F.marginal_fp_cost(r, label, F.n_classes(grid, TREC)) for r in ref_runs.values()]
        fps = [F.false_positives(r, label) for r in ref_runs.values()]
        out.append(f"  - At the counts of SharpReCL's runs ({words(map(str, fps))} false {label}), one more false "
                   f"{label} costs {span(costs, f2)} points of macro-F1 through {label}'s F1 alone.")
    out += prior_lines(grid)
    if has(grid, TREC, LA):
        p = F.pair(grid, TREC, REF, LA)
        line = f"  - SharpReCL against its own w/o-CL ablation (LA-CE): {diffs_text(p)} ({stat_text(p)})."
        if p["mean"] > 0 and beyond_noise(p):
            line += " " + note("trec_branch_earns")
        out.append(line)
    delta = "w/o δ_CLS"
    s = one_seed_of(grid, TREC, delta)
    if s is not None and rare and F.score(grid, TREC, REF, s) is not None and F.score(grid, TREC, CE, s) is not None:
        d, r, c = F.score(grid, TREC, delta, s), F.score(grid, TREC, REF, s), F.score(grid, TREC, CE, s)
        rec = F.runs(grid, TREC, delta)[s]
        out.append(f"  - `{delta}` (seed {s}) gets {f1(d)}: {above_below(d - r)} SharpReCL ({f1(r)}) and "
                   f"{above_below(d - c)} CE ({f1(c)}) on that seed; its {rare['label']} recall is "
                   f"{f2(F.class_stat(rec, rare['label'], 'recall'))} (precision "
                   f"{f2(F.class_stat(rec, rare['label'], 'precision'))}).")
    ours = paper_cell(paper, TREC)
    epochs = F.config_values(grid, [TREC], "max_epochs")
    if ours is not None and epochs:
        line = (f"  - The paper reports {f2(ours)} for SharpReCL here, with BERT-base and {PAPER_SETUP['epochs']} "
                f"epochs (the authors' code); our runs stop after at most {max(epochs)} epochs.")
        if rare and has(grid, TREC, CE) and F.pair(grid, TREC, REF, CE)["mean"] < 0:
            line += " " + note("stronger_encoder", rare=rare["label"])
        out.append(line)
    return out


def prior_lines(grid):
    """The ``train_prior_decision`` diagnostic of the logit-adjusted runs, TREC and CR."""
    methods = [m for m in NEURAL if is_logit_adjusted(m)]
    shifts = {cell: F.train_prior_shifts(grid, cell, methods) for cell in (TREC, CR)}
    if not any(shifts.values()):
        return []
    out = ["  - " + note("train_prior_diagnostic")]
    for cell, rows in shifts.items():
        if not rows:
            continue
        by_method = {}
        for m, s, fitted, train in rows:
            by_method.setdefault(m, []).append(f"{f1(fitted)} → {f1(train)} (seed {s})")
        raised = sum(t > f for _, _, f, t in rows)
        line = (f"    - {name(cell)}: " + "; ".join(f"{m} {', '.join(v)}" for m, v in by_method.items())
                + f". The training prior raises {raised} of these {len(rows)} runs.")
        if cell == CR:
            counts, support = F.train_counts(grid, CR), F.test_support(grid, CR)
            if counts and support:
                low = min(counts, key=counts.get)
                line += (f" CR's {low} class is {pct(counts[low] / sum(counts.values()))} of the training split "
                         f"but {pct(support[low] / sum(support.values()))} of the test split.")
        out.append(line)
    up_trec = any(t > f for _, _, f, t in shifts[TREC])
    down_cr = shifts[CR] and all(t < f for _, _, f, t in shifts[CR])
    if up_trec and down_cr:
        out.append("  - " + note("deployment_prior"))
    return out


def calora_section(grid, conll):
    pairs = calora_pairs(grid)
    if not pairs:
        return []
    ranks, top_ks = calora_settings(grid)
    spe = [r["calora"]["seconds_per_epoch"] for r in all_records(grid) if r.get("calora", {}).get("seconds_per_epoch")]
    params = []
    for cell in dict.fromkeys(row for row, *_ in pairs):
        n = sorted({r["calora"]["n_trainable_parameters"] for r in all_records(grid, [cell]) if "calora" in r})
        total = [r["n_parameters"] for r in all_records(grid, [cell]) if "n_parameters" in r]
        text = f"{', '.join(f'{v:,}' for v in n)} on {name(cell)}"
        if total and len(n) == 1:
            text += f" ({100 * n[0] / total[0]:.2f}% of the {total[0]:,} of a fine-tuned model there)"
        params.append(text)
    out = [f"- **CALoRA** (rank {'/'.join(map(str, ranks))}, top-{'/'.join(map(str, top_ks))}; stage 2 at "
           f"{span(spe, f2)} s per epoch; added parameters: {'; '.join(params)}; per-seed tables in "
           "[calora.md](calora.md)):"]
    groups = {"lifts": [], "lowers": [], "moves": []}
    for row, cal, base, pc, pb in pairs:
        p = F.pair(grid, row, cal, base)
        kind = "lifts" if min(p["diffs"]) > 0 else "lowers" if max(p["diffs"]) < 0 else "moves"
        values = [signed(d) if kind != "lowers" else f1(-d) for d in p["diffs"]]
        groups[kind].append(f"a {base} base on {name(row)} by {words(values)} ({seeds_text(p['seeds'])})")
    for kind, items in groups.items():
        if items:
            out.append(f"  - It {kind} {'; '.join(items)}.")
    facts = F.conll_facts(conll)
    if facts["gain"].get("CE"):
        g = facts["gain"]["CE"]
        line = (f"  - On CoNLL-2003 NER ([calora_conll.md](calora_conll.md), {len(facts['seeds'])} paired seeds) "
                f"CALoRA on a CE base moves macro-F1 by {signed(np.mean(g), 2)} on average ({words(signed(x, 2) for x in g)})")
        if facts["routing"]:
            line += "; routing beats the same experts without routing by " + " and ".join(
                f"{span(v, f2)} with the {loss} stage-2 loss" for loss, v in facts["routing"].items()
                if min(v) > 0) or ""
        out.append(line + ".")
    if groups["lifts"] and groups["lowers"]:
        out.append("  - " + note("calora_verdict"))
    return out


def cost_section(grid, speed):
    quick = profiles().get("quick", {}).get("cells", [TREC, CR])
    ratios = F.epoch_ratios(grid, quick, REF, CE)
    out = []
    if ratios:
        out.append(f"- **Cost**: on the paired seeds of the quick profile a SharpReCL epoch costs "
                   f"{np.median(ratios):.1f}× a CE epoch (median of {len(ratios)}; range {span(ratios)}×)"
                   + (" " + note("two_views") if np.median(ratios) >= 1.5 else "") + ".")
    sp = F.speed_facts(speed)
    if sp and out:
        parts = []
        if sp["epoch_vs_ce"]:
            parts.append("a SharpReCL epoch is " + " and ".join(f"{r:.1f}×" for r in sp["epoch_vs_ce"]) + " a CE epoch")
        if sp["criterion_share"]:
            parts.append(f"the criterion is {span(sp['criterion_share'], pct)} of a training step")
        if sp["memory_vs_sclce"]:
            parts.append(f"SharpReCL's peak memory is within {pct(max(abs(v) for v in sp['memory_vs_sclce']))} of "
                         "SCLCE's")
        if sp["linear"]:
            lin = sp["linear"]
            parts.append(f"an epoch grows linearly with the number of texts ({lin['ms_per_text']:.1f} ms per text, "
                         f"R² = {lin['r2']:.3f} over {lin['n_min']:,}–{lin['n_max']:,} texts)")
        out.append("  - Measured side by side in [speed.md](speed.md): " + "; ".join(parts) + ".")
    machines = sorted({r.get("machine", "?") for r in all_records(grid)})
    if out and machines:
        out.append(f"  - The run times come from one machine ({', '.join(machines)}). " + note("shared_machine"))
    return out


def extras_section(grid):
    extras = [m for m in ONE_SEED if m not in ABLATIONS]
    out = []
    for cell in (TREC, CR):
        ms = [m for m in extras if F.runs(grid, cell, m)]
        if not ms:
            continue
        s = min(one_seed_of(grid, cell, m) for m in ms)
        refs = [m for m in (CE, REF) if F.score(grid, cell, m, s) is not None]
        line = (f"  - {name(cell)}: " + ", ".join(f"{m} {f1(F.score(grid, cell, m, s))}" for m in ms
                                                   if F.score(grid, cell, m, s) is not None)
                + (f", against {' and '.join(f'{m} {f1(F.score(grid, cell, m, s))}' for m in refs)} on seed {s}."
                   if refs else "."))
        counts = F.train_counts(grid, cell)
        support = F.test_support(grid, cell)
        if counts and len(counts) == 2:
            low = min(counts, key=counts.get)
            n_test = sum(support.values())
            details = []
            for m in ms:
                rec = F.runs(grid, cell, m).get(s)
                if rec is None:
                    continue
                recall, share = F.class_stat(rec, low, "recall"), F.predicted_share(rec, low, n_test)
                kind = ("collapses toward the majority class" if recall < 0.5 and share < support[low] / n_test
                        else "over-predicts the minority class" if share > support[low] / n_test else "")
                details.append(f"{m} finds {pct(recall, 0)} of the {low} test reviews and labels {pct(share, 0)} of "
                               f"the test set {low} (precision {f2(F.class_stat(rec, low, 'precision'))})"
                               + (f": it {kind}" if kind else ""))
            if details:
                line += f" The {low} class is {pct(support[low] / n_test, 0)} of the test set; " + "; ".join(details) + "."
        else:
            rare = F.rarest_class(grid, cell)
            if rare and "SetFit" in ms and F.runs(grid, cell, "SetFit").get(s):
                line += (f" SetFit's {rare['label']} F1 is "
                         f"{f2(F.class_stat(F.runs(grid, cell, 'SetFit')[s], rare['label'], 'f1'))}.")
        out.append(line)
    if any(F.runs(grid, c, "SetFit") for c in (TREC, CR)):
        st = setfit_settings()
        out.append(f"  - SetFit ran with `num_iterations={st['num_iterations']}` and `num_epochs={st['num_epochs']}` "
                   "(`peers.py`). " + note("setfit_reduced"))
    out += ablation_lines(grid)
    if not out:
        return []
    seeds = sorted({s for c in (TREC, CR) for m in ONE_SEED for s in F.runs(grid, c, m)})
    return [f"- **One-seed extras** ({seeds_text(seeds)}): " + note("one_seed_extras")] + out


def ablation_lines(grid):
    ablations = [m for m in ONE_SEED if m in ABLATIONS and m != "SharpReCL (WordNet view)" and m != "w/o δ_CLS"]
    out = []
    for cell in (CR, TREC):
        ms = [m for m in ablations if F.runs(grid, cell, m)]
        if not ms or not has(grid, cell, REF):
            continue
        s = one_seed_of(grid, cell, ms[0])
        full = F.score(grid, cell, REF, s)
        if full is None:
            continue
        gaps = {m: F.score(grid, cell, m, s) - full for m in ms}
        out.append(f"  - {name(cell)} ablations (seed {s}): " + ", ".join(
            f"{m} {f1(F.score(grid, cell, m, s))} ({signed(gaps[m])})" for m in ms)
            + f", against the full model's {f1(full)}.")
        if has(grid, cell, LA):
            p = F.pair(grid, cell, REF, LA)
            ref_scores = dict(F.seed_scores(grid, cell, REF))
            rank = sorted(ref_scores, key=ref_scores.get, reverse=True).index(s) + 1
            if p["n"] > 1 and s in p["seeds"]:
                i = p["seeds"].index(s)
                rest = [d for j, d in enumerate(p["diffs"]) if j != i]
                line = (f"    - Seed {s} is SharpReCL's {['best', 'second best', 'third best'][rank - 1] if rank <= 3 else f'{rank}th'}"
                        f" seed on {name(cell)}: it leads LA-CE by {signed(p['diffs'][i])} there, against "
                        f"{words(signed(d) for d in rest)} on the other seeds (sd {f1(p['sd'])}).")
                if all(abs(g) < p["sd"] for g in gaps.values()):
                    out.append(line + f" Every one-seed ablation gap here ({f1(min(abs(g) for g in gaps.values()))}–"
                               f"{f1(max(abs(g) for g in gaps.values()))}) is inside that spread. "
                               + note("ablations_not_established"))
    return out


def run_time_section(grid):
    spec = profiles().get("quick")
    if not spec:
        return []
    cells = [c for c in spec["cells"] if c in grid]
    if not cells:
        return []
    t = F.profile_time(grid, cells)
    machines = sorted({r.get("machine", "?") for r in all_records(grid, cells)})
    budget = OUTSIDE["quick_profile_budget_hours"]
    out = [f"- **Run time of the quick profile:** {fmt_duration(t['total'])} of fit + predict over {t['runs']} runs "
           f"on {', '.join(machines)}: {fmt_duration(t['multi'])} for the methods on every seed (CALoRA stage 2 "
           f"included) and {fmt_duration(t['single'])} for the one-seed extras. The issue's target was about "
           f"{budget} hours, so the quick profile takes {t['total'] / 3600 / budget:.1f}× that."]
    slow = F.slowest_relative(grid, cells, NEURAL)
    # Shown when one run took over twice the median of its other seeds.
    if slow and slow[3] > 2 * np.median(list(slow[4].values())):
        cell, m, s, secs, others = slow
        out.append("  - " + note("shared_with_tests") + f" The slowest run against its other seeds: {name(cell)} {m} "
                   f"seed {s} took {secs:,.0f} s, against {words(f'{v:,.0f}' for v in others.values())} s.")
    neural = [r for r in all_records(grid, cells) if "best_epoch" in r]
    epochs = F.config_values(grid, cells, "max_epochs")
    if neural and epochs and t["total"] > budget * 3600:
        best = float(np.mean([r["best_epoch"] for r in neural]))
        line = ("  - " + note("budget_ways") + f" max_epochs {math.ceil(best)} instead of {max(epochs)} (the best "
                f"epoch averages {f1(best)} over the {len(neural)} neural runs)")
        scl = [r for c in cells for seed, r in F.runs(grid, c, SCL).items() if seed != 0]
        if scl:
            line += f"; SCLCE on seed 0 only (its other seeds take {fmt_duration(F.seconds(scl))})"
        out.append(line + ".")
    return out


def investigation_section(grid):
    both = [c for c in (TREC, CR, R52, OHSUMED) if has(grid, c, REF, CE)]
    if not both:
        return []
    ahead = sum(F.summary(grid, c, REF)[0] > F.summary(grid, c, CE)[0] for c in both)
    out = [f"- **Investigation** (SharpReCL's mean is above CE's in {ahead} of the {len(both)} cells where both ran; "
           "[docs/fidelity.md](../../docs/fidelity.md)):",
           "  - " + note("fidelity_matches"),
           "  - " + note("authors_code"),
           "  - " + note("our_differences")]
    wn = "SharpReCL (WordNet view)"
    line = "    - " + note("second_view")
    s = one_seed_of(grid, TREC, wn)
    rare = F.rarest_class(grid, TREC)
    if s is not None and F.score(grid, TREC, REF, s) is not None:
        w, r = F.score(grid, TREC, wn, s), F.score(grid, TREC, REF, s)
        line += (f" The row `{wn}` measures this. {name(TREC)} seed {s}: {f1(w)} against {f1(r)} for the dropout "
                 f"view ({signed(w - r)})")
        c = F.score(grid, TREC, CE, s)
        line += f"; CE scores {f1(c)} on that seed." if c is not None else "."
        if rare:
            lab = rare["label"]
            a, b = F.runs(grid, TREC, REF)[s], F.runs(grid, TREC, wn)[s]
            ra, rb = f2(F.class_stat(a, lab, "recall")), f2(F.class_stat(b, lab, "recall"))
            line += (f" {lab} precision goes from {f2(F.class_stat(a, lab, 'precision'))} to "
                     f"{f2(F.class_stat(b, lab, 'precision'))}, "
                     + (f"recall {ra} in both." if ra == rb else f"recall from {ra} to {rb}."))
        quick = profiles().get("quick", {}).get("cells", [])
        missing = [c for c in quick if not F.runs(grid, c, wn)]
        if missing:
            line += f" It has no run on {', '.join(name(c) for c in missing)} yet."
        if len(F.runs(grid, TREC, wn)) == 1:
            line += " " + note("single_seed_lead")
    out.append(line)
    counts = F.train_counts(grid, CR)
    if counts:
        weights, batch = F.prior_weights(counts)
        order = sorted(counts, key=lambda c: -counts[c])
        line = ("    - " + note("delta_weights") + f" On {name(CR)} (training counts "
                f"{' / '.join(str(counts[c]) for c in order)}), δ is "
                + " and ".join(f"{f2(weights[c])} for a {c} review" for c in order)
                + f": {f2(batch)} on average over a batch drawn from the training prior, about {1 / batch:.0f}× "
                "weaker than unit weights.")
        if has(grid, CR, LA) and not beyond_noise(F.pair(grid, CR, REF, LA)):
            line += " " + note("delta_fits")
        out.append(line)
    quick = profiles().get("quick", {}).get("cells", [TREC, CR])
    epochs = F.config_values(grid, quick, "max_epochs")
    if epochs:
        out.append("    - " + note("training_length") + f" At most {max(epochs)} epochs at batch "
                   f"{neural_setting('batch_size')}, against the authors' {PAPER_SETUP['epochs']} at batch "
                   f"{PAPER_SETUP['batch_size']}.")
    out.append("  - " + note("tau_mu_k"))
    return out


def big_cells_section(grid, paper, out_dir):
    cells = [c for c in (R52, OHSUMED) if has(grid, c, REF)]
    if not cells:
        return []
    recs = all_records(grid, cells)
    seeds = sorted({int(r["seed"]) for r in recs})
    epochs = F.config_values(grid, cells, "max_epochs")
    encoder = (F.config_values(grid, cells, "encoder") or ["?"])[0]
    layers = F.layers_of(encoder)
    frozen = sorted({F.frozen_layers(r, layers) for r in recs if "n_trainable_parameters" in r})
    lengths = sorted({r.get("max_length") for r in recs} - {None})
    shares = sorted({F.trained_share(r) for r in recs if F.trained_share(r)})
    line = (f"- **{' and '.join(DATASET_NAMES[c[0]] for c in cells)}** (full profile, {seeds_text(seeds)} only). "
            f"These ran on a CPU with the embeddings and the lower {'/'.join(map(str, frozen))} of {encoder}'s "
            f"{layers or '?'} layers frozen")
    if shares:
        line += " (" + ", ".join(f"{t / 1e6:.1f}M of {n / 1e6:.1f}M" for t, n in dict.fromkeys(
            (round(t, -5), round(n, -5)) for t, n in shares)) + " parameters trained)"
    line += f", at most {'/'.join(map(str, epochs))} epochs and {'/'.join(map(str, lengths))} tokens. " + \
        note("recorded_in_run")
    out = [line]
    failures = last_failures(Path(out_dir) / "failures.log", {Path(r["_file"]).stem for r in all_records(grid)
                                                              if "_file" in r})
    for cell in cells:
        out.append(f"  - **{name(cell)}:** " + "; ".join(
            f"{m} {f1(F.summary(grid, cell, m)[0])} (accuracy {f1(F.summary(grid, cell, m, 'accuracy')[0])})"
            for m in table2_methods(grid, [cell]) if F.runs(grid, cell, m))
            + (f"; the paper's SharpReCL: {f2(paper_cell(paper, cell))}" if paper_cell(paper, cell) is not None else "")
            + ".")
        prefix = f"{cell[0]}__ir{'org' if cell[1] is None else cell[1]}__"
        for key, why in sorted(failures.items()):
            if key.startswith(prefix):
                counts = F.train_counts(grid, cell) or {}
                line = f"    - `{key}` has no record: its last attempt failed with `{why}`."
                if counts and min(counts.values()) == 1 and "smote" in key:
                    line += (f" {DATASET_NAMES[cell[0]]}'s smallest training class has {min(counts.values())} example. "
                             + note("smote_single_example"))
                out.append(line)
    neural = [(c, m, r) for c in cells for m in NEURAL for r in F.runs(grid, c, m).values() if r.get("valid_f1_macro")]
    climbing = [(c, m, r) for c, m, r in neural if F.still_climbing(r)]
    if climbing:
        out.append("  - Validation macro-F1 still climbing at the last epoch: " + "; ".join(
            f"{m} on {name(c)} (seed {r['seed']}) {' → '.join(f2(v) for v in r['valid_f1_macro'])}"
            for c, m, r in climbing)
            + (" (every fine-tuned run here). " + note("under_trained") if len(climbing) == len(neural) else "."))
    spe = [(c, F.summary_field(grid, c, REF, "seconds_per_epoch")) for c in cells]
    spe = [(c, v) for c, v in spe if v is not None]
    if spe:
        out.append("  - A SharpReCL epoch costs " + " and ".join(f"{v:,.0f} s on {name(c)}" for c, v in spe) + " here.")
    if has(grid, R52, REF, LA):
        p = F.pair(grid, R52, REF, LA)
        s = p["seeds"][0]
        a, b = F.runs(grid, R52, REF)[s], F.runs(grid, R52, LA)[s]
        ta, tb = F.tail_summary(a, TAIL_MAX_TRAIN), F.tail_summary(b, TAIL_MAX_TRAIN)
        line = (f"  - On {name(R52)} SharpReCL is {signed(p['diffs'][0])} against LA-CE trained for the same "
                f"{'/'.join(map(str, F.config_values(grid, [R52], 'max_epochs')))} epochs (seed {s}).")
        if (tb["tail_f1"] - ta["tail_f1"]) > (tb["head_f1"] - ta["head_f1"]):
            line += " " + note("loss_in_tail")
        out.append(line)
        out.append(f"    - over the {ta['n_tail']} classes with at most {TAIL_MAX_TRAIN} training documents, mean F1 "
                   f"is {f2(ta['tail_f1'])} for SharpReCL against {f2(tb['tail_f1'])} for LA-CE ({f2(ta['head_f1'])} "
                   f"against {f2(tb['head_f1'])} on the other classes);")
        out.append(f"    - {ta['zero_f1']} classes score F1 0 for SharpReCL, against {tb['zero_f1']} for LA-CE;")
        va, vb = a.get("valid_f1_macro") or [], b.get("valid_f1_macro") or []
        if va and vb:
            lead = all(y > x for x, y in zip(va, vb))
            out.append(f"    - LA-CE's validation macro-F1 is {'ahead after each epoch' if lead else 'not ahead after every epoch'} "
                       f"({slash(vb, f2)} against {slash(va, f2)}).")
    best = {c: max(table2_methods(grid, [c]), key=lambda m: F.summary(grid, c, m)[0]) for c in cells}
    if len(seeds) == 1 and climbing and all(b != REF for b in best.values()):
        out.append("  - " + note("r52_no_verdict"))
    return out


# ------------------------------------------------------------------ the page


def reading_markdown(grid, paper=None, out_dir=".", speed=None, conll=None):
    """The reading as markdown (no title: README.md embeds it under its own heading)."""
    intro = ("Generated by `python benchmarks/report.py` from the run records (`runs/*.json`), the paper's numbers "
             "(`paper_table2.json`), `speed.json`, `calora_conll.json` and `failures.log`: every number about our "
             "runs is computed at each regeneration. *Sentences in italics are hand-written commentary (the why, and "
             "facts from outside the records); they state no number about our runs, and most are shown only when "
             "the numbers support them.* Scores are macro-F1 in %, differences in points; 'beyond seed noise' means "
             "|mean| > sd of the paired per-seed differences, as in the tables.")
    if not all_records(grid):
        return intro + "\n\nNo runs yet.\n"
    body = status_section(grid) + summary_section(grid, paper)
    bullets = (cr_section(grid, paper) + trec_section(grid, paper) + calora_section(grid, conll)
               + cost_section(grid, speed) + extras_section(grid) + run_time_section(grid)
               + investigation_section(grid) + big_cells_section(grid, paper, out_dir))
    return "\n".join([intro, ""] + body + bullets) + "\n"
