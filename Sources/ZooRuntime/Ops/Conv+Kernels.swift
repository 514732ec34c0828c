import Foundation
import ZooCore

/// Kernels of the Conv, Pool, Normalization, MatMul and Reduce families.
enum ConvKernels {
    static let table: [String: Kernel] = [
        "Conv": Kernel(run: { c in
            let x = try c.shape(0), w = try c.shape(1), out = c.out
            guard x.count == 4 || x.count == 3 else { throw c.unsupported("\(x.count - 2)-D convolution") }
            let is1D = x.count == 3
            let k = Array(w[2...])
            let (s, d, _, _) = try WindowGeometry.parameters(c.attrs, spatial: k.count)
            let p = try WindowGeometry.pads(c.attrs, input: Array(x[2...]), kernel: k)
            let r = k.count
            let act = c.step.activation
            var params = ConvParams(
                n: x[0], c: x[1], h: is1D ? 1 : x[2], w: x.last!, m: w[0], kh: is1D ? 1 : k[0], kw: k.last!,
                oh: is1D ? 1 : out[2], ow: out.last!, strideH: is1D ? 1 : s[0], strideW: s.last!,
                dilH: is1D ? 1 : d[0], dilW: d.last!, padTop: is1D ? 0 : p[0], padLeft: p[r - 1],
                group: try c.attrs.int("group"), activation: act)
            let bias = c.has(2) ? try c.floats(2) : nil
            var residual: UnsafeMutablePointer<Float>?
            var residualNeedsBroadcast = false
            if c.step.residual != nil {
                if try c.shape(3) == out { residual = try c.floats(3) } else { residualNeedsBroadcast = true }
            }
            if residualNeedsBroadcast { params.activation = .none }
            let (y, b) = c.allocate(c.count)
            var scratch: Buffer?
            let need = ConvKernel.scratchFloats(params, threads: c.threads)
            if need > 0 { scratch = c.scratch(need) }
            ConvKernel.run(params, x: try c.floats(0), w: try c.floats(1), bias: bias, residual: residual, y: y, scratch: scratch?.pointer, threads: c.threads)
            if let scratch { c.giveBack(scratch) }
            if residualNeedsBroadcast {
                // The shortcut broadcasts: add it in a separate pass, then the activation.
                Elementwise.binary("Add", a: y, aShape: out, b: try c.floats(3), bShape: try c.shape(3), y: y, outShape: out, threads: c.threads)
                parallelFor(c.count, threads: c.threads, grain: 1 << 15) { r in Activations.apply(act, y + r.lowerBound, count: r.count) }
            }
            return [c.result(y, b)]
        }, takesActivation: true),
    ]
}

enum PoolKernels {
    static func window(max isMax: Bool) -> Kernel {
        Kernel(run: { c in
            let x = try c.shape(0), out = c.out
            guard x.count == 4 || x.count == 3 else { throw c.unsupported("\(x.count - 2)-D pooling") }
            let is1D = x.count == 3, r = x.count - 2
            let k = try c.attrs.ints("kernel_shape")
            let (s, d, _, _) = try WindowGeometry.parameters(c.attrs, spatial: r)
            let p = try WindowGeometry.pads(c.attrs, input: Array(x[2...]), kernel: k)
            let params = PoolParams(
                n: x[0], c: x[1], h: is1D ? 1 : x[2], w: x.last!, kh: is1D ? 1 : k[0], kw: k.last!,
                oh: is1D ? 1 : out[2], ow: out.last!, strideH: is1D ? 1 : s[0], strideW: s.last!,
                dilH: is1D ? 1 : d[0], dilW: d.last!, padTop: is1D ? 0 : p[0], padLeft: p[r - 1],
                padBottom: is1D ? 0 : p[r], padRight: p[2 * r - 1],
                countIncludePad: isMax ? false : try c.attrs.int("count_include_pad") != 0)
            let (y, b) = c.allocate(c.count)
            if isMax {
                PoolKernel.maxPool(params, x: try c.floats(0), y: y, threads: c.threads)
            } else {
                PoolKernel.averagePool(params, x: try c.floats(0), y: y, threads: c.threads)
            }
            return [c.result(y, b)]
        })
    }
    static func global(max isMax: Bool) -> Kernel {
        Kernel(run: { c in
            let x = try c.shape(0)
            let (y, b) = c.allocate(c.count)
            PoolKernel.global(max: isMax, x: try c.floats(0), y: y, planes: x[0] * x[1], size: x.dropFirst(2).reduce(1, *), threads: c.threads)
            return [c.result(y, b)]
        })
    }
    static let table: [String: Kernel] = [
        "MaxPool": window(max: true), "AveragePool": window(max: false),
        "GlobalMaxPool": global(max: true), "GlobalAveragePool": global(max: false),
    ]
}

enum NormalizationKernels {
    static let table: [String: Kernel] = [
        "BatchNormalization": Kernel(run: { c in
            let x = try c.shape(0)
            let ch = x[1], eps = try c.attrs.float("epsilon")
            let g = try c.floats(1), be = try c.floats(2), mu = try c.floats(3), va = try c.floats(4)
            let scale = (0..<ch).map { g[$0] / (va[$0] + eps).squareRoot() }
            let shift = (0..<ch).map { be[$0] - mu[$0] * scale[$0] }
            let (y, b) = c.output(inPlace: true)
            Elementwise.channelAffine(try c.floats(0), y, n: x[0], c: ch, plane: x.dropFirst(2).reduce(1, *), scale: scale, shift: shift, threads: c.threads)
            return [c.result(y, b)]
        }),
        "LRN": Kernel(run: { c in
            let x = try c.shape(0)
            let (y, b) = c.allocate(c.count)
            Elementwise.lrn(try c.floats(0), y, n: x[0], c: x[1], plane: x.dropFirst(2).reduce(1, *), size: try c.attrs.int("size"),
                            alpha: try c.attrs.float("alpha"), beta: try c.attrs.float("beta"), bias: try c.attrs.float("bias"), threads: c.threads)
            return [c.result(y, b)]
        }),
    ]
}

enum MatMulKernels {
    static let table: [String: Kernel] = [
        "Gemm": Kernel(run: { c in
            let a = try c.shape(0)
            let transA = try c.attrs.int("transA") != 0, transB = try c.attrs.int("transB") != 0
            let (y, buf) = c.allocate(c.count)
            let cp = c.has(2) ? try c.floats(2) : nil
            GemmKernel.gemm(a: try c.floats(0), b: try c.floats(1), c: cp, cShape: cp == nil ? [] : try c.shape(2), y: y,
                            m: c.out[0], n: c.out[1], k: transA ? a[0] : a[1], transA: transA, transB: transB,
                            alpha: try c.attrs.float("alpha"), beta: try c.attrs.float("beta"), activation: c.step.activation, threads: c.threads)
            return [c.result(y, buf)]
        }, takesActivation: true),
        "MatMul": Kernel(run: { c in
            let (y, b) = c.allocate(c.count)
            GemmKernel.matmul(a: try c.floats(0), aShape: try c.shape(0), b: try c.floats(1), bShape: try c.shape(1), y: y, outShape: c.out)
            return [c.result(y, b)]
        }),
    ]
}

enum ReduceKernels {
    static let table: [String: Kernel] = [
        "ReduceMean": Kernel(run: { c in
            let x = try c.shape(0)
            let axes = Set((try c.attrs.optionalInts("axes") ?? Array(0..<x.count)).map { $0 < 0 ? $0 + x.count : $0 })
            let (y, b) = c.allocate(c.count)
            Elementwise.reduceMean(try c.floats(0), shape: x, axes: axes, y: y, outCount: c.count)
            return [c.result(y, b)]
        }),
    ]
}
