# Set-up and everyday commands. Every target creates the virtual environment when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

LOWEST := .venv-lowest

.PHONY: demo test test-lowest lint docs bench clean simulation

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# The CPU build of PyTorch first: any other torch requirement would pull GBs of CUDA.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[simulate,dev,docs]"
	touch $(STAMP)

demo: $(STAMP)  ## the main job: SIGMA end to end on the bundled simulated data
	$(BIN)/resonant-ad demo --out demo-output

# The tests run on one worker per core; a test file stays on one worker, so that its module
# fixtures run once.
test: $(STAMP) docs lint  ## build the docs, lint, type-check and run the test suite
	$(BIN)/pytest -q -n auto --dist loadfile

test-lowest:  ## the fast tests on the lowest dependency versions pyproject.toml allows
	test -x $(LOWEST)/bin/python || $(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet torch==2.13.0
	$(LOWEST)/bin/python -m pip install --quiet --only-binary :all: -r .ci/lowest-versions.txt
	$(LOWEST)/bin/python -m pip install --quiet --no-deps -e .
	$(LOWEST)/bin/python -m pip install --quiet "pytest>=8" "hypothesis>=6.100"
	$(LOWEST)/bin/pytest -q -p no:cacheprovider tests/test_lhco.py tests/test_config.py \
		tests/test_metrics.py tests/test_classifier.py tests/test_flows_preprocessing.py \
		tests/test_flows_ode.py tests/test_scan.py tests/test_plots.py tests/test_engine.py

simulation: $(STAMP)  ## the reference QCD simulation (200k events, --tune sim), checked against its checksum
	$(BIN)/resonant-ad simulate --process qcd --tune sim --pthat-min 1000 --events 200000 \
		--seed 2026 --workers $(or $(WORKERS),2) --no-progress --out runs/simulation/qcd_sim.h5
	$(BIN)/resonant-ad describe runs/simulation/qcd_sim.h5 --checksum | diff - simulation/qcd_sim.sha256
	@echo "runs/simulation/qcd_sim.h5: checksum OK"

docs: $(STAMP)  ## the documentation site in site/, warnings as errors
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/griffe_roles.py
	$(BIN)/ruff format --check src tests benchmarks docs/griffe_roles.py
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(LOWEST) .pytest_cache .ruff_cache .mypy_cache site
