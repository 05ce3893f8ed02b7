"""File checks shared by the saved-model and the ONNX-export formats (standard library only)."""

import hashlib


def sha256(path):
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_format_config(path, fmt, version, what):
    """The JSON configuration at ``path``, checked to be of format ``fmt`` at a version up to
    ``version``; ``what`` names the thing for the errors (e.g. "saved model")."""
    import json

    if not path.is_file():
        raise FileNotFoundError(f"No {what} in {path.parent}: {path.name} is missing.")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); the file is damaged.") from exc
    if not isinstance(config, dict) or config.get("format") != fmt:
        raise ValueError(f"{path} is not a {fmt} configuration.")
    if config.get("format_version", 0) > version:
        raise ValueError(f"{path.parent} holds format version {config['format_version']}; this "
                         f"sklearn-sharprecl reads up to {version}. Upgrade the library.")
    return config
