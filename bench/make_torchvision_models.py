#!/usr/bin/env python3
"""The torchvision half of bench/runtime.sh's models: DenseNet121, SqueezeNet 1.1,
ShuffleNetV2 x1.0 and EfficientNet-B0 with seeded random weights (weights=None), exported by
torch.onnx at opset 17 with a dynamic batch, input "data" [N, 3, 224, 224], output "prob"
(Softmax over the logits, as bench/make_models.py's models end). Never committed.

    /tmp/torch-venv/bin/python bench/make_torchvision_models.py OUT_DIR [--only densenet121,...]

The venv is the one `make test-exports` uses (fixtures/generator/requirements-exports.txt).
"""
import argparse
import os

import torch
import torchvision.models as tvm

MODELS = {
    "densenet121": tvm.densenet121,
    "squeezenet1_1": tvm.squeezenet1_1,
    "shufflenet_v2": tvm.shufflenet_v2_x1_0,
    "efficientnet_b0": tvm.efficientnet_b0,
}


class WithSoftmax(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--only", default=",".join(MODELS))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name in a.only.split(","):
        torch.manual_seed(sum(map(ord, name)))
        net = WithSoftmax(MODELS[name](weights=None)).eval()
        path = os.path.join(a.out, name + ".onnx")
        with torch.no_grad():
            torch.onnx.export(net, torch.zeros(1, 3, 224, 224), path, opset_version=17, input_names=["data"],
                              output_names=["prob"], dynamic_axes={"data": {0: "N"}, "prob": {0: "N"}})
        print("wrote", path)


if __name__ == "__main__":
    main()
