"""Tokenised texts and their collation into batches (sklearn_sharprecl._text.data)."""

import torch

from sklearn_sharprecl._text.data import PadCollator, TokenizedTexts


def test_tokenizer_without_pad_token_collates():
    data = TokenizedTexts([[torch.tensor([5, 6, 7]), torch.tensor([8])]], y=[1, 0])
    inputs, labels = PadCollator(None)([data[0], data[1]])
    assert inputs["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert inputs["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert labels.tolist() == [1, 0]

