"""Text checks shared by the estimators and the torch-free loader (sklearn_sharprecl._shared.texts)."""

import pytest

from sklearn_sharprecl._shared.texts import check_texts


def test_lone_surrogates_are_refused_with_their_index():
    with pytest.raises(ValueError, match=r"X\[1\] is not valid Unicode.*'\\udcff' at position 0"):
        check_texts(["fine", "\udcff x"])

