# voxloop — the two commands: `make run` and `make test`. Both set up .venv when needed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.voxloop-installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=
# llama-cpp-python is built from source with portable flags (scripts/llama-cmake-args explains).
LLAMA_CPP_VERSION ?= 0.3.36
LLAMA_CMAKE_ARGS  ?= $(shell sh scripts/llama-cmake-args)

.PHONY: setup run demo test test-fast lint typecheck bench bench-scale browser-deps sound-deps redis-deps js-deps clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile scripts/llama-cmake-args scripts/install-llama
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	sh scripts/install-llama $(PY) $(LLAMA_CPP_VERSION) "$(LLAMA_CMAKE_ARGS)"
	$(PY) -m pip install -q -e '.[embedded,server,dev]'
	# Smart Turn v3 (semantic end of turn): only its ONNX file is used, so skip pipecat's deps
	$(PY) -m pip install -q --no-deps 'pipecat-ai>=0.0.90'
	touch $(STAMP)

run: setup
	$(VENV)/bin/voxloop serve --host $(HOST) --port $(PORT)

demo: setup
	$(VENV)/bin/voxloop demo

# Headless Chromium for the browser tests (Debian's package; installed once).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
	  echo "WARNING: could not install chromium; browser tests will be skipped"; }

# espeak-ng and sox (Debian) for the espeak TTS backend and the prosody tests; installed once.
sound-deps:
	@command -v espeak-ng >/dev/null 2>&1 && command -v sox >/dev/null 2>&1 || { \
	  echo "installing Debian espeak-ng and sox for the speech tests"; \
	  (apt-get install -y -q espeak-ng sox >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q espeak-ng sox >/dev/null 2>&1)) || \
	  echo "WARNING: could not install espeak-ng/sox; the tests that need them will be skipped"; }

# redis-server (Debian) for the Redis store tests; installed once.
redis-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "installing Debian redis-server for the Redis store tests"; \
	  (apt-get install -y -q redis-server >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q redis-server >/dev/null 2>&1)) || \
	  echo "WARNING: could not install redis-server; the Redis store tests will be skipped"; }

# The Node Agents SDK for the conformance tests (tests/e2e/js); skipped when node or the npm
# registry is unavailable (those tests then skip).
JS_DIR   := tests/e2e/js
JS_STAMP := $(JS_DIR)/node_modules/.voxloop-installed
js-deps: $(JS_STAMP)

$(JS_STAMP): $(JS_DIR)/package.json
	@if command -v npm >/dev/null 2>&1; then \
	  (cd $(JS_DIR) && npm install --no-audit --no-fund --silent) && touch $(JS_STAMP) || \
	  echo "WARNING: npm install failed; the Node Agents SDK tests will be skipped"; \
	else echo "WARNING: node/npm not found; the Node Agents SDK tests will be skipped"; fi

test: setup browser-deps sound-deps redis-deps js-deps lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q -m "not models and not browser" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check voxloop tests bench examples
	$(VENV)/bin/mypy

# Every benchmark (about 1.5 hours on 2 cores; run it on a quiet machine), then docs/benchmarks.md.
bench: setup
	$(PY) bench/asr.py && $(PY) bench/tts.py && $(PY) bench/llm.py
	$(PY) bench/llm_batch.py && $(PY) bench/llm_weights.py && $(PY) bench/asr_batch.py
	$(PY) bench/persona.py && $(PY) bench/memory.py
	$(MAKE) --no-print-directory bench-scale

# The scale benchmarks only (issue 11; at most about 55 minutes on 2 cores): N conversations, N dictation
# streams, N conversations with remote inference, the plot (docs/img/scale.png), docs/benchmarks.md.
# BENCH_SERVER_ARGS: extra `voxloop serve` flags for the realtime run, e.g. "--llm-workers 1".
BENCH_SESSIONS    ?= 1,2,4,8,16
DICTATION_STREAMS ?= 1,2,4,8,16,32
REMOTE_SESSIONS   ?= 1,2,4,8,16
BENCH_SERVER_ARGS ?=
bench-scale: setup
	$(PY) bench/realtime.py --sessions $(BENCH_SESSIONS) --server-args "$(BENCH_SERVER_ARGS)"
	$(PY) bench/dictation.py --sessions $(DICTATION_STREAMS)
	$(PY) bench/remote.py --sessions $(REMOTE_SESSIONS)
	$(PY) bench/plot.py
	$(PY) bench/report.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache $(JS_DIR)/node_modules
