"""Offline WordNet for nltk, built from the Debian WordNet 3.0 packages.

nltk's WordNet reader normally gets its data through ``nltk.download``, which
needs the network. Debian ships Princeton WordNet 3.0 in the ``wordnet-base``
(database files) and ``wordnet-sense-index`` (``index.sense``) packages, in
``/usr/share/wordnet``. nltk reads that database as it is, except that

* it wants one more file, ``lexnames``, which the packages do not ship (its
  45 lines are listed in the ``lexnames(5WN)`` manual page and are fixed for
  WordNet 3.0, so they are written from :data:`LEXNAMES` below), and
* it refuses to follow symbolic links out of its data roots, so the files are
  copied, not linked, into ``<nltk_data>/corpora/wordnet``.

:func:`prepare_wordnet` does both; the console script
``sharprecl-prepare-wordnet`` calls it.
"""

# License: BSD 3 clause

import argparse
import os
import shutil
import sys
from pathlib import Path

__all__ = [
    "LEXNAMES",
    "WORDNET_FILES",
    "WordNetNotFoundError",
    "default_nltk_data",
    "load_wordnet",
    "main",
    "prepare_wordnet",
]

#: Where Debian's ``wordnet-base`` and ``wordnet-sense-index`` put WordNet 3.0.
DEFAULT_SOURCE = "/usr/share/wordnet"

#: Debian packages providing the files of :data:`WORDNET_FILES`.
DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")

#: Files of the WordNet 3.0 database that nltk's ``WordNetCorpusReader`` opens
#: (its ``_FILES`` less ``lexnames``, which is generated).
WORDNET_FILES = (
    *(f"data.{pos}" for pos in ("adj", "adv", "noun", "verb")),
    *(f"index.{pos}" for pos in ("adj", "adv", "noun", "verb")),
    *(f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")),
    "cntlist.rev",
    "index.sense",
)

#: The 45 lexicographer files of WordNet 3.0 as ``(number, name, syntactic
#: category)``, category 1 = noun, 2 = verb, 3 = adjective, 4 = adverb; from
#: the ``lexnames(5WN)`` manual page. Synsets in ``data.*`` point to these by
#: number, so the order is part of the database format.
LEXNAMES = (
    (0, "adj.all", 3),
    (1, "adj.pert", 3),
    (2, "adv.all", 4),
    (3, "noun.Tops", 1),
    (4, "noun.act", 1),
    (5, "noun.animal", 1),
    (6, "noun.artifact", 1),
    (7, "noun.attribute", 1),
    (8, "noun.body", 1),
    (9, "noun.cognition", 1),
    (10, "noun.communication", 1),
    (11, "noun.event", 1),
    (12, "noun.feeling", 1),
    (13, "noun.food", 1),
    (14, "noun.group", 1),
    (15, "noun.location", 1),
    (16, "noun.motive", 1),
    (17, "noun.object", 1),
    (18, "noun.person", 1),
    (19, "noun.phenomenon", 1),
    (20, "noun.plant", 1),
    (21, "noun.possession", 1),
    (22, "noun.process", 1),
    (23, "noun.quantity", 1),
    (24, "noun.relation", 1),
    (25, "noun.shape", 1),
    (26, "noun.state", 1),
    (27, "noun.substance", 1),
    (28, "noun.time", 1),
    (29, "verb.body", 2),
    (30, "verb.change", 2),
    (31, "verb.cognition", 2),
    (32, "verb.communication", 2),
    (33, "verb.competition", 2),
    (34, "verb.consumption", 2),
    (35, "verb.contact", 2),
    (36, "verb.creation", 2),
    (37, "verb.emotion", 2),
    (38, "verb.motion", 2),
    (39, "verb.perception", 2),
    (40, "verb.possession", 2),
    (41, "verb.social", 2),
    (42, "verb.stative", 2),
    (43, "verb.weather", 2),
    (44, "adj.ppl", 3),
)

_PREPARE_HINT = (
    "Install Princeton WordNet 3.0 (Debian/Ubuntu: "
    "`apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index`) "
    "and run `sharprecl-prepare-wordnet` (or "
    "`python -m sklearn_sharprecl._text.wordnet`), which copies it to "
    "<nltk_data>/corpora/wordnet; if that <nltk_data> is not one of nltk's "
    "default folders, point the NLTK_DATA environment variable at it."
)


class WordNetNotFoundError(LookupError):
    """WordNet data for nltk is missing; raised instead of nltk's download hint.

    It subclasses :class:`LookupError`, the error nltk itself raises for a
    missing resource, so existing ``except LookupError`` code still catches it.
    """


def default_nltk_data():
    """Return the folder :func:`prepare_wordnet` writes to by default.

    Returns
    -------
    path : pathlib.Path
        The first entry of the ``NLTK_DATA`` environment variable if it is
        set, else ``~/nltk_data`` (a folder nltk always searches).
    """
    entries = [p for p in os.environ.get("NLTK_DATA", "").split(os.pathsep) if p]
    return Path(entries[0] if entries else "~/nltk_data").expanduser()


def prepare_wordnet(source=DEFAULT_SOURCE, nltk_data=None):
    """Build nltk's ``corpora/wordnet`` folder from a WordNet 3.0 database.

    Nothing is downloaded: the database files are copied from `source` and
    the ``lexnames`` file nltk also needs is written from :data:`LEXNAMES`.
    Running it again overwrites the folder's files with fresh copies.

    Parameters
    ----------
    source : str or path-like, default="/usr/share/wordnet"
        Folder holding the WordNet 3.0 database files (:data:`WORDNET_FILES`),
        as installed by the Debian packages ``wordnet-base`` and
        ``wordnet-sense-index``.
    nltk_data : str or path-like, default=None
        nltk data folder to write into. None means the first entry of the
        ``NLTK_DATA`` environment variable, else ``~/nltk_data``. For nltk to
        find the corpus, this folder must be on ``nltk.data.path`` (set
        ``NLTK_DATA`` to it if it is not a default location).

    Returns
    -------
    corpus_dir : pathlib.Path
        The folder written, ``<nltk_data>/corpora/wordnet``.

    Raises
    ------
    FileNotFoundError
        If `source` lacks any of the database files; the message lists them
        and the Debian packages that provide them.

    Examples
    --------
    >>> from sklearn_sharprecl._text.wordnet import prepare_wordnet
    >>> corpus_dir = prepare_wordnet(nltk_data="/tmp/nltk_data")  # doctest: +SKIP
    >>> import nltk
    >>> nltk.data.path.insert(0, "/tmp/nltk_data")  # doctest: +SKIP
    >>> nltk.corpus.wordnet.synsets("capital")[0]  # doctest: +SKIP
    Synset('capital.n.01')
    """
    source = Path(source).expanduser()
    missing = [name for name in WORDNET_FILES if not (source / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet 3.0 database files missing from {str(source)!r}: "
            f"{', '.join(missing)}. On Debian/Ubuntu they come from the packages "
            f"{' and '.join(DEBIAN_PACKAGES)} (`apt-get install -y "
            f"--no-install-recommends {' '.join(DEBIAN_PACKAGES)}`); otherwise pass "
            "source=<folder with the WordNet 3.0 dict files>."
        )

    nltk_data = default_nltk_data() if nltk_data is None else Path(nltk_data)
    corpus_dir = nltk_data.expanduser() / "corpora" / "wordnet"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for name in WORDNET_FILES:
        target = corpus_dir / name
        # A symlink left by an earlier attempt would make copyfile write
        # through it, and nltk refuses symlinks anyway: replace it by a file.
        if target.is_symlink():
            target.unlink()
        # copyfile follows a symlinked source, so the copy is a regular file.
        shutil.copyfile(source / name, target)
    (corpus_dir / "lexnames").write_text(
        "".join(f"{num:02d}\t{name}\t{cat}\n" for num, name, cat in LEXNAMES),
        encoding="ascii",
    )
    return corpus_dir


def load_wordnet():
    """Return nltk's WordNet reader, or raise a clear error if it is missing.

    It looks for ``corpora/wordnet`` on ``nltk.data.path`` before touching
    ``nltk.corpus.wordnet``, whose own failure path tells the user to call
    ``nltk.download`` (and nlpaug's would even try to download it).

    Returns
    -------
    wordnet : nltk.corpus.reader.WordNetCorpusReader
        The loaded ``nltk.corpus.wordnet``.

    Raises
    ------
    WordNetNotFoundError
        If nltk finds no WordNet data; the message says how to prepare it.
    """
    import nltk

    try:
        nltk.data.find("corpora/wordnet")
    except LookupError:
        searched = ", ".join(str(p) for p in nltk.data.path)
        raise WordNetNotFoundError(
            f"nltk's WordNet corpus (corpora/wordnet) was not found in any of "
            f"nltk.data.path: {searched}. {_PREPARE_HINT}"
        ) from None

    from nltk.corpus import wordnet

    # Load now, so a broken corpus fails here and not in the middle of fit.
    wordnet.ensure_loaded()
    return wordnet


def main(argv=None):
    """Console entry point ``sharprecl-prepare-wordnet``.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments; None means ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 if the WordNet files were not found.
    """
    parser = argparse.ArgumentParser(
        prog="sharprecl-prepare-wordnet",
        description=(
            "Copy the Debian WordNet 3.0 database into an nltk data folder "
            "(corpora/wordnet) so that the 'wordnet' augmenter works offline."
        ),
    )
    parser.add_argument(
        "--source",
        default=DEFAULT_SOURCE,
        help="folder with the WordNet 3.0 files (default: %(default)s)",
    )
    parser.add_argument(
        "--nltk-data",
        default=None,
        help=(
            "nltk data folder to write into (default: first entry of $NLTK_DATA, "
            f"else ~/nltk_data; now {default_nltk_data()})"
        ),
    )
    args = parser.parse_args(argv)
    try:
        corpus_dir = prepare_wordnet(source=args.source, nltk_data=args.nltk_data)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"WordNet 3.0 written to {corpus_dir}")

    import nltk

    root = corpus_dir.parent.parent.resolve()
    searched = {Path(p).expanduser().resolve() for p in nltk.data.path}
    if root not in searched:
        print(
            f"note: {root} is not on nltk's search path; set NLTK_DATA={root}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
