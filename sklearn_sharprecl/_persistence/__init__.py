"""Models on disk: the pickle-free saved-model format and the ONNX export.

Nothing is imported here: :mod:`sklearn_sharprecl.deploy` imports the standard-library
file helpers of :mod:`~sklearn_sharprecl._persistence.files` and must not pull
in torch with this package.
"""
