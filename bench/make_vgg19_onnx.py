#!/usr/bin/env python3
"""Write a full-size VGG19-shaped ONNX model (random weights, ~548 MB) for benchmarks.

Same topology and parameter count as torchvision/ONNX-zoo VGG19 (143.7M float32
parameters, 224x224 input), opset 13, weights as raw_data initializers. Never
committed: bench scripts generate it on demand.

    python3 bench/make_vgg19_onnx.py OUT.onnx [--seed 0]
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    def weight(name, shape):
        a = (rng.standard_normal(shape, dtype=np.float32) * 0.01).astype(np.float32)
        inits.append(numpy_helper.from_array(a, name))
        return name

    inits, nodes = [], []
    x, cin, i = "data", 3, 0
    for v in CFG:
        if v == "M":
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2]))
            x = f"pool{i}"
        else:
            w = weight(f"features.{i}.weight", (v, cin, 3, 3))
            b = weight(f"features.{i}.bias", (v,))
            nodes.append(helper.make_node("Conv", [x, w, b], [f"conv{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
            nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
            x, cin = f"relu{i}", v
        i += 1
    nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
    x = "flat"
    for j, (fin, fout) in enumerate([(25088, 4096), (4096, 4096), (4096, 1000)]):
        w = weight(f"classifier.{j}.weight", (fout, fin))
        b = weight(f"classifier.{j}.bias", (fout,))
        nodes.append(helper.make_node("Gemm", [x, w, b], [f"fc{j}"], transB=1))
        x = f"fc{j}"
        if j < 2:
            nodes.append(helper.make_node("Relu", [x], [f"fc{j}_relu"]))
            x = f"fc{j}_relu"
    nodes.append(helper.make_node("Softmax", [x], ["prob"], axis=1))
    graph = helper.make_graph(
        nodes, "vgg19", [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1000])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="zoo bench/make_vgg19_onnx.py")
    model.ir_version = 8
    onnx.save(model, args.out)
    print(f"wrote {args.out}: {sum(t.ByteSize() for t in inits)} bytes of initializers")


if __name__ == "__main__":
    main()
