"""Models on disk: the pickle-free saved-model format and the ONNX export.

The file checks these formats share with the torch-free loader
(:mod:`sklearn_sharprecl.deploy`) live in :mod:`sklearn_sharprecl._shared.files`.
"""
