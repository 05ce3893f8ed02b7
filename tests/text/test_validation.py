"""Bad input gets a clear, scikit-learn-style error (sklearn_sharprecl._text.validation and the
text checks of sklearn_sharprecl._shared.texts), with the labels shown plainly."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl._shared.texts import check_texts
from sklearn_sharprecl._text.validation import check_labels

texts = st.lists(st.text(), min_size=1, max_size=30)
non_text = st.one_of(
    st.none(), st.integers(), st.floats(), st.binary(), st.booleans(), st.lists(st.text(), max_size=2)
)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_any_unicode_text_list_is_accepted_unchanged(values):
    assert check_texts(values) == values
    assert check_texts(np.asarray(values, dtype=object)) == values
    assert check_texts(pd.Series(values, dtype=object)) == values


@settings(max_examples=200, deadline=None)
@given(texts, non_text, st.integers(min_value=0))
def test_one_non_string_anywhere_is_refused_with_its_position(values, bad, where):
    i = where % (len(values) + 1)
    mixed = values[:i] + [bad] + values[i:]
    with pytest.raises((TypeError, ValueError)) as info:
        check_texts(mixed)
    message = str(info.value)
    assert "string" in message
    if not isinstance(bad, list):
        # A nested list can make the array ragged, which numpy reports before any
        # position is known; every other non-string is named by its index.
        assert isinstance(info.value, TypeError) and f"element {i} " in message


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5), st.integers(min_value=2, max_value=4))
def test_single_column_2d_accepted_wider_refused(values, width):
    column = np.asarray(values, dtype=object).reshape(-1, 1)
    assert check_texts(column) == values
    wide = np.repeat(column, width, axis=1)
    with pytest.raises(ValueError, match="pass the text column itself"):
        check_texts(wide)


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([1, 2, 3], TypeError, "element 0 is 1 of type int"),
        (["ok", None], TypeError, "element 1 is None"),
        (["ok", float("nan")], TypeError, "element 1 is nan of type float"),
        ([b"bytes", "ok"], TypeError, "of type bytes"),
        ("a single string", TypeError, "single string"),
        (None, ValueError, "got None"),
        ([], ValueError, "0 sample"),
        (np.empty((2, 2, 2), dtype=object), ValueError, "shape"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), ValueError, "2 columns"),
    ],
)
def test_bad_texts(X, error, match):
    with pytest.raises(error, match=match):
        check_texts(X)


def test_a_wide_frame_is_refused_and_a_single_column_frame_accepted():
    with pytest.raises(ValueError, match="2 columns"):
        check_texts(pd.DataFrame({"a": ["x"], "body": ["y"]}))
    assert check_texts(pd.DataFrame({"body": ["y", "z"]})) == ["y", "z"]


@pytest.mark.parametrize(
    "y, match",
    [
        ([0, np.nan, 1], "NaN"),
        (np.array(["a", None, "b"], dtype=object), "NaN or None"),
        ([0.5, 1.5, 2.5], "Unknown label type"),
        ([[0, 1], [1, 0], [0, 1]], "1d array"),
        ([0, 1], "inconsistent numbers of samples"),
    ],
)
def test_bad_labels(y, match):
    with pytest.raises(ValueError, match=match):
        check_labels(y, 3)


def test_fit_errors_reach_the_user(tiny_encoder):
    clf = SharpReCLClassifier(encoder=tiny_encoder)
    with pytest.raises(ValueError, match="greater than one"):
        clf.fit(["a", "b", "c"], ["x", "x", "x"])
    with pytest.raises(ValueError, match="inconsistent"):
        clf.fit(["a", "b", "c"], ["x", "y"])
    with pytest.raises(ValueError, match="X_aug has 1 texts"):
        clf.fit(["a", "b"], ["x", "y"], X_aug=["a"])
    with pytest.raises(TypeError, match="element 1"):
        clf.fit(["a", 3], ["x", "y"])


def test_labels_as_a_column_are_accepted_and_other_shapes_refused():
    assert list(check_labels(np.array([["a"], ["b"]]), 2)) == ["a", "b"]
    with pytest.raises(ValueError, match="y should be a 1d array, got an array of shape \\(2, 2\\)"):
        check_labels(np.array([["a", "b"], ["c", "d"]]), 2)


def test_nan_label_in_a_plain_list_is_refused_like_in_a_series():
    for y in (["a", float("nan"), "b"], pd.Series(["a", np.nan, "b"]), ("a", None, "b")):
        with pytest.raises(ValueError, match="contains NaN or None"):
            check_labels(y, 3)
    # The string 'nan' stays a legitimate label.
    assert list(check_labels(np.array(["a", "nan"]), 2)) == ["a", "nan"]


def test_a_wide_frame_is_refused_with_advice_that_works(fast_params, tickets):
    X, y = tickets
    frame = pd.DataFrame({"id": range(len(X)), "body": X})
    with pytest.raises(ValueError, match="2 columns") as info:
        SharpReCLClassifier(**fast_params).fit(frame, y)
    assert "text_column" not in str(info.value)


def test_one_class_error_shows_a_plain_label(fast_params):
    with pytest.raises(ValueError, match=r"got 1 class \('a'\)"):
        SharpReCLClassifier(**fast_params).fit(["x", "y"], np.array(["a", "a"]))
