#!/usr/bin/env python3
"""Write a full-size VGG16 as a legacy Keras .h5 (random weights, ~553 MB) for benchmarks.

Uses tf_keras (Keras 2, the format the Keras Applications downloads use) with
`weights=None`; run with the Keras venv (fixtures/generator/requirements-keras.txt).
Never committed.

    python3 bench/make_vgg16_h5.py OUT.h5
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tf_keras  # noqa: E402

tf_keras.utils.set_random_seed(0)
model = tf_keras.applications.VGG16(weights=None)
model.save(sys.argv[1])
print(f"wrote {sys.argv[1]}: {os.path.getsize(sys.argv[1])} bytes, {model.count_params()} parameters")
