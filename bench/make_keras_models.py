#!/usr/bin/env python3
"""The Keras half of bench/runtime.sh's models: Keras Applications ResNet50 (channels-last,
input [N, 224, 224, 3], softmax output) with seeded random weights (weights=None), written twice
by Keras itself: the legacy HDF5 file zoo converts (resnet50_keras.h5) and Keras's own ONNX
export (resnet50_keras.onnx, torch backend, dynamic batch) that onnxruntime runs. Never committed.

    KERAS_BACKEND=torch /tmp/torch-venv/bin/python bench/make_keras_models.py OUT_DIR

The venv is the one `make test-exports` uses plus bench/requirements-keras-nhwc.txt.
"""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None)
    model(np.zeros((1, 224, 224, 3), "float32"))  # Keras exports only a model that has been called
    model.save(os.path.join(a.out, "resnet50_keras.h5"))
    model.export(os.path.join(a.out, "resnet50_keras.onnx"), format="onnx")
    print(f"wrote resnet50_keras.h5 and resnet50_keras.onnx to {a.out}")


if __name__ == "__main__":
    main()
