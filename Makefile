# Set-up, demo and tests on a fresh machine. Torch is installed first from its
# CPU wheel so that no dependency pulls the multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
# Princeton WordNet 3.0 for the 'wordnet' augmentation preset (Debian packages).
WORDNET_PACKAGES := wordnet-base wordnet-sense-index

.PHONY: install wordnet demo test docs clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e ".[test,plots,benchmarks]"

# Installed where the machine allows it (root with apt-get); elsewhere the
# WordNet tests skip and say how to enable them.
wordnet:
	@if [ -f /usr/share/wordnet/index.sense ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(WORDNET_PACKAGES)"; \
		apt-get update -qq >/dev/null && \
		apt-get install -y -qq --no-install-recommends $(WORDNET_PACKAGES) >/dev/null || \
		echo "note: could not install $(WORDNET_PACKAGES); the WordNet tests will be skipped"; \
	else \
		echo "note: WordNet is not installed; the WordNet tests will be skipped." \
		     "To enable them: sudo apt-get install $(WORDNET_PACKAGES)"; \
	fi

install: $(BIN)/activate wordnet

demo: install
	$(BIN)/python -m sklearn_sharprecl.demo

# The library's test suite (on two worker processes, pytest-xdist), the
# benchmark's own suite (benchmarks/tests) and the numpydoc Examples in the
# library's docstrings. All three always run (a
# failing suite does not hide another's failures); the target fails if any does.
test: install
	@status=0; \
	$(BIN)/python -m pytest -q -n 2 tests || status=1; \
	$(BIN)/python -m pytest -q benchmarks/tests || status=1; \
	$(BIN)/python -m pytest -q --doctest-modules sklearn_sharprecl || status=1; \
	exit $$status

# The documentation site in docs/_build/html: offline (no intersphinx), every
# warning an error; docs/generated holds the API pages autosummary writes.
docs: install
	$(BIN)/pip install -q -e ".[docs]"
	rm -rf docs/_build docs/generated
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info
