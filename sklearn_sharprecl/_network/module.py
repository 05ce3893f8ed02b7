"""The SharpReCL network: encoder, classifier, projection and prototype heads."""

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel

from .._text.encoder import quiet_transformers
from .partial import encoder_blocks, lower_states, top_view


class ProjectionMLP(nn.Sequential):
    """One-hidden-layer ReLU MLP (the paper's projection heads, Appendix A.5)."""

    def __init__(self, in_features, hidden_features, out_features):
        super().__init__(
            nn.Linear(in_features, hidden_features),
            nn.ReLU(),
            nn.Linear(hidden_features, out_features),
        )


class PrototypeHead(nn.Module):
    """Class prototypes from the classifier's weights (paper Eq. 5).

    ``proto = normalize(proj_h(W))``: each row of the classifier weight matrix
    ``W`` (one per class) is projected into the contrastive space, so the two
    branches share and guide the same class vectors. ``center=True`` subtracts
    the mean over classes before normalising: at initialisation the projected
    rows share one dominant direction (mean cosine about 0.96), which
    centring removes without a larger learning rate.
    """

    def __init__(self, in_features, out_features, center=True):
        super().__init__()
        self.proj_h = ProjectionMLP(in_features, in_features, out_features)
        self.center = center

    def forward(self, class_weight):
        projected = self.proj_h(class_weight)
        if self.center:
            projected = projected - projected.mean(0, keepdim=True)
        return F.normalize(projected, dim=-1)


def pool_hidden_states(hidden, attention_mask, pooling):
    """Sentence embedding from token states: ``'cls'`` or masked ``'mean'``."""
    if pooling == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def pool_chunks(features, n_tokens, owner):
    """One row per text from the features of its chunks, weighted by their token counts.

    With mean pooling this is the mean over every token of the text (each
    chunk's special tokens included), so a short last chunk weighs no more
    than its few tokens. ``owner`` (sorted) gives each chunk's text index.
    """
    # Sums in float32: thousands of tokens would overflow half precision.
    weights = n_tokens.float().unsqueeze(1)
    n_texts = int(owner[-1]) + 1
    total = features.new_zeros(n_texts, features.shape[1], dtype=torch.float32)
    total.index_add_(0, owner, features.float() * weights)
    # clamp: a text a tokenizer without special tokens turns into no token at
    # all pools to zeros, as pool_hidden_states does, not to 0/0.
    count = weights.new_zeros(n_texts, 1).index_add_(0, owner, weights).clamp(min=1.0)
    return (total / count).to(features.dtype)


def drop_pooler(encoder):
    """Remove a BERT-style ``pooler`` from an encoder this library loaded itself.

    Both poolings read ``last_hidden_state``; the pooler's output is never
    used, so its weights would get no gradient, and DistributedDataParallel
    fails on parameters without gradients (unless told to search for them
    every step). Models whose ``forward`` skips a ``None`` pooler (BERT,
    RoBERTa and their kin) lose it; others are left as they are. A model the
    user passed in is never modified.
    """
    if isinstance(getattr(encoder, "pooler", None), nn.Module):
        encoder.pooler = None
    return encoder


class SharpReCLModule(nn.Module):
    """Transformer encoder with the two SharpReCL branches.

    Parameters
    ----------
    encoder : str or transformers.PreTrainedModel
        A local directory or hub id for ``AutoModel.from_pretrained``, or an
        already built model.
    n_classes : int
    pooling : {'mean', 'cls'}
    dropout : float
        Dropout on the sentence embedding before the classifier.
    proj_dim : int
        Dimension of the contrastive space.
    trust_remote_code : bool
        Passed to ``from_pretrained``; never True unless the user asks.
    center_prototypes : bool
        Centre the projected class vectors before normalising them (see
        :class:`PrototypeHead`).
    shared_view_layers : int
        With the dropout view, the number of lower transformer blocks (the
        embeddings with them) whose forward pass the two views share: they
        differ by the dropout of the blocks above only, and the shared part
        runs once. 0: every layer runs for each view (SimCSE's view). Takes
        effect on batches collated with ``PadCollator(share_views=True)``.

    ``forward`` returns ``(logits, embeddings, features)``: the classifier
    logits, the L2-normalised contrastive embeddings ``normalize(proj_f(f))``
    and the pooled sentence features ``f``; in training mode the prototypes
    follow as a fourth item, so that every parameter the loss touches is used
    inside ``forward`` (which DistributedDataParallel requires).
    """

    def __init__(
        self,
        encoder,
        n_classes,
        pooling="mean",
        dropout=0.0,
        proj_dim=128,
        trust_remote_code=False,
        center_prototypes=True,
        shared_view_layers=0,
    ):
        super().__init__()
        if isinstance(encoder, nn.Module):
            self.encoder = encoder
        else:
            with quiet_transformers():
                # fp32 whatever the checkpoint stores: the heads are fp32, and
                # mixed precision is the job of autocast / Accelerate.
                self.encoder = AutoModel.from_pretrained(
                    encoder, trust_remote_code=trust_remote_code, dtype=torch.float32
                )
            drop_pooler(self.encoder)
        if shared_view_layers:
            blocks = encoder_blocks(self.encoder)
            n_blocks = None if blocks is None else len(blocks[2])
            if n_blocks is None or shared_view_layers >= n_blocks:
                raise ValueError(
                    f"shared_view_layers={shared_view_layers} needs an encoder with more blocks "
                    f"(encoder.layer or transformer.layer); {type(self.encoder).__name__} has "
                    f"{n_blocks or 'none'}."
                )
        self.shared_view_layers = shared_view_layers
        hidden = self.encoder.config.hidden_size
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, n_classes)
        self.proj_f = ProjectionMLP(hidden, hidden, proj_dim)
        self.prototype_head = PrototypeHead(hidden, proj_dim, center=center_prototypes)

    def use_frozen_states(self, n_frozen):
        """Let ``forward`` take ``hidden_states``, the output of the frozen lower
        ``n_frozen`` blocks (see :mod:`~sklearn_sharprecl._network.partial`); None undoes it."""
        # A plain attribute, not a submodule: the view shares the encoder's
        # parameters, which must appear once in state_dict and the optimizer.
        self.__dict__["_top_view"] = None if n_frozen is None else top_view(self.encoder, n_frozen)

    def encode(self, input_ids=None, attention_mask=None, hidden_states=None, chunk_owner=None,
               view_copies=None, **kwargs):
        """Pooled features, one row per text (per chunk owner when ``chunk_owner`` is given).

        ``view_copies``: the batch holds one view of texts that have this many
        identical views; the rows are repeated (view-major) where the views
        part, after the ``shared_view_layers`` lower blocks.
        """
        if view_copies is not None:
            copies = int(view_copies)
            if chunk_owner is not None:  # the copies' chunks belong to the copies' texts
                n_texts = int(chunk_owner[-1]) + 1
                chunk_owner = torch.cat([chunk_owner + c * n_texts for c in range(copies)])
            if self.shared_view_layers and hidden_states is None:
                k = self.shared_view_layers
                lower = lower_states(self.encoder, k, input_ids=input_ids, attention_mask=attention_mask)
                attention_mask = attention_mask.repeat(copies, 1)
                out = top_view(self.encoder, k)(inputs_embeds=lower.repeat(copies, 1, 1),
                                                attention_mask=attention_mask)
                return self._pool(out.last_hidden_state, attention_mask, chunk_owner)
            input_ids = None if input_ids is None else input_ids.repeat(copies, 1)
            hidden_states = None if hidden_states is None else hidden_states.repeat(copies, 1, 1)
            attention_mask = attention_mask.repeat(copies, 1)
        if hidden_states is not None:
            top = self.__dict__.get("_top_view")
            if top is None:
                raise RuntimeError("hidden_states given but use_frozen_states() was not called.")
            out = top(inputs_embeds=hidden_states, attention_mask=attention_mask)
        else:
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        return self._pool(out.last_hidden_state, attention_mask, chunk_owner)

    def _pool(self, last_hidden_state, attention_mask, chunk_owner):
        features = pool_hidden_states(last_hidden_state, attention_mask, self.pooling)
        if chunk_owner is None:
            return features
        return pool_chunks(features, attention_mask.sum(1), chunk_owner)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_top_view", None)
        return state

    def forward(self, input_ids=None, attention_mask=None, hidden_states=None, chunk_owner=None,
                view_copies=None, **kwargs):
        features = self.encode(input_ids, attention_mask, hidden_states, chunk_owner, view_copies, **kwargs)
        logits = self.classifier(self.dropout(features))
        embeddings = F.normalize(self.proj_f(features), dim=-1)
        if self.training:
            return logits, embeddings, features, self.prototypes()
        return logits, embeddings, features

    def prototypes(self):
        """L2-normalised prototypes, shape (n_classes, proj_dim)."""
        return self.prototype_head(self.classifier.weight)
