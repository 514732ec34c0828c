# Quick start targets; both install missing system packages first.
.PHONY: demo test setup bench fixtures test-applications test-exports test-sanitize fuzz

setup:
	@scripts/setup.sh

# The main job on the bundled default model.
demo: setup
	@scripts/demo.sh

test: setup
	swift test

# Opt-in: every catalog keras.applications notop model, full size, at three input sizes (creates a venv).
test-applications: setup
	scripts/test-applications.sh

test-exports: setup
	scripts/test-exports.sh

# The test suite under AddressSanitizer, then ThreadSanitizer (separate build directories).
test-sanitize: setup
	swift test --sanitize=address --build-path .build-asan
	swift test --sanitize=thread --build-path .build-tsan

# The libFuzzer harnesses of Fuzz/ (FUZZ_SECONDS per harness, default 600).
fuzz: setup
	bench/fuzz.sh

bench:
	bench/verify.sh
	bench/convert.sh
	bench/runtime.sh
	bench/convert_keras.sh
	bench/pull.sh
	bench/embeddings.sh
	bench/dynamic.sh
	bench/transfer.sh

# Regenerate committed fixtures (needs Python + the pinned requirements).
fixtures:
	scripts/setup.sh --fixtures
	python3 -m pip install -q -r fixtures/generator/requirements.txt
	python3 fixtures/generator/make_onnx.py
	@echo "Keras and embedding fixtures: create the venvs described in fixtures/generator/requirements-keras.txt and requirements-embeddings.txt, then run make_keras.py / make_embeddings.py with their python"
