"""The copies of the user's skorch callbacks a fit trains with.

skorch initialises the callbacks it is given and lets them keep state on
themselves (``Checkpoint``'s best score, ``EarlyStopping``'s patience count,
``TensorBoard``'s first batch); it never copies them. A scikit-learn
estimator's ``fit`` must leave its parameters as they were, so
:class:`SharpReCLClassifier` trains with a deep copy of its ``callbacks``
list: no state of one fit leaks into the next, into the user's objects or into
the other fits of a search, and callbacks that refer to each other
(``LoadInitState(checkpoint)`` beside ``checkpoint``) still do in the copy.

What a callback holds that is a live resource is *not* copied but shared
with the user's callback: the resource is what the user handed in to receive
the fit's logs, and a copy of it would be a second handle at best. An
attribute of a callback is such a resource when

- deep-copying it fails (it holds a lock, a thread, a socket or an open file:
  an open ``torch.utils.tensorboard.SummaryWriter``, a W&B run), or
- it has a ``close()`` or ``finish()`` method (a file, a writer, a
  connection, a W&B run): such objects can copy without error into a second
  handle, or into a detached one (a W&B run pickles to a reference that has
  to be attached again). A ``SummaryWriter`` is thus shared whether it is
  open or closed: skorch's ``TensorBoard`` closes it after each fit, and the
  next fit writes through the same writer again (it reopens in its
  ``log_dir``).

The callback itself is still copied, so skorch's state goes to the fit's copy.
A callback that cannot be copied at all, even with its resources shared, is
used as it is, as skorch would use it.
"""

import copy

from skorch.callbacks import Callback

__all__ = ["copy_user_callbacks", "shared_resources"]


def _is_resource(value):
    if not isinstance(value, type) and any(callable(getattr(value, name, None)) for name in ("close", "finish")):
        return True
    try:
        copy.deepcopy(value)
    except Exception:  # whatever the object raises: TypeError, PicklingError, RuntimeError...
        return True
    return False


def shared_resources(callbacks):
    """The attributes of ``callbacks`` that their copies share instead of copying.

    Parameters
    ----------
    callbacks : list of callbacks or (name, callback) tuples

    Returns
    -------
    resources : list
        The attribute values of each callback instance (and of the callbacks
        those refer to) that are live resources, as the module describes.
    """
    resources, seen = [], set()
    pending = [entry[1] if isinstance(entry, tuple) and len(entry) == 2 else entry for entry in callbacks]
    while pending:
        callback = pending.pop()
        if id(callback) in seen or isinstance(callback, type) or not hasattr(callback, "__dict__"):
            continue
        seen.add(id(callback))
        for value in vars(callback).values():
            if isinstance(value, Callback):
                pending.append(value)
            elif isinstance(value, (type(None), bool, int, float, str, bytes)):
                continue
            elif _is_resource(value):
                resources.append(value)
    return resources


def copy_user_callbacks(callbacks):
    """The copy of the user's ``callbacks`` a fit trains with.

    Parameters
    ----------
    callbacks : list of callbacks or (name, callback) tuples, or None

    Returns
    -------
    copied : list
        A deep copy of the list, in the same order and form (a ``(name,
        callback)`` tuple stays one; a callback class is returned as it is),
        in which the callbacks' live resources (:func:`shared_resources`) are
        the user's own objects. A callback that even so cannot be deep-copied
        is copied shallowly (sharing all its attributes), or used as it is if
        that fails too.
    """
    callbacks = list(callbacks or [])
    resources = shared_resources(callbacks)
    # One memo for the whole list, as deepcopy(callbacks) would use: a callback that two
    # entries refer to is copied once. The resources are in it already, as themselves.
    memo = {id(resource): resource for resource in resources}
    memo[id(memo)] = list(resources)  # deepcopy's keep-alive list
    copied = []
    for entry in callbacks:
        try:
            copied.append(copy.deepcopy(entry, memo))
        except Exception:
            copied.append(_shallow(entry))
    return copied


def _shallow(entry):
    """A copy sharing every attribute of the callback, or the callback itself if even that fails."""
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
        return (entry[0], _shallow(entry[1]))
    try:
        return copy.copy(entry)
    except Exception:
        return entry
