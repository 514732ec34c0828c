import Foundation
import ZooCore

/// Kernels of the Resize family (ZooCore `ResizeOps`).
///
/// Resampling is separable, so each resized axis is one pass over the data:
/// every output position along the axis is a weighted sum of a few input
/// positions (its taps), computed once per axis in Double as onnx's
/// reference does, then applied to all rows in f32. Integer tensors take the
/// nearest mode only (a copy of the chosen element).
enum ResizeKernels {
    /// How one axis is resampled: `taps` (index, weight) pairs per output
    /// position, indices already clamped to the axis (edge padding), and the
    /// positions outside a tf_crop_and_resize box, which take the extrapolation value.
    struct AxisPlan {
        let axis: Int
        let count: Int
        let taps: Int
        var index: [Int]
        var weight: [Float]
        var outside: [Bool]
    }

    static let table: [String: Kernel] = ["Resize": Kernel(run: { c in try resize(c) })]

    static func resize(_ c: KernelCall) throws -> [RValue] {
        let x = try c.input(0)
        let inShape = x.shape, out = c.out, rank = inShape.count
        guard out.count == rank else { throw c.fail("output rank \(out.count) differs from input rank \(rank)") }
        let p = try ResizeOps.parameters(c.attrs, rank: rank)
        let k = p.axes.count

        // Run-time inputs; one without elements is absent.
        func floatInput(_ i: Int) throws -> [Float]? {
            guard c.has(i) else { return nil }
            let n = try c.shape(i).reduce(1, *)
            guard n > 0 else { return nil }
            return Array(UnsafeBufferPointer(start: try c.floats(i), count: n))
        }
        let scales = try p.scales ?? floatInput(2)
        let roi = try p.roi ?? floatInput(1)
        var sizes = p.sizes
        if sizes == nil, c.has(3), try c.shape(3).reduce(1, *) > 0 { sizes = try c.ints(3).map { Int($0) } }
        if let scales {
            guard scales.count == k, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw c.fail("scales \(scales) must be \(k) positive values")
            }
        }
        if let sizes, sizes.count != k { throw c.fail("\(sizes.count) sizes for \(k) axes") }
        guard scales != nil || sizes != nil else { throw c.fail("needs scales or sizes") }
        let crop = p.coordinates == "tf_crop_and_resize"
        if crop { guard let roi, roi.count == 2 * k else { throw c.fail("tf_crop_and_resize needs \(2 * k) roi values") } }
        for a in 0..<rank where !p.axes.contains(a) && out[a] != inShape[a] {
            throw c.fail("axis \(a) is not resized but its size changes from \(inShape[a]) to \(out[a])")
        }

        if c.count == 0 {
            if x.isInt { return [.ints([], shape: out)] }
            let (y, b) = c.allocate(0)
            return [c.result(y, b)]
        }
        // keep_aspect_ratio_policy: one scale for every listed axis (sizes only).
        var common: Double?
        if scales == nil, let sizes { common = ResizeOps.policyScale(p.policy, sizes: sizes, inputs: p.axes.map { inShape[$0] }) }

        var plans: [AxisPlan] = []
        for (j, a) in p.axes.enumerated() {
            let nIn = inShape[a], nOut = out[a]
            guard nIn > 0 else { throw c.fail("cannot resize axis \(a) of size 0 to \(nOut)") }
            let scale = scales.map { Double($0[j]) } ?? common ?? Double(nOut) / Double(nIn)
            let box: (Float, Float) = crop ? (roi![j], roi![j + k]) : (0, 1)
            // Identity along this axis (as onnx's reference skips it).
            if abs(scale - 1) <= 1e-9, nOut == nIn, box == (0, 1) { continue }
            plans.append(try plan(axis: a, nIn: nIn, nOut: nOut, scale: scale, roi: box, p, c))
        }

        switch x {
        case .floats(let src, _, _):
            let (y, yb) = c.allocate(c.count)
            if plans.isEmpty {
                y.update(from: src, count: c.count)
                return [c.result(y, yb)]
            }
            var shape = inShape
            var cur = UnsafePointer(src)
            var scratch: [Buffer] = []
            defer { for b in scratch { c.giveBack(b) } }
            for (i, plan) in plans.enumerated() {
                var next = shape
                next[plan.axis] = plan.count
                let dst: UnsafeMutablePointer<Float>
                if i == plans.count - 1 {
                    dst = y
                } else {
                    let b = c.scratch(next.reduce(1, *))
                    scratch.append(b)
                    dst = b.pointer
                }
                floatPass(cur, dst, shape: shape, plan, fill: p.extrapolation, threads: c.threads)
                cur = UnsafePointer(dst)
                shape = next
            }
            return [c.result(y, yb)]
        case .ints(var v, _):
            guard p.mode == "nearest" else { throw c.unsupported("\(p.mode) Resize of an integer tensor") }
            let e = Double(p.extrapolation)
            let fill = e.isNaN ? 0 : Int64(max(min(e.rounded(.towardZero), 9.2e18), -9.2e18))
            var shape = inShape
            for plan in plans {
                v = intPass(v, shape: shape, plan, fill: fill)
                shape[plan.axis] = plan.count
            }
            return [.ints(v, shape: out)]
        }
    }

    /// The taps of one axis of `nIn` → `nOut` positions at `scale` (ONNX's
    /// coordinate transforms; nearest picks one pixel, linear and cubic weigh
    /// 2 or 4, or with antialias the filter stretched by 1/scale when shrinking).
    static func plan(axis: Int, nIn: Int, nOut: Int, scale: Double, roi: (Float, Float),
                     _ p: ResizeOps.Parameters, _ c: KernelCall) throws -> AxisPlan {
        let inW = Double(nIn), outW = scale * inW
        func source(_ o: Int) -> Double {
            let y = Double(o)
            switch p.coordinates {
            // The reference's fractional output width, not the integer size (what onnx's expected outputs use).
            case "align_corners": return outW == 1 ? 0 : y * (inW - 1) / (outW - 1)
            case "asymmetric": return y / scale
            case "tf_half_pixel_for_nn": return (y + 0.5) / scale
            // The box's width and start are f32 products, as in onnx's reference and onnxruntime
            // (it decides which edge positions extrapolate).
            case "tf_crop_and_resize":
                let (s, e) = roi, last = Float(nIn - 1), width = e - s
                let start = Double(s * last)
                return (outW == 1 ? Double(width * last / 2) : y * Double(width) * (inW - 1) / (outW - 1)) + start
            case "pytorch_half_pixel": return nOut > 1 ? (y + 0.5) / scale - 0.5 : 0
            case "half_pixel_symmetric":
                let offset = inW / 2 * (1 - Double(nOut) / outW)
                return offset + (y + 0.5) / scale - 0.5
            default: return (y + 0.5) / scale - 0.5
            }
        }
        // Filter radius (input pixels at scale 1) and stretch; taps = 2⌈radius/stretch⌉.
        let radius: Double = p.mode == "linear" ? 1 : 2
        let stretch = p.antialias ? min(scale, 1) : 1
        var taps = 1, first = 0
        if p.mode != "nearest" {
            guard radius / stretch <= Double(1 << 24) else { throw c.fail("scale \(scale) is too small to antialias") }
            first = Int((-radius / stretch).rounded(.down)) + 1
            taps = 2 - 2 * first
        }
        guard taps <= (1 << 28) / max(nOut, 1) else {
            throw c.fail("antialias filter of \(taps) taps over \(nOut) outputs is too large")
        }
        var plan = AxisPlan(axis: axis, count: nOut, taps: taps, index: [Int](repeating: 0, count: taps * nOut),
                            weight: [Float](repeating: 0, count: taps * nOut), outside: [Bool](repeating: false, count: nOut))
        let a = p.cubicA
        func filter(_ d: Double) -> Double {
            if p.mode == "linear" { return max(0, 1 - d) }
            if d <= 1 { return ((a + 2) * d - (a + 3)) * d * d + 1 }
            if d < 2 { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
            return 0
        }
        func clamp(_ i: Int) -> Int { min(max(i, 0), nIn - 1) }
        var w = [Double](repeating: 0, count: taps)
        for o in 0..<nOut {
            let xo = source(o)
            guard xo.isFinite, abs(xo) < 1e15 else { throw c.fail("source coordinate \(xo) of output \(o) on axis \(axis) is out of range") }
            if p.coordinates == "tf_crop_and_resize" && (xo < 0 || xo > inW - 1) {
                plan.outside[o] = true
                continue
            }
            let f = xo.rounded(.down), base = Int(f)
            if p.mode == "nearest" {
                let r = xo - f
                var up = false
                if r > 0 {
                    switch p.nearest {
                    case "round_prefer_ceil": up = r >= 0.5
                    case "floor": up = false
                    case "ceil": up = true
                    case "simple": up = scale < 1
                    default: up = r > 0.5
                    }
                }
                plan.index[o] = clamp(base + (up ? 1 : 0))
                plan.weight[o] = 1
                continue
            }
            for t in 0..<taps { w[t] = filter(abs(Double(base + first + t) - xo) * stretch) }
            if p.antialias {
                let sum = w.reduce(0, +)
                if sum != 0 { for t in 0..<taps { w[t] /= sum } }
            }
            if p.excludeOutside {
                for t in 0..<taps where !(0..<nIn).contains(base + first + t) { w[t] = 0 }
                let sum = w.reduce(0, +)
                if sum != 0 { for t in 0..<taps { w[t] /= sum } }
            }
            for t in 0..<taps {
                plan.index[o * taps + t] = clamp(base + first + t)
                plan.weight[o * taps + t] = Float(w[t])
            }
        }
        return plan
    }

    /// One axis of floats: `src` of `shape` into `dst` (the axis resized to `plan.count`).
    static func floatPass(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: [Int], _ plan: AxisPlan,
                          fill: Float, threads: Int) {
        let a = plan.axis, nIn = shape[a], nOut = plan.count, taps = plan.taps
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        plan.index.withUnsafeBufferPointer { idx in
            plan.weight.withUnsafeBufferPointer { wt in
                parallelFor(outer * nOut, threads: threads, grain: max(1, 16384 / max(1, inner * taps))) { rows in
                    for row in rows {
                        let o = row % nOut
                        let d = dst + row * inner
                        if plan.outside[o] { d.update(repeating: fill, count: inner); continue }
                        let s0 = src + (row / nOut) * nIn * inner
                        if taps == 1 {
                            d.update(from: s0 + idx[o] * inner, count: inner)
                            continue
                        }
                        d.update(repeating: 0, count: inner)
                        for t in 0..<taps {
                            let w = wt[o * taps + t]
                            if w == 0 { continue }
                            let s = s0 + idx[o * taps + t] * inner
                            for i in 0..<inner { d[i] += w * s[i] }
                        }
                    }
                }
            }
        }
    }

    /// One axis of integers (nearest: each output position copies one input position).
    static func intPass(_ src: [Int64], shape: [Int], _ plan: AxisPlan, fill: Int64) -> [Int64] {
        let a = plan.axis, nIn = shape[a], nOut = plan.count
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        var out = [Int64](repeating: fill, count: outer * nOut * inner)
        for b in 0..<outer {
            for o in 0..<nOut where !plan.outside[o] {
                let s = (b * nIn + plan.index[o]) * inner, d = (b * nOut + o) * inner
                for i in 0..<inner { out[d + i] = src[s + i] }
            }
        }
        return out
    }
}
