"""The second view's cost benchmark: valid settings, and ratios to LA-CE in its table."""

import pytest

from benchmarks import branch_cost
from sklearn_sharprecl import SharpReCLClassifier


@pytest.mark.parametrize("name", list(branch_cost.VARIANTS))
def test_every_variant_is_a_valid_estimator_setting(name):
    SharpReCLClassifier().set_params(**branch_cost.VARIANTS[name])


def test_the_table_gives_each_variants_median_and_its_ratio():
    rows = [{"dataset": "trec", "imbalance_ratio": 50, "variant": name, "n_texts": 640,
             "epoch_s": seconds, "ratio_to_ablation": ratio}
            for name, seconds, ratio in [(branch_cost.ABLATION, [6.0, 6.2, 5.8], 1.0),
                                         ("one view (augment=None, H22)", [6.1, 6.3, 6.0], 1.0166)]]
    text = branch_cost.markdown({"machine": "m", "torch": "t", "cpu_bf16_flags": [], "rows": rows})
    assert "| trec ir=50 | one view (augment=None, H22) | 640 | 6.1 | 1.02x |" in text
