"""Partial fine-tuning: freeze an encoder's lower layers and run them once per fit.

When only the top ``k`` transformer blocks train, the frozen lower part gives
the same output for a text at every epoch (in evaluation mode: frozen layers
have no dropout to draw). :func:`frozen_states` computes that output once;
training then runs only the top blocks on it, through :func:`top_view`, a
view of the same encoder whose embeddings pass their input through and whose
block list holds the top ``k`` blocks. Both views share the encoder's
parameters: nothing is copied, and the fitted model is the ordinary encoder.

Supported: transformers encoders whose blocks are ``encoder.layer`` (BERT,
RoBERTa, MiniLM and kin) or ``transformer.layer`` (DistilBERT) and whose
embeddings take ``inputs_embeds``.
"""

import copy
import os

import torch
from skorch.callbacks import Callback
from torch import nn

_BLOCK_PATHS = (("encoder", "layer"), ("transformer", "layer"))


def encoder_blocks(encoder):
    """``(container, name, blocks)``: the ``nn.ModuleList`` of transformer blocks, or None."""
    for outer, inner in _BLOCK_PATHS:
        container = getattr(encoder, outer, None)
        blocks = getattr(container, inner, None)
        if isinstance(blocks, nn.ModuleList) and hasattr(encoder, "embeddings"):
            return container, inner, blocks
    return None


def freeze_lower_layers(encoder, n_train):
    """Freeze the embeddings and all but the top ``n_train`` blocks; return the frozen count."""
    found = encoder_blocks(encoder)
    if found is None:
        raise ValueError(
            f"train_layers needs an encoder whose blocks are encoder.layer or transformer.layer; "
            f"{type(encoder).__name__} has neither. Freeze its parameters with skorch's Freezer "
            "callback instead."
        )
    blocks = found[2]
    if n_train > len(blocks):
        raise ValueError(
            f"train_layers={n_train} but the encoder has {len(blocks)} layers; use "
            f"1 <= train_layers <= {len(blocks)}."
        )
    n_frozen = len(blocks) - n_train
    for module in [encoder.embeddings, *blocks[:n_frozen]]:
        for parameter in module.parameters():
            parameter.requires_grad_(False)
    return n_frozen


class _PassThroughEmbeddings(nn.Module):
    """Embeddings that return the hidden states given as ``inputs_embeds``."""

    def forward(self, input_ids=None, inputs_embeds=None, **kwargs):
        return inputs_embeds


def _with_blocks(encoder, blocks, embeddings=None):
    """A shallow view of ``encoder`` with another block list (and embeddings); shares parameters."""
    container, name, _ = encoder_blocks(encoder)
    view = copy.copy(encoder)
    view._modules = dict(encoder._modules)
    inner = copy.copy(container)
    inner._modules = dict(container._modules)
    inner._modules[name] = nn.ModuleList(blocks)
    outer = next(key for key, value in encoder._modules.items() if value is container)
    view._modules[outer] = inner
    if embeddings is not None:
        view._modules["embeddings"] = embeddings
    return view


def top_view(encoder, n_frozen):
    """The encoder from the output of its ``n_frozen``-th block on: call it with
    ``inputs_embeds=states, attention_mask=mask``."""
    blocks = encoder_blocks(encoder)[2]
    return _with_blocks(encoder, list(blocks[n_frozen:]), _PassThroughEmbeddings())


def lower_states(encoder, n_lower, **inputs):
    """Output of the embeddings and the lower ``n_lower`` blocks for ``inputs``.

    Runs in the encoder's current mode, with gradients unless the caller
    turns them off; :func:`top_view` continues from the result.
    """
    blocks = encoder_blocks(encoder)[2]
    bottom = _with_blocks(encoder, list(blocks[:n_lower]))
    # The last lower module's own output, caught by a hook: the bottom view's
    # last_hidden_state could carry a final norm that belongs after the top.
    # (output_hidden_states would leave transformers' capture hooks on the
    # shared blocks, which cannot be pickled.)
    last = blocks[n_lower - 1] if n_lower else encoder.embeddings
    caught = []
    hook = last.register_forward_hook(
        lambda module, args, output: caught.append(output[0] if isinstance(output, tuple) else output)
    )
    try:
        bottom(**inputs)
    finally:
        hook.remove()
    return caught[-1]


def frozen_states(encoder, batches, n_frozen):
    """Output of the lower ``n_frozen`` blocks (embeddings included) for each text.

    ``batches`` yields padded ``{"input_ids", "attention_mask"}`` dicts
    (with ``chunk_owner`` for chunked texts, whose chunks' states are joined
    again); the result is one ``(length, hidden)`` float32 tensor per text, in
    order, with padding cut off. Runs in evaluation mode (frozen layers draw
    no dropout).
    """
    was_training = encoder.training
    encoder.eval()
    states = []
    try:
        with torch.inference_mode():
            for batch in batches:
                owner = batch.get("chunk_owner")
                hidden = lower_states(encoder, n_frozen, **{
                    key: value for key, value in batch.items() if key != "chunk_owner"}).float().cpu()
                mask = batch["attention_mask"].bool().cpu()
                n_tokens = mask.sum(1)
                if owner is not None:  # a text's chunks are consecutive rows: one state
                    n_tokens = n_tokens.new_zeros(int(owner[-1]) + 1).index_add_(0, owner.cpu(), n_tokens)
                # Right padding: the unpadded tokens of the rows, in order, split per text.
                states.extend(hidden[mask].split(n_tokens.tolist()))
    finally:
        encoder.train(was_training)
    return states


def available_memory():
    """Bytes of memory available for new allocations (Linux ``MemAvailable``), else free pages."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return float("inf")


def cache_frozen_states(module, datasets, n_frozen, collator, device, warn_stacklevel=4):
    """Replace the token ids of ``datasets`` by the output of the frozen lower blocks, in place.

    Returns whether it did: not when the cache would take more than half the
    available memory (with a warning; the lower blocks then run every step).
    Views that are the same list (the dropout view) are computed once.
    """
    from .._text.data import TokenizedTexts

    datasets = [data for data in datasets if data is not None]
    distinct = {id(view): view for data in datasets for view in data.views}
    n_tokens = sum(len(ids) for view in distinct.values() for ids in view)
    needed = 4 * module.encoder.config.hidden_size * n_tokens
    if needed > 0.5 * available_memory():
        import warnings

        warnings.warn(
            f"train_layers: caching the frozen layers' output would take {needed / 2**30:.1f} "
            "GiB; they are recomputed every step instead.", UserWarning, stacklevel=warn_stacklevel)
        return False

    def states_of(ids):
        dataset, restore = TokenizedTexts([ids]).sorted_by_length()
        loader = torch.utils.data.DataLoader(dataset, batch_size=64, collate_fn=collator)
        batches = ({k: v.to(device) for k, v in batch.items()} for batch, _ in loader)
        states = frozen_states(module.encoder, batches, n_frozen)
        return [states[i] for i in restore]

    states = {key: states_of(view) for key, view in distinct.items()}
    module.use_frozen_states(n_frozen)
    for data in datasets:
        data.views = [states[id(view)] for view in data.views]
    return True


class FreezeLowerLayers(Callback):
    """Train only the top ``n_train`` blocks; with ``cache``, run the frozen ones once per fit.

    At the start of training the embeddings and lower blocks stop taking
    gradients (:func:`freeze_lower_layers`); with ``cache=True`` the training
    and validation datasets then hold the frozen blocks' output instead of
    token ids (:func:`cache_frozen_states`), and training runs the top blocks
    only. At the end the module takes token ids again.

    Parameters
    ----------
    n_train : int
        Transformer blocks that train (the estimator's ``train_layers``).
    cache : bool, default=True
        Cache the frozen blocks' output (off when the second view is redrawn
        each epoch, or with Accelerate).
    collate_fn : callable, default=None
        Collates the texts for the caching pass.
    """

    def __init__(self, n_train, cache=True, collate_fn=None):
        self.n_train = n_train
        self.cache = cache
        self.collate_fn = collate_fn

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        n_frozen = freeze_lower_layers(net.module_.encoder, self.n_train)
        if self.cache and not len(net.history):
            valid = getattr(net.train_split, "dataset", None)
            cache_frozen_states(net.module_, [X, valid], n_frozen, self.collate_fn, net.device,
                                warn_stacklevel=6)

    def on_train_end(self, net, **kwargs):
        net.module_.use_frozen_states(None)
