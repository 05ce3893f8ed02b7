"""Tokenised texts as a torch ``Dataset``, padded per batch, and the datasets of a fit.

Texts are tokenised once per ``fit``/``predict`` call; each batch is padded to
its own longest text, so short texts never pay for ``max_length``.
:func:`training_datasets` makes a fit's checked data
(:class:`~sklearn_sharprecl._text.training_data.TrainingData`) into the
training and validation datasets: the data go down to the net from here.
"""

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

from .encoder import quiet_transformers


TRUNCATIONS = ("head", "head_tail", "chunks")


def tokenize(tokenizer, texts, max_length, truncation="head"):
    """Token ids of ``texts`` for windows of ``max_length``, one LongTensor each.

    ``truncation='head'`` keeps the first ``max_length`` tokens;
    ``'head_tail'`` keeps the first quarter and the last three quarters of
    them (the split Sun et al., 2019, found best for long documents), so a
    document's conclusion survives. Special tokens stay at both ends.

    ``'chunks'`` keeps every token: the text is cut into windows of
    ``max_length`` tokens, each with its own special tokens, and the windows
    are concatenated; every window but the last is exactly ``max_length``
    long, so :class:`PadCollator` (given ``chunk_length=max_length``) cuts
    them apart again.
    """
    if truncation == "head":
        encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        return [torch.as_tensor(ids, dtype=torch.long) for ids in encoded]
    if truncation not in TRUNCATIONS:
        raise ValueError(f"Unknown truncation {truncation!r}; expected one of {TRUNCATIONS}.")
    if truncation == "chunks":
        return _chunked(tokenizer, texts, max_length)
    with quiet_transformers():  # "sequence longer than the maximum" is what we cut here
        encoded = tokenizer(list(texts), truncation=False)["input_ids"]
    head = max_length // 4
    tail = max_length - head
    return [
        torch.as_tensor(ids if len(ids) <= max_length else ids[:head] + ids[-tail:], dtype=torch.long)
        for ids in encoded
    ]


def _chunked(tokenizer, texts, max_length):
    if max_length <= tokenizer.num_special_tokens_to_add(pair=False):
        raise ValueError(
            f"max_length={max_length} leaves no room for text between the special tokens; "
            "truncation='chunks' needs a larger max_length."
        )
    # The tokenizer's own windowing (as for question answering), stride 0.
    encoded = tokenizer(
        list(texts), truncation=True, max_length=max_length, return_overflowing_tokens=True, stride=0
    )
    if "overflow_to_sample_mapping" not in encoded:
        raise ValueError(
            f"truncation='chunks' needs a tokenizer that returns overflowing tokens per text; "
            f"{type(tokenizer).__name__} does not."
        )
    owners = np.asarray(encoded["overflow_to_sample_mapping"])
    windows = encoded["input_ids"]
    bounds = np.searchsorted(owners, np.arange(len(texts) + 1))
    # PadCollator cuts the windows apart again at max_length: all but the last must be full.
    if any(len(windows[i]) != max_length for a, b in zip(bounds[:-1], bounds[1:]) for i in range(a, b - 1)):
        raise ValueError(
            f"{type(tokenizer).__name__} returned overflow windows shorter than max_length={max_length}; "
            "truncation='chunks' cannot cut them apart again. Use truncation='head' or 'head_tail'."
        )
    return [
        torch.as_tensor([t for w in windows[a:b] for t in w], dtype=torch.long)
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


class TokenizedTexts(Dataset):
    """Token ids of texts with their labels and, for training, their views.

    Parameters
    ----------
    views : list of list of LongTensor
        ``views[v][i]`` holds the token ids of text ``i`` in view ``v``. One
        view for inference; two (original and augmented) for contrastive
        training. The ``'dropout'`` view reuses the original ids: the encoder's
        dropout noise alone makes the two passes differ (SimCSE).
    y : array-like of int or None
        Encoded labels; ``None`` for unlabelled texts.
    sample_weight : array-like of float or None
        Per-text weights of the training loss; ``None`` weighs every text 1.

    Items are ``(list_of_id_tensors, label, weight)``; :class:`PadCollator`
    turns a list of them into one view-major padded batch.
    """

    def __init__(self, views, y=None, sample_weight=None):
        self.views = views
        self.y = None if y is None else torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.sample_weight = (None if sample_weight is None
                              else torch.as_tensor(np.asarray(sample_weight), dtype=torch.float32))

    def __len__(self):
        return len(self.views[0])

    def __getitem__(self, i):
        label = self.y[i] if self.y is not None else torch.tensor(0)
        weight = None if self.sample_weight is None else self.sample_weight[i]
        return [view[i] for view in self.views], label, weight

    def sample_weight_array(self):
        """The weights as a numpy array, or None."""
        return None if self.sample_weight is None else self.sample_weight.numpy()

    def lengths(self):
        return np.fromiter((len(ids) for ids in self.views[0]), dtype=np.int64, count=len(self))

    def subset(self, indices):
        """A new dataset with the texts at ``indices``, in that order."""
        views = [[view[i] for i in indices] for view in self.views]
        return TokenizedTexts(views, None if self.y is None else self.y[indices],
                              None if self.sample_weight is None else self.sample_weight[indices])

    def sorted_by_length(self):
        """This dataset sorted by text length, and the permutation that restores input order.

        Inference batches of similar length pad least; ``out[restore]`` puts
        per-text outputs back in the order of ``self``.
        """
        order = np.argsort(self.lengths(), kind="stable")
        return self.subset(order), np.argsort(order)


class PadCollator:
    """Collate ``TokenizedTexts`` items into padded ``input_ids``/``attention_mask``.

    Items holding 2-D tensors (the cached output of frozen lower layers, see
    :mod:`~sklearn_sharprecl._network.partial`) give ``hidden_states`` instead.

    Views are stacked view-major: rows ``v * batch + i`` hold view ``v`` of
    text ``i``, so one encoder pass serves every view.

    With ``chunk_length``, each sequence is cut into windows of that many
    tokens (see ``tokenize(..., truncation='chunks')``), one row each, and
    ``chunk_owner`` gives the view-major index of the text each row belongs to.

    With ``share_views=True``, a batch whose views are all the same sequences
    (the dropout view) is collated once, with ``view_copies`` giving the
    number of views: the module repeats the rows where its views part (see
    :class:`~sklearn_sharprecl._network.module.SharpReCLModule`).
    """

    def __init__(self, pad_token_id, chunk_length=None, share_views=False):
        # Decoder-style tokenizers have no pad token; the attention mask hides
        # padding anyway, so any id will do.
        self.pad_token_id = 0 if pad_token_id is None else pad_token_id
        self.chunk_length = chunk_length
        self.share_views = share_views

    def __call__(self, batch):
        views, labels, weights = zip(*batch)
        n_views = len(views[0])
        shared = self.share_views and n_views > 1 and all(v is ids[0] for ids in views for v in ids)
        seqs = [ids[v] for v in range(1 if shared else n_views) for ids in views]
        owner = None
        if self.chunk_length is not None:
            pieces = [seq.split(self.chunk_length) for seq in seqs]
            owner = torch.repeat_interleave(torch.tensor([len(p) for p in pieces]))
            seqs = [piece for p in pieces for piece in p]
        lengths = torch.tensor([len(s) for s in seqs])
        if seqs[0].ndim == 2:  # cached hidden states of frozen layers: (length, hidden)
            inputs = {"hidden_states": pad_sequence(seqs, batch_first=True)}
        else:
            inputs = {"input_ids": pad_sequence(seqs, batch_first=True, padding_value=self.pad_token_id)}
        width = next(iter(inputs.values())).shape[1]
        inputs["attention_mask"] = (torch.arange(width)[None, :] < lengths[:, None]).long()
        if owner is not None:
            inputs["chunk_owner"] = owner
        if shared:
            inputs["view_copies"] = torch.tensor(n_views)
        if weights[0] is not None:
            inputs["sample_weight"] = torch.stack(weights)
        return inputs, torch.stack(labels)


def training_datasets(data, to_ids, *, validation_fraction, second_view, rng):
    """The training and validation ``TokenizedTexts`` of a fit (``to_ids``: the fit's
    :func:`tokenize`, a function of a list of texts).

    ``second_view`` is None (one view), ``'same'`` (the same token ids: the
    two passes differ by dropout), ``'given'`` (``data.aug_texts``) or a
    function of a seed returning an augmenter (an object with an ``augment``
    method); the seed is drawn from ``rng`` after the split's. The validation set
    is the user's, or a stratified ``validation_fraction`` of the training
    texts, or None. Returns ``(train_set, valid_set, augmentation,
    train_weights)``: ``augmentation`` is ``(texts, augmenter)``, what the
    augmenter drew the view from (to redraw it each epoch), or None;
    ``train_weights`` are the training texts' weights in float64 (the
    dataset holds them in float32), or None.
    """
    train, valid = data.train, data.valid
    ids = to_ids(train.texts)
    keep = np.arange(len(ids))
    if valid is None and validation_fraction is not None:
        # Stratified by class; a multi-label split is a random one (label sets are too many to stratify).
        keep, held_out = train_test_split(keep, test_size=validation_fraction,
                                          stratify=train.y if train.y.ndim == 1 else None,
                                          random_state=rng.randint(2**31 - 1))
        weights = None if train.weights is None else train.weights[held_out]
        valid_set = TokenizedTexts([[ids[i] for i in held_out]], train.y[held_out], weights)
    else:
        valid_set = None if valid is None else TokenizedTexts([to_ids(valid.texts)], valid.y, valid.weights)
    views = [[ids[i] for i in keep]]
    augmentation = None
    view_seed = None if second_view is None else rng.randint(2**31 - 1)
    if second_view == "given":
        views.append(to_ids([data.aug_texts[i] for i in keep]))
    elif second_view == "same":
        views.append(views[0])
    elif second_view is not None:
        texts = [train.texts[i] for i in keep]
        augmenter = second_view(view_seed)
        views.append(to_ids(augmenter.augment(texts)))
        augmentation = (texts, augmenter)
    weights = None if train.weights is None else train.weights[keep]
    return TokenizedTexts(views, train.y[keep], weights), valid_set, augmentation, weights
