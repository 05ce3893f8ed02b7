"""Text input: validation, tokenisation, encoders, augmentation and a synthetic corpus.

Nothing is imported here: each module is imported by name.
"""
