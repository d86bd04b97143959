# MrrrMe mesh. `make run` starts everything; `make test` checks everything. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)

.PHONY: install run test lint typecheck pytest clean docs

$(STAMP):
	@echo "==> creating $(VENV) and installing the mesh with its dev tools (first run takes a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@# silero-vad's wheel declares torch; the gateway only needs the ONNX file inside it.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'silero-vad==6.2.3'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/python -m mrrrme.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

docs: install
	$(BIN)/python -m mrrrme.configdoc > docs/configuration.md
