"""Batch prediction of a ``dask.dataframe`` text column with an exported model.

:func:`predict_dask` maps :func:`predict_partition` over the partitions of a
dask Series of texts. Each partition is predicted by
:class:`~sklearn_sharprecl.deploy.ONNXTextClassifier` with the model of the
process it runs in: :func:`load_cached` loads an export directory once per
process (per dask worker) and hands the same model to every later partition,
instead of reading and initialising the ONNX graph once per partition.

Like :mod:`sklearn_sharprecl.deploy`, this module needs neither torch nor
transformers: a worker image needs onnxruntime, tokenizers, numpy, pandas and
dask (``pip install "sklearn-sharprecl[onnx,dask]"``). The export directory
must be readable at the same path by every worker (a shared or a copied
directory).

On a cluster, run one worker thread per core (``LocalCluster(n_workers=...,
threads_per_worker=1)`` or ``dask worker --nthreads 1``): each partition is
predicted on one onnxruntime thread (``intra_op_num_threads=1``).
"""

import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from .deploy import CONFIG_FILE, ONNXTextClassifier, read_export_config

__all__ = ["cache_info", "clear_cache", "load_cached", "predict_dask", "predict_partition"]

METHODS = ("predict", "predict_proba", "decision_function")

# This process's models: resolved directory -> (what identifies the files, load settings, model).
_MODELS = {}
_COUNTS = {"loads": 0, "calls": 0}
_LOCK = threading.Lock()  # a worker with several threads loads a model once, too


def _stamp(directory):
    """What changes when ``export_onnx`` rewrites the directory: its ``classifier.json``."""
    stat = os.stat(directory / CONFIG_FILE)
    return stat.st_mtime_ns, stat.st_size


def load_cached(directory, *, batch_size=32, intra_op_num_threads=1, providers=None):
    """This process's :class:`~sklearn_sharprecl.deploy.ONNXTextClassifier` for ``directory``.

    The first call in a process loads the export (checking its hashes); later
    calls with the same directory and settings return the same object. A
    directory re-exported since, or other settings, load it again and replace
    the cached model of that directory.

    Parameters
    ----------
    directory : str or path-like
        A directory written by ``SharpReCLClassifier.export_onnx``.
    batch_size : int, default=32
        Texts per forward pass.
    intra_op_num_threads : int or None, default=1
        onnxruntime threads per forward pass. One suits dask's workers, which
        run a partition per worker thread: give the cluster one worker thread
        per core. ``None`` lets onnxruntime use every core.
    providers : list of str or None, default=None
        onnxruntime execution providers; None uses the CPU.

    Returns
    -------
    classifier : ONNXTextClassifier
    """
    directory = Path(directory).resolve()
    settings = (batch_size, intra_op_num_threads, tuple(providers) if providers else None)
    with _LOCK:
        stamp = _stamp(directory)
        cached = _MODELS.get(directory)
        if cached is not None and cached[0] == stamp and cached[1] == settings:
            return cached[2]
        model = ONNXTextClassifier.load(directory, batch_size=batch_size,
                                        intra_op_num_threads=intra_op_num_threads, providers=providers)
        _MODELS[directory] = (stamp, settings, model)
        _COUNTS["loads"] += 1
        return model


def cache_info():
    """How this process used :func:`load_cached`: models loaded and partitions predicted.

    On a dask cluster, ``client.run(cache_info)`` asks every worker.

    Returns
    -------
    info : dict
        ``loads`` (exports loaded by this process), ``calls`` (partitions
        :func:`predict_partition` predicted here) and ``models`` (the
        directories cached now).
    """
    with _LOCK:
        return {**_COUNTS, "models": sorted(str(path) for path in _MODELS)}


def clear_cache():
    """Drop this process's cached models and reset the counts of :func:`cache_info`."""
    with _LOCK:
        _MODELS.clear()
        _COUNTS.update(loads=0, calls=0)


def _output(values, index, method, classes):
    """``values`` as the pandas object :func:`predict_partition` returns for ``method``."""
    if method == "predict" or (method == "decision_function" and len(classes) == 2):
        name = "prediction" if method == "predict" else "decision_function"
        return pd.Series(values, index=index, name=name)
    return pd.DataFrame(values, index=index, columns=pd.Index(classes))


def _empty(method, classes, index):
    if method == "predict":
        return _output(classes[:0], index, method, classes)
    width = () if method == "decision_function" and len(classes) == 2 else (len(classes),)
    return _output(np.empty((0, *width)), index, method, classes)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}.")


def predict_partition(texts, directory, *, method="predict", batch_size=32, intra_op_num_threads=1,
                      providers=None):
    """Predict one partition of texts with this process's model of ``directory``.

    What :func:`predict_dask` maps over a dask Series; it can also be given to
    ``map_partitions`` directly, or called on a pandas Series.

    Parameters
    ----------
    texts : pandas Series of str, or a one-column DataFrame
    directory : str or path-like
        A directory written by ``SharpReCLClassifier.export_onnx``, loaded
        by :func:`load_cached`.
    method : {'predict', 'predict_proba', 'decision_function'}, default='predict'
    batch_size, intra_op_num_threads, providers
        Passed to :func:`load_cached`.

    Returns
    -------
    prediction : pandas Series or DataFrame, indexed as ``texts``
        ``'predict'``: a Series of labels named ``prediction``;
        ``'predict_proba'``: one column per class, labelled by the class;
        ``'decision_function'``: the same, or for two classes a Series named
        ``decision_function``.
    """
    _check_method(method)
    model = load_cached(directory, batch_size=batch_size, intra_op_num_threads=intra_op_num_threads,
                        providers=providers)
    with _LOCK:
        _COUNTS["calls"] += 1
    if len(texts) == 0:
        return _empty(method, model.classes_, texts.index)
    return _output(getattr(model, method)(texts), texts.index, method, model.classes_)


def predict_dask(texts, directory, *, method="predict", batch_size=32, intra_op_num_threads=1,
                 providers=None):
    """Predict a dask Series of texts partition by partition, one loaded model per worker.

    Parameters
    ----------
    texts : dask.dataframe.Series of str
        E.g. ``ddf["text"]``.
    directory : str or path-like
        A directory written by ``SharpReCLClassifier.export_onnx``, at the
        same path on every worker.
    method : {'predict', 'predict_proba', 'decision_function'}, default='predict'
    batch_size : int, default=32
        Texts per forward pass.
    intra_op_num_threads : int or None, default=1
        onnxruntime threads per forward pass (see :func:`load_cached`).
    providers : list of str or None, default=None
        onnxruntime execution providers; None uses the CPU.

    Returns
    -------
    prediction : dask Series or DataFrame
        Lazy, with the partitions and index of ``texts``; see
        :func:`predict_partition` for its columns.

    Examples
    --------
    >>> import tempfile
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> from sklearn_sharprecl import SharpReCLClassifier
    >>> from sklearn_sharprecl.deploy_dask import cache_info, predict_dask
    >>> clf = SharpReCLClassifier(max_epochs=1, max_length=16, contrastive=None, random_state=0)
    >>> clf = clf.fit(["who wrote hamlet", "what is the capital of france"] * 10, ["HUM", "LOC"] * 10)
    >>> path = clf.export_onnx(tempfile.mkdtemp() + "/model")
    >>> texts = dd.from_pandas(pd.Series(["who painted the mona lisa", "where is rome"] * 4),
    ...                        npartitions=4)
    >>> labels = predict_dask(texts, path)   # lazy: nothing is loaded yet
    >>> labels.compute().shape
    (8,)
    >>> cache_info()["loads"], cache_info()["calls"]   # this process: one load, four partitions
    (1, 4)
    """
    _check_method(method)
    if not hasattr(texts, "map_partitions"):
        raise TypeError(f"texts must be a dask Series of texts, e.g. ddf['text']; got {type(texts).__name__}. "
                        "Use ONNXTextClassifier directly for texts in memory.")
    directory = Path(directory).resolve()
    config = read_export_config(directory)  # fails here, not on the workers, for a bad directory
    classes = np.asarray(config["classes"], dtype=np.dtype(config["classes_dtype"]))
    meta = _empty(method, classes, texts._meta.index)
    return texts.map_partitions(predict_partition, str(directory), method=method, batch_size=batch_size,
                                intra_op_num_threads=intra_op_num_threads, providers=providers, meta=meta)
