import Foundation
import ZooCore

/// Kernels of the Quantization family (ZooCore `QuantizationOps`).
///
/// Integer tensors arrive as Int64. The sums of the integer products wrap to
/// int32, as ONNX's int32 accumulators do; requantization multiplies a sum
/// (in Double) by the f32 factor `s_a · s_b / s_y`, as onnx's reference does,
/// rounds half to even and saturates to the output type `to` (the runtime
/// itself only truncates, at the graph boundary). The convolutions are direct
/// N-D loops: clear rather than fast.
enum QuantizationKernels {
    static let table: [String: Kernel] = [
        "QuantizeLinear": Kernel(run: { c in [try quantize(c)] }),
        "DequantizeLinear": Kernel(run: { c in [try dequantize(c)] }),
        "DynamicQuantizeLinear": Kernel(run: { c in try dynamicQuantize(c) }),
        "QLinearMatMul": Kernel(run: { c in [try qlinearMatMul(c)] }),
        "MatMulInteger": Kernel(run: { c in
            let a = try centred(c, 0, zeroPoint: 2), b = try centred(c, 1, zeroPoint: 3)
            return [.ints(try matmul(c, a, try c.shape(0), b, try c.shape(1)), shape: c.out)]
        }),
        "QLinearConv": Kernel(run: { c in [try qlinearConv(c)] }),
        "ConvInteger": Kernel(run: { c in
            let x = try centred(c, 0, zeroPoint: 2, scalar: true), w = try weights(c, 1, zeroPoint: 3)
            return [.ints(try convolve(c, x, try c.shape(0), w, try c.shape(1), bias: nil), shape: c.out)]
        }),
    ]

    // MARK: Shared pieces

    /// The output type (`to`) and its range.
    static func outputRange(_ c: KernelCall) throws -> ClosedRange<Int64> {
        let to = try c.attrs.string("to")
        guard let t = DType(rawValue: to), let r = QuantizationOps.range(t) else { throw c.fail("to '\(to)' is not a quantized integer type") }
        return r
    }

    /// `v` (already rounded) plus `zero`, clamped to `r`. NaN gives the lower
    /// bound, as onnx's reference does (its int32 cast of NaN is INT_MIN).
    @inline(__always)
    static func saturate(_ v: Double, plus zero: Int64, _ r: ClosedRange<Int64>) -> Int64 {
        guard !v.isNaN else { return r.lowerBound }
        let s = v + Double(zero)
        if s <= Double(r.lowerBound) { return r.lowerBound }
        if s >= Double(r.upperBound) { return r.upperBound }
        return Int64(s)
    }

    /// Every element of input `i` as Float (scales: float of any width, or integers).
    static func floatValues(_ c: KernelCall, _ i: Int) throws -> [Float] {
        let x = try c.input(i)
        let v = MathKernels.Values(x)
        return (0..<x.shape.reduce(1, *)).map { v.float($0) }
    }

    /// Flat offsets into a tensor of shape `p` for each element of `target`
    /// (numpy broadcasting), or a typed error when `p` does not broadcast.
    static func offsets(_ c: KernelCall, _ p: [Int], to target: [Int], _ what: String) throws -> [Int] {
        let lead = target.count - p.count
        guard lead >= 0, p.indices.allSatisfy({ p[$0] == 1 || p[$0] == target[lead + $0] }) else {
            throw c.fail("\(what) \(p) does not broadcast to \(target)")
        }
        if p.reduce(1, *) == 1 { return Array(repeating: 0, count: target.reduce(1, *)) }
        return MathKernels.offsets(p, to: target)
    }

    /// Integer input `i` minus its zero point (input `z`, absent: 0), broadcast
    /// as numpy does; `scalar` requires a one-element zero point.
    static func centred(_ c: KernelCall, _ i: Int, zeroPoint z: Int, scalar: Bool = false) throws -> [Int64] {
        let x = try c.ints(i)
        guard c.has(z) else { return x }
        let zp = try c.ints(z), zs = try c.shape(z)
        if scalar, zp.count != 1 { throw c.fail("zero point (input \(z)) must hold one value, got shape \(zs)") }
        if zp.count == 1 { return x.map { $0 &- zp[0] } }
        let off = try offsets(c, zs, to: try c.shape(i), "zero point (input \(z))")
        return x.indices.map { x[$0] &- zp[off[$0]] }
    }

    /// Weights (input `i`, [M, C/g, k…]) minus a zero point per tensor or per output channel.
    static func weights(_ c: KernelCall, _ i: Int, zeroPoint z: Int) throws -> [Int64] {
        let w = try c.ints(i), shape = try c.shape(i)
        guard c.has(z) else { return w }
        let zp = try c.ints(z)
        if zp.count == 1 { return w.map { $0 &- zp[0] } }
        guard let m = shape.first, m > 0, zp.count == m, try c.shape(z).count == 1 else {
            throw c.fail("w zero point \(try c.shape(z)) must hold one value or one per output channel of \(shape)")
        }
        let per = w.count / m
        return w.indices.map { w[$0] &- zp[$0 / per] }
    }

    /// Maps each element of `x` (its flat index) to its scale / zero-point element.
    static func parameterIndex(_ c: KernelCall, x: [Int], scale: [Int], zeroPoint: [Int]?) throws -> (Int) -> Int {
        let axis = try c.attrs.int("axis"), block = try c.attrs.int("block_size")
        let g: QuantizationOps.Granularity
        do {
            g = try QuantizationOps.granularity(x: SymShape(concrete: x), scale: SymShape(concrete: scale), axis: axis, blockSize: block)
        } catch {
            throw c.fail(error.detail)
        }
        if let z = zeroPoint, !QuantizationOps.zeroPointFits(SymShape(concrete: z), scale: SymShape(concrete: scale)) {
            throw c.fail("zero point \(z) must have the scale's shape \(scale)")
        }
        if x.contains(0) { return { _ in 0 } }
        switch g {
        case .tensor:
            return { _ in 0 }
        case .axis(let a):
            let n = x[a], inner = max(1, x[(a + 1)...].reduce(1, *))
            return { ($0 / inner) % n }
        case .blocked(let a, let size):
            let n = x[a], blocks = scale[a], inner = max(1, x[(a + 1)...].reduce(1, *))
            return { i in
                let outer = i / (n * inner), j = (i / inner) % n
                return (outer * blocks + j / size) * inner + i % inner
            }
        }
    }

    // MARK: Quantize / Dequantize

    /// Rounds a Double to the division precision of QuantizeLinear.
    static func rounding(_ c: KernelCall) throws -> (Double) -> Double {
        switch try c.attrs.string("precision") {
        case "f64": return { $0 }
        case "f32": return { Double(Float($0)) }
        case "f16": return { Double(Float(Float16($0))) }
        case "bf16": return { Double(BFloat16.float(BFloat16.bits(Float($0)))) }
        case let p: throw c.fail("unknown precision '\(p)'")
        }
    }

    static func quantize(_ c: KernelCall) throws -> RValue {
        let x = try c.input(0), shape = x.shape
        let range = try outputRange(c), round = try rounding(c)
        let scale = try floatValues(c, 1)
        let zp = c.has(2) ? try c.ints(2) : nil
        let index = try parameterIndex(c, x: shape, scale: try c.shape(1), zeroPoint: c.has(2) ? try c.shape(2) : nil)
        let v = MathKernels.Values(x)
        let y = (0..<c.count).map { i -> Int64 in
            let k = index(i)
            let xi = v.isInt ? Double(v.int(i)) : Double(v.float(i))
            let q = round(round(xi) / round(Double(scale[k])))
            return saturate(q.rounded(.toNearestOrEven), plus: zp?[k] ?? 0, range)
        }
        return .ints(y, shape: c.out)
    }

    static func dequantize(_ c: KernelCall) throws -> RValue {
        let x = try c.ints(0), shape = try c.shape(0)
        let scale = try floatValues(c, 1)
        let zp = c.has(2) ? try c.ints(2) : nil
        let index = try parameterIndex(c, x: shape, scale: try c.shape(1), zeroPoint: c.has(2) ? try c.shape(2) : nil)
        let (y, b) = c.allocate(x.count)
        for i in x.indices {
            let k = index(i)
            y[i] = Float(x[i] &- (zp?[k] ?? 0)) * scale[k]
        }
        return c.result(y, b)
    }

    /// Scale and zero point from the range of x (widened to include 0), then
    /// QuantizeLinear to uint8, all in f32 as the ONNX function body computes it.
    /// An all-zero x (an empty range, where the formula divides 0 by 0) gets
    /// scale 1 and zero point 0, as onnxruntime does.
    static func dynamicQuantize(_ c: KernelCall) throws -> [RValue] {
        let n = c.count, x = try c.floats(0)
        var lo: Float = 0, hi: Float = 0
        for i in 0..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
        }
        let scale: Float = hi == lo ? 1 : (hi - lo) / 255
        let initial = 0 - lo / scale
        // A non-finite range (infinite input) has no meaningful zero point: 0.
        let zero = initial.isFinite ? min(max(initial, 0), 255).rounded(.toNearestOrEven) : 0
        let y = (0..<n).map { i -> Int64 in
            let q = (x[i] / scale).rounded(.toNearestOrEven) + zero
            return q.isNaN ? 0 : Int64(min(max(q, 0), 255))
        }
        // Only the outputs the node has (the importer drops unused trailing ones).
        var out: [RValue] = [.ints(y, shape: c.outShapes[0])]
        if c.node.outputs.count > 1 {
            let (s, b) = c.allocate(1)
            s[0] = scale
            out.append(c.result(s, b, output: 1))
        }
        if c.node.outputs.count > 2 { out.append(.ints([Int64(zero)], shape: c.outShapes[2])) }
        return out
    }

    // MARK: Matrix products

    /// Numpy broadcast of two concrete shapes (the shared rule); nil when they do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        ShapeInference.broadcast(SymShape(concrete: a), SymShape(concrete: b))?.concrete
    }

    /// numpy.matmul of integer tensors, each sum wrapped to int32.
    static func matmul(_ c: KernelCall, _ a: [Int64], _ aShape: [Int], _ b: [Int64], _ bShape: [Int]) throws -> [Int64] {
        guard !aShape.isEmpty, !bShape.isEmpty else { throw c.fail("matrix product of a scalar") }
        var sa = aShape, sb = bShape
        if sa.count == 1 { sa.insert(1, at: 0) }
        if sb.count == 1 { sb.append(1) }
        let m = sa[sa.count - 2], k = sa[sa.count - 1], n = sb[sb.count - 1]
        guard sb[sb.count - 2] == k else { throw c.fail("inner dimensions of \(aShape) × \(bShape) differ") }
        if c.count == 0 { return [] }
        let aBatch = Array(sa.dropLast(2)), bBatch = Array(sb.dropLast(2))
        guard let batch = broadcast(aBatch, bBatch) else { throw c.fail("batch dimensions of \(aShape) and \(bShape) do not broadcast") }
        let batches = batch.reduce(1, *)
        let (rows, o1) = batches.multipliedReportingOverflow(by: m), (total, o2) = rows.multipliedReportingOverflow(by: n)
        guard !o1, !o2, total == c.count else { throw c.fail("output \(c.out) does not fit \(aShape) × \(bShape)") }
        let offsets = GemmKernel.batchOffsets(aBatch, bBatch, to: batch)
        var y = [Int64](repeating: 0, count: total)
        for bi in 0..<batches {
            let (offA, offB) = offsets[bi]
            let baseA = offA * m * k, baseB = offB * k * n, baseY = bi * m * n
            for i in 0..<m {
                for p in 0..<k {
                    let av = a[baseA + i * k + p]
                    if av == 0 { continue }
                    let row = baseB + p * n, out = baseY + i * n
                    for j in 0..<n { y[out + j] &+= av &* b[row + j] }
                }
            }
        }
        return y.map { Int64(Int32(truncatingIfNeeded: $0)) }
    }

    static func qlinearMatMul(_ c: KernelCall) throws -> RValue {
        let range = try outputRange(c)
        let a = try centred(c, 0, zeroPoint: 2), b = try centred(c, 3, zeroPoint: 5)
        let acc = try matmul(c, a, try c.shape(0), b, try c.shape(3))
        // Scales and the output zero point broadcast to the output, as in onnx's reference.
        let sa = try floatValues(c, 1), sb = try floatValues(c, 4), sy = try floatValues(c, 6)
        let oa = try offsets(c, try c.shape(1), to: c.out, "a_scale"), ob = try offsets(c, try c.shape(4), to: c.out, "b_scale")
        let oy = try offsets(c, try c.shape(6), to: c.out, "y_scale")
        let zy = c.has(7) ? try c.ints(7) : [0]
        let oz = c.has(7) ? try offsets(c, try c.shape(7), to: c.out, "y_zero_point") : Array(repeating: 0, count: c.count)
        let y = acc.indices.map { i -> Int64 in
            let factor = sa[oa[i]] * sb[ob[i]] / sy[oy[i]]
            return saturate((Double(acc[i]) * Double(factor)).rounded(.toNearestOrEven), plus: zy[oz[i]], range)
        }
        return .ints(y, shape: c.out)
    }

    // MARK: Convolutions

    /// Direct N-D convolution of integer `x` [N, C, d…] by `w` [M, C/group, k…]
    /// (zero points already removed, so padding contributes 0), plus `bias`
    /// per output channel; each sum wrapped to int32.
    static func convolve(_ c: KernelCall, _ x: [Int64], _ xShape: [Int], _ w: [Int64], _ wShape: [Int], bias: [Int64]?) throws -> [Int64] {
        let r = xShape.count - 2, out = c.out
        guard r >= 1, wShape.count == r + 2, out.count == r + 2 else {
            throw c.fail("input \(xShape) and weight \(wShape) do not fit a convolution")
        }
        let geometry = try WindowGeometry.parameters(c.attrs, spatial: r)
        let kernel = Array(wShape[2...]), inSp = Array(xShape[2...]), outSp = Array(out[2...])
        let pads = WindowGeometry.pads(geometry, input: inSp, kernel: kernel)
        let group = try c.attrs.int("group")
        let batch = xShape[0], channels = xShape[1], m = wShape[0], cg = wShape[1]
        guard group >= 1, m % group == 0, channels % group == 0, channels / group == cg, out[0] == batch, out[1] == m else {
            throw c.fail("input \(xShape), weight \(wShape) and group \(group) are inconsistent")
        }
        if let bias, bias.count != m { throw c.fail("bias has \(bias.count) values for \(m) output channels") }
        if c.count == 0 { return [] }
        // No input channels: every output is its bias.
        if x.isEmpty || w.isEmpty {
            let plane = outSp.reduce(1, *)
            return (0..<c.count).map { Int64(Int32(truncatingIfNeeded: bias?[($0 / plane) % m] ?? 0)) }
        }
        let inPlane = inSp.reduce(1, *), outPlane = outSp.reduce(1, *), taps = kernel.reduce(1, *)
        // Per axis: the input index of output o and kernel tap t (o · k + t), or -1 in the padding.
        let position: [[Int]] = (0..<r).map { d in
            (0..<(outSp[d] * kernel[d])).map { idx in
                let p = (idx / kernel[d]) * geometry.strides[d] - pads[d] + (idx % kernel[d]) * geometry.dilations[d]
                return p >= 0 && p < inSp[d] ? p : -1
            }
        }
        let inStrides = StridedCopy.contiguousStrides(inSp)
        let perGroup = m / group
        var y = [Int64](repeating: 0, count: batch * m * outPlane)
        var coord = [Int](repeating: 0, count: r), source = [Int](repeating: -1, count: taps)
        for o in 0..<outPlane {
            var rem = o
            for d in stride(from: r - 1, through: 0, by: -1) { coord[d] = rem % outSp[d]; rem /= outSp[d] }
            // The input offset under every tap for this output position.
            for t in 0..<taps {
                var rt = t, off = 0
                for d in stride(from: r - 1, through: 0, by: -1) {
                    let p = position[d][coord[d] * kernel[d] + rt % kernel[d]]
                    rt /= kernel[d]
                    if p < 0 { off = -1; break }
                    off += p * inStrides[d]
                }
                source[t] = off
            }
            for nb in 0..<batch {
                for oc in 0..<m {
                    let g = oc / perGroup
                    var acc: Int64 = bias?[oc] ?? 0
                    for ci in 0..<cg {
                        let xBase = (nb * channels + g * cg + ci) * inPlane, wBase = (oc * cg + ci) * taps
                        for t in 0..<taps where source[t] >= 0 { acc &+= x[xBase + source[t]] &* w[wBase + t] }
                    }
                    y[(nb * m + oc) * outPlane + o] = Int64(Int32(truncatingIfNeeded: acc))
                }
            }
        }
        return y
    }

    static func qlinearConv(_ c: KernelCall) throws -> RValue {
        let range = try outputRange(c)
        let x = try centred(c, 0, zeroPoint: 2, scalar: true), w = try weights(c, 3, zeroPoint: 5)
        let wShape = try c.shape(3)
        let acc = try convolve(c, x, try c.shape(0), w, wShape, bias: c.has(8) ? try c.ints(8) : nil)
        let sx = try floatValues(c, 1), sw = try floatValues(c, 4), sy = try floatValues(c, 6)
        let zy = c.has(7) ? try c.ints(7) : [0]
        let m = wShape[0]
        guard sx.count == 1, sy.count == 1, zy.count == 1 else { throw c.fail("x_scale, y_scale and y_zero_point must hold one value each") }
        guard sw.count == 1 || sw.count == m else { throw c.fail("w_scale has \(sw.count) values for \(m) output channels") }
        let factors = (0..<m).map { sx[0] * sw[sw.count == 1 ? 0 : $0] / sy[0] }
        let plane = max(1, c.out[2...].reduce(1, *))
        let y = acc.indices.map { i in
            saturate((Double(acc[i]) * Double(factors[(i / plane) % m])).rounded(.toNearestOrEven), plus: zy[0], range)
        }
        return .ints(y, shape: c.out)
    }
}
