"""Seeding torch for one fit without touching the caller's random state."""

import contextlib

import torch


@contextlib.contextmanager
def seeded_torch(seed):
    """Run the block with torch's generators seeded by ``seed``; restore them after.

    A fit draws its initialisation, batch order, dropout and synthetic sets from
    torch's global generators. Seeding them in place would silently reset the
    random stream of the user's own code (scikit-learn estimators never touch
    global state), so the block runs on forked generators.
    """
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield
