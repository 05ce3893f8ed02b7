# Set-up, demo and tests on a fresh machine. Torch is installed first from its
# CPU wheel so that no dependency pulls the multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
comma := ,
# Princeton WordNet 3.0 for the 'wordnet' augmentation preset (Debian packages).
WORDNET_PACKAGES := wordnet-base wordnet-sense-index

.PHONY: install wordnet demo test test-floors docs clean

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

# The library's test suite, the benchmark's own suite (benchmarks/tests) and the
# numpydoc Examples in the library's docstrings, in one pytest run on two worker
# processes (pytest-xdist), so that the long tests of each share the two cores.
test: install
	$(BIN)/python -m pytest -q -n 2 --dist worksteal tests benchmarks/tests --doctest-modules sklearn_sharprecl

# The documentation site in docs/_build/html: offline (no intersphinx), every
# warning an error; docs/generated holds the API pages autosummary writes.
docs: install
	$(BIN)/pip install -q -e ".[docs]"
	rm -rf docs/_build docs/generated
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# The minimum-versions run: a second environment in which .ci/floors.py pins every
# direct dependency (and the extras below) to the floor pyproject.toml declares, and a
# fast subset of the tests on it: fit, predict, save and load, ONNX, the command line,
# the scikit-learn and imbalanced-learn contracts, CALoRA's skorch net, accelerate and
# dask. PyPI has no CPU-only torch build, so at the floor this environment takes the
# CUDA one (about 3 GB downloaded). `make test` runs on the newest versions.
# Left out: tests whose seed was picked for what a run shows under the newest torch (two
# selection rules that disagree, a best epoch before the last; at the floor the same seed
# trains differently), and the benchmarks and docs extras, which are tools for this
# repository, not for the package's users: setfit's floor (1.2, the first that imports
# under transformers 5) imports at transformers 4.56, but its datasets dependency needs
# a newer tqdm and a pyarrow that works with numpy 1.24.
FLOORS_VENV ?= .venv-floors
FLOORS_EXTRAS := test,plots,onnx
FLOORS_TESTS := tests/network/test_module.py tests/persistence/test_saved_model.py \
	tests/persistence/test_onnx_export.py tests/persistence/test_pickle.py \
	tests/estimators/test_classifier_params.py tests/estimators/test_classifier_fit.py \
	tests/estimators/test_calora.py tests/estimators/test_scaleout.py tests/network/test_sampling.py \
	$(addprefix tests/estimators/test_classifier.py::,test_fit_predict_contract \
		test_predictions_are_in_input_order_whatever_the_lengths \
		test_same_random_state_gives_identical_models test_joblib_round_trip_is_identical \
		test_in_imblearn_pipeline_after_a_sampler test_sklearn_pipeline_routes_precomputed_views \
		test_dataframe_and_series_inputs test_invalid_hyperparameters_raise \
		test_linear_schedule_warms_up_then_decays_to_zero \
		test_augmentation_presets_make_the_second_view TestDecisionPrior::test_saved_and_restored \
		test_int8_copy_is_close_and_leaves_the_fp32_model_alone \
		test_group_by_length_pads_less_and_stays_deterministic \
		test_chunked_model_fits_reads_whole_texts_and_saves \
		test_probed_head_predicts_what_the_probe_predicts \
		test_linear_probe_warns_when_lbfgs_stops_early) \
	$(addprefix tests/cli/test_cli.py::,test_fit_writes_a_loadable_model \
		test_predict_writes_input_columns_prediction_and_probabilities \
		test_evaluate_writes_the_report test_info_prints_classes_counts_and_versions)

$(FLOORS_VENV)/floors.txt: pyproject.toml .ci/floors.py
	test -x $(FLOORS_VENV)/bin/python || $(PYTHON) -m venv $(FLOORS_VENV)
	$(FLOORS_VENV)/bin/pip install -q --upgrade pip packaging 'tomli; python_version < "3.11"'
	$(FLOORS_VENV)/bin/python .ci/floors.py $(subst $(comma), ,$(FLOORS_EXTRAS)) > $(FLOORS_VENV)/floors.new
	$(FLOORS_VENV)/bin/pip install -q -c $(FLOORS_VENV)/floors.new -e ".[$(FLOORS_EXTRAS)]"
	mv $(FLOORS_VENV)/floors.new $@

test-floors: $(FLOORS_VENV)/floors.txt
	@echo "minimum versions:" $$(tr '\n' ' ' < $<)
	$(FLOORS_VENV)/bin/python -m pytest -q -n 2 $(FLOORS_TESTS)

clean:
	rm -rf $(VENV) $(FLOORS_VENV) build *.egg-info
