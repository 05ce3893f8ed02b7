"""Number formats and markdown tables."""

import math


def is_missing(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_num(x, digits=1):
    return "–" if is_missing(x) else f"{x:.{digits}f}"


def fmt_cell(mean, sd, n, bold=False, digits=1):
    """``78.1 ± 1.2 (3)``; a single seed shows no sd."""
    if n == 0:
        return "–"
    text = f"{mean:.{digits}f}" + (f" ± {sd:.{digits}f}" if n > 1 else "")
    return (f"**{text}**" if bold else text) + f" ({n})"


def fmt_diff(pair, digits=1):
    if pair["n"] == 0:
        return "–"
    if pair["n"] == 1:
        return f"{pair['mean']:+.{digits}f}"
    return f"{pair['mean']:+.{digits}f} ± {pair['sd']:.{digits}f}"


def fmt_paper(cell, metric="f1"):
    if not cell or cell.get(metric) is None:
        return "–"
    std = cell.get(f"{metric}_std")
    return f"{cell[metric]:.2f}" + (f" ± {std:.2f}" if std is not None else "")


def fmt_duration(seconds):
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", "<br>") for c in r) + " |"
              for r in rows]
    return "\n".join(lines)
