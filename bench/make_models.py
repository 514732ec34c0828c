#!/usr/bin/env python3
"""Write full-size ONNX models with random weights for the runtime benchmark.

resnet50, vgg16, mobilenetv2 and inception_v3 with torchvision's layer shapes
(so parameter counts and multiply-adds match the published ones), opset 13,
weights as raw_data initializers, input "data" float32 [N, 3, H, W] with a
symbolic batch, output "prob" (Softmax). Seeded and deterministic: the same
seed writes byte-identical files. Never committed: bench/runtime.sh generates
them on demand.

    python3 bench/make_models.py OUT_DIR [--only resnet50,vgg16] [--seed 0] [--no-check]

Graphs look like a PyTorch export without Conv+BN folding: Conv (no bias) +
BatchNormalization + Relu (Clip(0, 6) with scalar-initializer min/max inputs for
ReLU6; VGG16 has no BN and biased convs), GlobalAveragePool + Flatten + Gemm
heads, Dropout left out (inference).
Weights use He-style scales and BN statistics are non-trivial (running var
~U(0.5, 2), mean ~N(0, 0.1)); each model is checked with onnx.checker and one
onnxruntime run whose largest softmax probability is printed, to show the
output is neither uniform nor one-hot.
"""
import argparse
import os
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Published counts: learnable parameters (BN running statistics excluded) and
# multiply-adds of Conv/Gemm at the model's input size (torchvision's "GFLOPS"
# column counts multiply-adds). inception_v3's published 27,161,264 includes
# the training-only AuxLogits head (3,326,696 parameters), which is left out here.
PUBLISHED = {
    "resnet50": (25_557_032, 4.09),
    "vgg16": (138_357_544, 15.47),
    "mobilenetv2": (3_504_872, 0.30),
    "inception_v3": (27_161_264 - 3_326_696, 5.71),
}


class Builder:
    """Appends nodes and initializers, tracking each activation's (C, H, W)."""

    def __init__(self, name, rng, size):
        self.name, self.rng = name, rng
        self.nodes, self.inits = [], []
        self.shape = {"data": (3, size, size)}
        self.params = 0  # learnable parameters, as torch counts them
        self.macs = 0  # multiply-adds of Conv and Gemm for one image
        self.size = size
        self._n = 0

    def _tensor(self, name, a, learnable=True):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(a, dtype=np.float32), name))
        if learnable:
            self.params += a.size
        return name

    def _normal(self, shape, std):
        return self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def _node(self, op, inputs, out, shape, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        self.shape[out] = shape
        return out

    def conv(self, x, prefix, cout, k, s=1, p=0, group=1, bias=False):
        kh, kw = (k, k) if isinstance(k, int) else k
        sh, sw = (s, s) if isinstance(s, int) else s
        ph, pw = (p, p) if isinstance(p, int) else p
        cin, h, w = self.shape[x]
        fan_in = cin // group * kh * kw
        wt = self._tensor(f"{prefix}.weight", self._normal((cout, cin // group, kh, kw), np.sqrt(2.0 / fan_in)))
        inputs = [x, wt]
        if bias:
            inputs.append(self._tensor(f"{prefix}.bias", self._normal((cout,), 0.01)))
        oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        self.macs += cout * oh * ow * fan_in
        return self._node("Conv", inputs, f"{prefix}_out", (cout, oh, ow), dilations=[1, 1], group=group,
                          kernel_shape=[kh, kw], pads=[ph, pw, ph, pw], strides=[sh, sw])

    def bn(self, x, prefix, eps=1e-5, gamma=(0.5, 1.5)):
        c = self.shape[x][0]
        r = self.rng
        scale = self._tensor(f"{prefix}.weight", r.uniform(*gamma, c).astype(np.float32))
        bias = self._tensor(f"{prefix}.bias", (r.standard_normal(c, dtype=np.float32) * 0.1))
        mean = self._tensor(f"{prefix}.running_mean", (r.standard_normal(c, dtype=np.float32) * 0.1), learnable=False)
        var = self._tensor(f"{prefix}.running_var", r.uniform(0.5, 2.0, c).astype(np.float32), learnable=False)
        return self._node("BatchNormalization", [x, scale, bias, mean, var], f"{prefix}_out", self.shape[x],
                          epsilon=eps, momentum=0.9)

    def relu(self, x):
        self._n += 1
        return self._node("Relu", [x], f"{x}_relu{self._n}", self.shape[x])

    def relu6(self, x):
        if "clip_min" not in self.shape:
            self._tensor("clip_min", np.array(0.0, np.float32), learnable=False)
            self._tensor("clip_max", np.array(6.0, np.float32), learnable=False)
            self.shape["clip_min"] = self.shape["clip_max"] = ()
        return self._node("Clip", [x, "clip_min", "clip_max"], f"{x}_clip", self.shape[x])

    def pool(self, op, x, out, k, s, p=0, **attrs):
        c, h, w = self.shape[x]
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        return self._node(op, [x], out, (c, oh, ow), kernel_shape=[k, k], pads=[p, p, p, p], strides=[s, s], **attrs)

    def add(self, a, b, out):
        assert self.shape[a] == self.shape[b], (a, b, self.shape[a], self.shape[b])
        return self._node("Add", [a, b], out, self.shape[a])

    def concat(self, xs, out):
        hw = {self.shape[x][1:] for x in xs}
        assert len(hw) == 1, (xs, hw)
        return self._node("Concat", xs, out, (sum(self.shape[x][0] for x in xs), *hw.pop()), axis=1)

    def head(self, x, fc, logit_scale):
        """GlobalAveragePool, Flatten, Gemm to 1000 classes (before the Softmax)."""
        c = self.shape[x][0]
        x = self._node("GlobalAveragePool", [x], "pool_out", (c, 1, 1))
        x = self._node("Flatten", [x], "flatten_out", (c,), axis=1)
        return self.gemm(x, fc, 1000, logit_scale)

    def gemm(self, x, prefix, fout, scale=np.sqrt(2.0)):
        """Gemm with weight std scale/sqrt(fan_in). The classifier's scale is set per model
        (measured on N(0, 1) inputs) so the logits' std is about 3: the softmax is then
        neither near uniform nor one-hot, and a parity check on it means something."""
        (fin,) = self.shape[x]
        w = self._tensor(f"{prefix}.weight", self._normal((fout, fin), scale / np.sqrt(fin)))
        b = self._tensor(f"{prefix}.bias", self._normal((fout,), 0.01))
        self.macs += fin * fout
        return self._node("Gemm", [x, w, b], f"{prefix}_out", (fout,), alpha=1.0, beta=1.0, transB=1)

    def finish(self, x):
        self._node("Softmax", [x], "prob", self.shape[x], axis=1)
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, "H", "W"] if DYNAMIC else ["N", 3, self.size, self.size])],
            [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1000])], initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="zoo bench/make_models.py")
        model.ir_version = 8
        self.model = model
        self._check_shapes(graph)
        return self

    def _check_shapes(self, graph):
        """onnx shape inference (batch 1, no initializer bytes) must agree with the tracked shapes."""
        inputs = [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, self.size, self.size])]
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in self.inits]
        g = helper.make_graph(self.nodes, self.name, inputs, list(graph.output))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        for v in list(inferred.graph.value_info) + list(inferred.graph.output):
            dims = tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
            assert dims == (1, *self.shape[v.name]), (v.name, dims, self.shape[v.name])


def conv_bn(b, x, conv, bn, cout, k, s=1, p=0, group=1, eps=1e-5, act="relu", gamma=(0.5, 1.5)):
    x = b.bn(b.conv(x, conv, cout, k, s, p, group), bn, eps, gamma)
    return {"relu": b.relu, "relu6": b.relu6, None: lambda t: t}[act](x)


def resnet50(rng):
    """torchvision resnet50 (v1.5: the stride sits on the 3x3 conv), 224x224."""
    b = Builder("resnet50", rng, 224)
    x = conv_bn(b, "data", "conv1", "bn1", 64, 7, 2, 3)
    x = b.pool("MaxPool", x, "maxpool_out", 3, 2, 1)
    cin = 64
    for li, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], 1):
        for bi in range(blocks):
            p, s = f"layer{li}.{bi}", stride if bi == 0 else 1
            y = conv_bn(b, x, f"{p}.conv1", f"{p}.bn1", width, 1)
            y = conv_bn(b, y, f"{p}.conv2", f"{p}.bn2", width, 3, s, 1)
            # The residual branch's last BN has a small scale (as with zero-init-residual
            # training) so the sum doesn't grow block after block.
            y = conv_bn(b, y, f"{p}.conv3", f"{p}.bn3", width * 4, 1, act=None, gamma=(0.2, 0.5))
            if s != 1 or cin != width * 4:
                x = conv_bn(b, x, f"{p}.downsample.0", f"{p}.downsample.1", width * 4, 1, s, act=None)
            x = b.relu(b.add(y, x, f"{p}_add"))
            cin = width * 4
    return b.finish(b.head(x, "fc", 0.57))


def vgg16(rng):
    """torchvision vgg16 (configuration D, no BN), 224x224."""
    b = Builder("vgg16", rng, 224)
    x, i = "data", 0
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            x = b.pool("MaxPool", x, f"features.{i}_out", 2, 2)
        else:
            x = b.relu(b.conv(x, f"features.{i}", v, 3, 1, 1, bias=True))
            i += 1  # the ReLU's index in torchvision's features
        i += 1
    c, h, w = b.shape[x]
    x = b._node("Flatten", [x], "flatten_out", (c * h * w,), axis=1)
    x = b.relu(b.gemm(x, "classifier.0", 4096))
    x = b.relu(b.gemm(x, "classifier.3", 4096))
    return b.finish(b.gemm(x, "classifier.6", 1000, 1.1))


def mobilenetv2(rng):
    """torchvision mobilenet_v2 (width 1.0), 224x224."""
    b = Builder("mobilenetv2", rng, 224)
    x = conv_bn(b, "data", "features.0.0", "features.0.1", 32, 3, 2, 1, act="relu6")
    cin, i = 32, 1
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for j in range(n):
            stride, hidden, p = s if j == 0 else 1, cin * t, f"features.{i}.conv"
            y, k = x, 0
            if t != 1:
                y = conv_bn(b, y, f"{p}.0.0", f"{p}.0.1", hidden, 1, act="relu6")
                k = 1
            y = conv_bn(b, y, f"{p}.{k}.0", f"{p}.{k}.1", hidden, 3, stride, 1, group=hidden, act="relu6")
            # Linear bottleneck: no activation; the small BN scale keeps residual sums level.
            y = conv_bn(b, y, f"{p}.{k + 1}", f"{p}.{k + 2}", c, 1, act=None,
                        gamma=(0.2, 0.5) if stride == 1 and cin == c else (0.5, 1.5))
            x = b.add(x, y, f"features.{i}_add") if stride == 1 and cin == c else y
            cin, i = c, i + 1
    x = conv_bn(b, x, f"features.{i}.0", f"features.{i}.1", 1280, 1, act="relu6")
    return b.finish(b.head(x, "classifier.1", 1.75))


def inception_v3(rng):
    """torchvision inception_v3 without AuxLogits (transform_input=False), 299x299."""
    b = Builder("inception_v3", rng, 299)

    def bc(x, name, cout, k, s=1, p=0):  # BasicConv2d
        return conv_bn(b, x, f"{name}.conv", f"{name}.bn", cout, k, s, p, eps=0.001)

    def avg3(x, name):  # F.avg_pool2d(x, 3, stride=1, padding=1), count_include_pad=True
        return b.pool("AveragePool", x, f"{name}_avgpool", 3, 1, 1, count_include_pad=1)

    def inception_a(x, m, pool_features):
        b1 = bc(x, f"{m}.branch1x1", 64, 1)
        b5 = bc(bc(x, f"{m}.branch5x5_1", 48, 1), f"{m}.branch5x5_2", 64, 5, 1, 2)
        b3 = bc(x, f"{m}.branch3x3dbl_1", 64, 1)
        b3 = bc(bc(b3, f"{m}.branch3x3dbl_2", 96, 3, 1, 1), f"{m}.branch3x3dbl_3", 96, 3, 1, 1)
        bp = bc(avg3(x, m), f"{m}.branch_pool", pool_features, 1)
        return b.concat([b1, b5, b3, bp], f"{m}_out")

    def inception_b(x, m):
        b3 = bc(x, f"{m}.branch3x3", 384, 3, 2)
        bd = bc(x, f"{m}.branch3x3dbl_1", 64, 1)
        bd = bc(bc(bd, f"{m}.branch3x3dbl_2", 96, 3, 1, 1), f"{m}.branch3x3dbl_3", 96, 3, 2)
        bp = b.pool("MaxPool", x, f"{m}_maxpool", 3, 2)
        return b.concat([b3, bd, bp], f"{m}_out")

    def inception_c(x, m, c7):
        b1 = bc(x, f"{m}.branch1x1", 192, 1)
        b7 = bc(x, f"{m}.branch7x7_1", c7, 1)
        b7 = bc(b7, f"{m}.branch7x7_2", c7, (1, 7), 1, (0, 3))
        b7 = bc(b7, f"{m}.branch7x7_3", 192, (7, 1), 1, (3, 0))
        bd = bc(x, f"{m}.branch7x7dbl_1", c7, 1)
        bd = bc(bd, f"{m}.branch7x7dbl_2", c7, (7, 1), 1, (3, 0))
        bd = bc(bd, f"{m}.branch7x7dbl_3", c7, (1, 7), 1, (0, 3))
        bd = bc(bd, f"{m}.branch7x7dbl_4", c7, (7, 1), 1, (3, 0))
        bd = bc(bd, f"{m}.branch7x7dbl_5", 192, (1, 7), 1, (0, 3))
        bp = bc(avg3(x, m), f"{m}.branch_pool", 192, 1)
        return b.concat([b1, b7, bd, bp], f"{m}_out")

    def inception_d(x, m):
        b3 = bc(bc(x, f"{m}.branch3x3_1", 192, 1), f"{m}.branch3x3_2", 320, 3, 2)
        b7 = bc(x, f"{m}.branch7x7x3_1", 192, 1)
        b7 = bc(b7, f"{m}.branch7x7x3_2", 192, (1, 7), 1, (0, 3))
        b7 = bc(b7, f"{m}.branch7x7x3_3", 192, (7, 1), 1, (3, 0))
        b7 = bc(b7, f"{m}.branch7x7x3_4", 192, 3, 2)
        bp = b.pool("MaxPool", x, f"{m}_maxpool", 3, 2)
        return b.concat([b3, b7, bp], f"{m}_out")

    def inception_e(x, m):
        b1 = bc(x, f"{m}.branch1x1", 320, 1)
        b3 = bc(x, f"{m}.branch3x3_1", 384, 1)
        b3 = b.concat([bc(b3, f"{m}.branch3x3_2a", 384, (1, 3), 1, (0, 1)),
                       bc(b3, f"{m}.branch3x3_2b", 384, (3, 1), 1, (1, 0))], f"{m}_3x3_out")
        bd = bc(bc(x, f"{m}.branch3x3dbl_1", 448, 1), f"{m}.branch3x3dbl_2", 384, 3, 1, 1)
        bd = b.concat([bc(bd, f"{m}.branch3x3dbl_3a", 384, (1, 3), 1, (0, 1)),
                       bc(bd, f"{m}.branch3x3dbl_3b", 384, (3, 1), 1, (1, 0))], f"{m}_3x3dbl_out")
        bp = bc(avg3(x, m), f"{m}.branch_pool", 192, 1)
        return b.concat([b1, b3, bd, bp], f"{m}_out")

    x = bc("data", "Conv2d_1a_3x3", 32, 3, 2)
    x = bc(x, "Conv2d_2a_3x3", 32, 3)
    x = bc(x, "Conv2d_2b_3x3", 64, 3, 1, 1)
    x = b.pool("MaxPool", x, "maxpool1_out", 3, 2)
    x = bc(x, "Conv2d_3b_1x1", 80, 1)
    x = bc(x, "Conv2d_4a_3x3", 192, 3)
    x = b.pool("MaxPool", x, "maxpool2_out", 3, 2)
    x = inception_a(x, "Mixed_5b", 32)
    x = inception_a(x, "Mixed_5c", 64)
    x = inception_a(x, "Mixed_5d", 64)
    x = inception_b(x, "Mixed_6a")
    for m, c7 in [("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)]:
        x = inception_c(x, m, c7)
    x = inception_d(x, "Mixed_7a")
    x = inception_e(x, "Mixed_7b")
    x = inception_e(x, "Mixed_7c")
    assert b.shape[x] == (2048, 8, 8), b.shape[x]
    return b.finish(b.head(x, "fc", 2.3))


# --dynamic: declare the input as [N, 3, H, W] (any size the architecture allows).
DYNAMIC = False

MODELS = {"resnet50": resnet50, "vgg16": vgg16, "mobilenetv2": mobilenetv2, "inception_v3": inception_v3}


def check(path, size, seed):
    """onnx.checker plus one onnxruntime run on a seeded N(0, 1) input; returns the max probability."""
    import onnxruntime as ort

    onnx.checker.check_model(path, full_check=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(seed).standard_normal((1, 3, size, size), dtype=np.float32)
    (prob,) = sess.run(["prob"], {"data": x})
    assert prob.shape == (1, 1000) and np.all(np.isfinite(prob)), prob
    assert abs(float(prob.sum()) - 1) < 1e-3, prob.sum()
    return float(prob.max()), int(prob.argmax())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--only", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-check", action="store_true", help="skip onnx.checker and the onnxruntime run")
    ap.add_argument("--dynamic", action="store_true", help="symbolic input height and width: [N, 3, H, W]")
    args = ap.parse_args()
    global DYNAMIC
    DYNAMIC = args.dynamic
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {','.join(unknown)}; choose from {','.join(MODELS)}")
    os.makedirs(args.out_dir, exist_ok=True)
    for i, name in enumerate(MODELS):
        if name not in names:
            continue
        start = time.perf_counter()
        # One generator per model (seeded from --seed and the model's position), so
        # --only writes the same bytes as a full run.
        b = MODELS[name](np.random.default_rng([args.seed, i]))
        model, size, params, macs = b.model, b.size, b.params, b.macs
        path = os.path.join(args.out_dir, f"{name}{'_dynamic' if DYNAMIC else ''}.onnx")
        tmp = path + ".tmp"
        onnx.save(model, tmp)
        os.replace(tmp, path)
        pub_params, pub_gmacs = PUBLISHED[name]
        line = (f"{name}: {path} ({os.path.getsize(path):,} bytes, {len(model.graph.node)} nodes), {size}x{size}, "
                f"params {params:,} (published {pub_params:,}), {macs / 1e9:.2f} GMACs = {2 * macs / 1e9:.2f} GFLOPs "
                f"(published {pub_gmacs} G multiply-adds)")
        if not args.no_check:
            pmax, top = check(path, size, args.seed)
            line += f", max prob {pmax:.3f} (class {top}) for a random input"
        print(line + f" [{time.perf_counter() - start:.1f} s]", flush=True)


if __name__ == "__main__":
    main()
