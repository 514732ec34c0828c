# Quick start targets; both install missing system packages first.
.PHONY: demo test setup bench fixtures

setup:
	@scripts/setup.sh

# The main job on the bundled default model.
demo: setup
	@scripts/demo.sh

test: setup
	swift test

bench:
	bench/verify.sh
	bench/convert.sh
	bench/runtime.sh
	bench/convert_keras.sh

# Regenerate committed fixtures (needs Python + the pinned requirements).
fixtures:
	scripts/setup.sh --fixtures
	python3 -m pip install -q -r fixtures/generator/requirements.txt
	python3 fixtures/generator/make_onnx.py
	@echo "Keras fixtures: create the venv described in fixtures/generator/requirements-keras.txt, then run make_keras.py with its python"
