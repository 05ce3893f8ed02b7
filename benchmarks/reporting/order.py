"""Which methods each table and plot shows, in which order.

Method names come from the registry in ``benchmarks/methods.py``; only the
orders specific to the report (and the paper's names of the ablations) are
defined here, once.
"""

from ..methods import CALORA_BASES, CLASSIC, NEURAL, ONE_SEED, OTHER

# Table 2's neural columns: ours first, then the peers a practitioner tries.
TABLE2_NEURAL = ["SharpReCL", "LA-CE (w/o CL)", "CE", "SCLCE (w/o SSHM)", "Focal", "Dice"]
TABLE2_METHODS = TABLE2_NEURAL + list(CALORA_BASES) + OTHER + CLASSIC
# Table 4: our name -> the paper's row name (the WordNet view is not in the paper's table).
ABLATIONS = {
    "SharpReCL": "Ours",
    "SharpReCL (WordNet view)": "Ours (WordNet view)",
    "w/o SS": "w/o SS",
    "w/o HM": "w/o HM",
    "w/o δ_CLS": "w/o δ_CLS",
    "SCLCE (w/o SSHM)": "w/o SSHM",
    "LA-CE (w/o CL)": "w/o CL",
}
# Table 4's column labels where they differ from the method name.
ABLATION_LABELS = {"SCLCE (w/o SSHM)": "w/o SSHM (SCLCE)", "LA-CE (w/o CL)": "w/o CL (LA-CE)",
                   "SharpReCL (WordNet view)": "+ WordNet view"}
# Run-time plot: every method of the registry.
RUNTIME_ORDER = list(NEURAL) + list(CALORA_BASES) + OTHER + CLASSIC
# Per-class plot: the non-classic lines (the classic peers are drawn thin and dashed after them).
PER_CLASS_MAIN = [m for m in TABLE2_METHODS if m not in CLASSIC]

assert set(TABLE2_NEURAL) | set(ABLATIONS) <= set(NEURAL), "report orders name a method methods.py lacks"


def method_sort_key(method):
    order = TABLE2_METHODS + [m for m in ABLATIONS if m not in TABLE2_METHODS]
    return (order.index(method), "") if method in order else (len(order), method)


def one_seed_ablations():
    """The ablations the benchmark runs on seed 0 only (``methods.ONE_SEED``), in Table 4's order."""
    return [m for m in ABLATIONS if m in ONE_SEED]

