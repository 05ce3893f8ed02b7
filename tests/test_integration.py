"""Integration tests with the packaged pretrained all-MiniLM-L6-v2."""

import pytest

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._text.synthetic import make_support_tickets

pytestmark = pytest.mark.integration


def test_minilm_learns_a_separable_long_tailed_task():
    X_train, y_train = make_support_tickets(240, imbalance_ratio=8, random_state=10)
    X_test, y_test = make_support_tickets(120, imbalance_ratio=1, random_state=11)
    clf = SharpReCLClassifier(max_length=32, max_epochs=3, random_state=0)
    clf.fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    print(f"held-out accuracy {accuracy:.3f}")
    assert accuracy >= 0.9
    assert clf.encoder_name_.endswith("model")  # the packaged MiniLM directory
