"""The copies of the user's skorch callbacks a fit trains with.

skorch initialises the callbacks it is given and lets them keep state on
themselves (``Checkpoint``'s best score, ``EarlyStopping``'s patience count,
``TensorBoard``'s first batch). A scikit-learn estimator's fit must leave its
parameters as they were, so :class:`SharpReCLClassifier` trains with copies of
its ``callbacks``: deep copies, so that no state of one fit leaks into the
next or into the copies of a search.

A callback that holds a live resource (a ``torch.utils.tensorboard.SummaryWriter``,
an MLflow client, a W&B run, an open file, a lock) cannot be deep-copied, and
should not be: the resource is what the user handed in to receive the fit's
logs. Such a callback is copied *shallowly*: the fit gets a new callback object,
whose state skorch sets without touching the user's, sharing the resource
itself. A callback that cannot be copied at all is used as it is, as skorch
uses every callback.
"""

import copy

__all__ = ["copy_callback", "copy_user_callbacks"]


def copy_callback(callback):
    """The copy of one callback a fit trains with.

    Parameters
    ----------
    callback : skorch callback instance or class

    Returns
    -------
    copied : skorch callback
        ``copy.deepcopy(callback)``; where that fails (an attribute that
        cannot be copied or pickled, such as a ``SummaryWriter``'s lock),
        ``copy.copy(callback)``, which shares the callback's attributes;
        where that fails too, ``callback`` itself. A class is returned as it
        is (skorch instantiates it).
    """
    try:
        return copy.deepcopy(callback)
    except Exception:  # whatever an attribute raises: TypeError, PicklingError, RuntimeError...
        pass
    try:
        return copy.copy(callback)
    except Exception:
        return callback


def copy_user_callbacks(callbacks):
    """The user's ``callbacks`` list, each callback copied by :func:`copy_callback`.

    Parameters
    ----------
    callbacks : list of callbacks or (name, callback) tuples, or None

    Returns
    -------
    copied : list
        In the same order and form: a ``(name, callback)`` tuple stays one.
    """
    copied = []
    for entry in callbacks or []:
        if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
            copied.append((entry[0], copy_callback(entry[1])))
        else:
            copied.append(copy_callback(entry))
    return copied
