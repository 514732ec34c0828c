import Foundation
import ZooCore

/// Kernels of the Conv, Pool, Normalization, MatMul and Reduce families.
enum ConvKernels {
    static let table: [String: Kernel] = [
        "Conv": Kernel(run: { c in
            let x = try c.shape(0), w = try c.shape(1), out = c.out
            // Other spatial ranks take the general N-D kernel.
            guard x.count == 4 || x.count == 3 else { return try ConvNDKernels.conv(c) }
            let is1D = x.count == 3
            let k = Array(w[2...])
            let geometry = try WindowGeometry.parameters(c.attrs, spatial: k.count)
            let (s, d) = (geometry.strides, geometry.dilations)
            let p = WindowGeometry.pads(geometry, input: Array(x[2...]), kernel: k)
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
            // Depthwise sizes beyond the C kernel's 32-bit geometry take the general N-D kernel.
            if params.isDepthwise && ConvKernel.depthwiseGeometry(params) == nil { return try ConvNDKernels.conv(c) }
            let (y, b) = c.allocate(c.count)
            var scratch: Buffer?
            let need = ConvKernel.scratchFloats(params, threads: c.threads)
            if need > 0 { scratch = c.scratch(need) }
            // Constant filters are packed once for the GEMM kernel (run-time filters are not).
            let constantFilters = c.session.constants[c.node.inputs[1]] != nil
            let packed = !constantFilters || params.isDepthwise ? nil : c.session.packedFilters(step: c.index, weights: try c.floats(1), params: params)
            ConvKernel.run(params, x: try c.floats(0), w: try c.floats(1), bias: bias, residual: residual, y: y, scratch: scratch?.pointer,
                           threads: c.threads, packed: packed)
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
            // Other spatial ranks, MaxPool's Indices output and integer MaxPool take the general N-D kernel.
            let indices = c.node.outputs.count > 1 && !c.node.outputs[1].isEmpty
            guard x.count == 4 || x.count == 3, !indices, !(try c.input(0).isInt) else {
                return try ConvNDKernels.pool(c, isMax ? .max : .average)
            }
            let is1D = x.count == 3, r = x.count - 2
            let k = try c.attrs.ints("kernel_shape")
            let geometry = try WindowGeometry.parameters(c.attrs, spatial: r)
            let (s, d) = (geometry.strides, geometry.dilations)
            let p = WindowGeometry.pads(geometry, input: Array(x[2...]), kernel: k)
            let params = PoolParams(
                n: x[0], c: x[1], h: is1D ? 1 : x[2], w: x.last!, kh: is1D ? 1 : k[0], kw: k.last!,
                oh: is1D ? 1 : out[2], ow: out.last!, strideH: is1D ? 1 : s[0], strideW: s.last!,
                dilH: is1D ? 1 : d[0], dilW: d.last!, padTop: is1D ? 0 : p[0], padLeft: p[r - 1],
                padBottom: is1D ? 0 : p[r], padRight: p[2 * r - 1],
                countIncludePad: isMax ? false : try c.attrs.int("count_include_pad") != 0)
            guard let g = PoolKernel.geometry(params) else { return try ConvNDKernels.pool(c, isMax ? .max : .average) }
            let (y, b) = c.allocate(c.count)
            if isMax {
                PoolKernel.maxPool(params, g, x: try c.floats(0), y: y, threads: c.threads)
            } else {
                PoolKernel.averagePool(params, g, x: try c.floats(0), y: y, threads: c.threads)
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
            Elementwise.channelAffine(try c.floats(0), y, n: x[0], c: ch, plane: x.dropFirst(2).reduce(1, *), scale: scale, shift: shift,
                                      activation: c.step.activation, threads: c.threads)
            return [c.result(y, b)]
        }, takesActivation: true),
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
    /// One reduction over the axes of `axes` (float or integer data), accumulated in Double.
    static func reduce(_ name: String) -> Kernel {
        Kernel(run: { c in
            let x = try c.input(0)
            let shape = x.shape
            var raw = try c.attrs.optionalInts("axes") ?? (c.has(1) ? try c.ints(1).map { Int($0) } : nil)
            if raw?.isEmpty == true {
                if try c.attrs.int("noop_with_empty_axes") != 0 { return [c.view(x)] }
                raw = nil
            }
            let axes = Set((raw ?? Array(0..<shape.count)).map { $0 < 0 ? $0 + shape.count : $0 })
            if name == "ReduceMean", case .floats(let p, _, _) = x {
                let (y, b) = c.allocate(c.count)
                Elementwise.reduceMean(p, shape: shape, axes: axes, y: y, outCount: c.count)
                return [c.result(y, b)]
            }
            // Output index of every input element: its index with the reduced axes removed.
            let outShape = shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            let outStrides = StridedCopy.contiguousStrides(outShape), inStrides = StridedCopy.contiguousStrides(shape)
            let n = c.count, total = shape.reduce(1, *)
            let initial: Double
            switch name {
            case "ReduceProd": initial = 1
            case "ReduceMax", "ReduceLogSumExp": initial = -.infinity
            case "ReduceMin": initial = .infinity
            default: initial = 0
            }
            var acc = [Double](repeating: initial, count: n)
            var count = [Int](repeating: 0, count: n)
            let values = MathKernels.Values(x)
            // log-sum-exp is taken around each output's maximum.
            var maxima = [Double](repeating: -.infinity, count: n)
            func outIndex(_ i: Int) -> Int {
                var rem = i, o = 0
                for d in shape.indices {
                    let q = rem / max(inStrides[d], 1)
                    rem -= q * inStrides[d]
                    if !axes.contains(d) { o += q * outStrides[d] }
                }
                return o
            }
            let targets = (0..<total).map(outIndex)
            if name == "ReduceLogSumExp" { for i in 0..<total { maxima[targets[i]] = max(maxima[targets[i]], Double(values.float(i))) } }
            for i in 0..<total {
                let o = targets[i]
                let v = values.isInt ? Double(values.int(i)) : Double(values.float(i))
                switch name {
                case "ReduceSum", "ReduceMean", "ReduceLogSum": acc[o] += v
                case "ReduceProd": acc[o] *= v
                case "ReduceMax": acc[o] = v.isNaN || acc[o].isNaN ? .nan : max(acc[o], v)
                case "ReduceMin": acc[o] = v.isNaN || acc[o].isNaN ? .nan : min(acc[o], v)
                case "ReduceSumSquare", "ReduceL2": acc[o] += v * v
                case "ReduceL1": acc[o] += abs(v)
                default: acc[o] = (acc[o] == -.infinity ? 0 : acc[o]) + Foundation.exp(v - maxima[o])
                }
                count[o] += 1
            }
            for o in 0..<n {
                switch name {
                case "ReduceMean": acc[o] /= Double(count[o])
                case "ReduceL2": acc[o] = acc[o].squareRoot()
                case "ReduceLogSum": acc[o] = Foundation.log(acc[o])
                case "ReduceLogSumExp": acc[o] = count[o] == 0 ? -.infinity : Foundation.log(acc[o]) + maxima[o]
                default: break
                }
            }
            if values.isInt {
                return [.ints(acc.map { $0.isFinite ? Int64(max(min($0, 9.2e18), -9.2e18)) : ($0 > 0 ? .max : .min) }, shape: c.out)]
            }
            let (y, b) = c.allocate(n)
            for o in 0..<n { y[o] = Float(acc[o]) }
            return [c.result(y, b)]
        })
    }

    static let table: [String: Kernel] = Dictionary(uniqueKeysWithValues: ReduceOps.names.map { ($0, reduce($0)) })
}
