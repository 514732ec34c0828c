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

# The test suite under AddressSanitizer (with LeakSanitizer), then ThreadSanitizer, in separate
# build directories. abort_on_error: a sanitizer report in the HDF5 worker kills it by a signal,
# as a crash would, so the parent's typed error still applies. Tests/lsan.supp says why each
# suppressed report is not a leak of zoo's. SWIFT_BACKTRACE=enable=no: the Swift backtracer can
# hang symbolising a process a sanitizer aborted.
test-sanitize: setup
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan.supp:print_suppressions=0 \
	  SWIFT_BACKTRACE=enable=no swift test --sanitize=address --build-path .build-asan
	TSAN_OPTIONS=abort_on_error=1 SWIFT_BACKTRACE=enable=no swift test --sanitize=thread --build-path .build-tsan

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
