import Foundation
import ZooCore

/// Kernels of the Sampling family (ZooCore `SamplingOps`).
///
/// Coordinates are computed in f32 with the operation order of onnx's
/// reference (GridSample's nearest mode rounds halves to even, so the order
/// decides ties); reflections in f64 as the reference does. A sample is a
/// weighted sum of a few taps, computed once per output position and applied
/// to every channel.
enum SamplingKernels {
    static let table: [String: Kernel] = [
        "GridSample": Kernel(run: { c in [try gridSample(c)] }),
        "AffineGrid": Kernel(run: { c in [try affineGrid(c)] }),
        "RoiAlign": Kernel(run: { c in [try roiAlign(c)] }),
        "NonMaxSuppression": Kernel(run: { c in [try nonMaxSuppression(c)] }),
        "Col2Im": Kernel(run: { c in [try col2Im(c)] }),
        "CenterCropPad": Kernel(run: { c in [try centerCropPad(c)] }),
    ]

    /// An empty float or integer output of shape `c.out`.
    static func empty(_ c: KernelCall, int: Bool) -> RValue {
        if int { return .ints([], shape: c.out) }
        let (y, b) = c.allocate(0)
        return c.result(y, b)
    }

    // MARK: GridSample

    /// `x` reflected between `lo` and `hi` until inside (GridSample's reflection padding).
    static func reflect(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
        let span = hi - lo
        // One pixel with align_corners: every position reflects onto it.
        guard span > 0 else { return lo }
        guard x < lo || x > hi else { return x }
        let dx = x < lo ? lo - x : x - hi
        let folds = (dx / span).rounded(.towardZero), rest = dx - folds * span
        let even = folds.truncatingRemainder(dividingBy: 2) == 0
        return (x < lo) == even ? lo + rest : hi - rest
    }

    /// Keys' cubic convolution weights (a = −0.75) of the taps at −1, 0, 1, 2 around fraction `t`.
    static func cubicWeights(_ t: Float) -> [Float] {
        let a: Float = -0.75, x = abs(t)
        func far(_ d: Float) -> Float { ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
        func near(_ d: Float) -> Float { ((a + 2) * d - (a + 3)) * d * d + 1 }
        return [far(x + 1), near(x), near(1 - x), far(2 - x)]
    }

    static func gridSample(_ c: KernelCall) throws -> RValue {
        let x = try c.input(0), xs = x.shape, gs = try c.shape(1)
        let r = xs.count - 2
        guard r >= 1, gs.count == r + 2, gs[r + 1] == r, gs[0] == xs[0] else { throw c.fail("input \(xs) and grid \(gs) do not fit") }
        let mode = try SamplingOps.choice(c.attrs, "mode", SamplingOps.gridModes)
        let padding = try SamplingOps.choice(c.attrs, "padding_mode", SamplingOps.paddingModes)
        let align = try c.attrs.int("align_corners") != 0
        let v = MathKernels.Values(x)
        guard !v.isInt || mode == "nearest" else { throw c.unsupported("\(mode) GridSample of an integer tensor") }
        if c.count == 0 { return empty(c, int: v.isInt) }
        let grid = try c.floats(1)
        let dims = Array(xs[2...]), strides = StridedCopy.contiguousStrides(dims)
        guard dims.allSatisfy({ $0 > 0 }) else { throw c.fail("cannot sample an empty image \(xs)") }
        let batch = xs[0], channels = xs[1], plane = dims.reduce(1, *), points = gs[1...r].reduce(1, *)
        let perAxis = mode == "nearest" ? 1 : mode == "linear" ? 2 : 4
        var taps = 1
        for _ in 0..<r {
            taps *= perAxis
            guard taps <= 4096 else { throw c.unsupported("\(mode) GridSample over \(r) spatial axes (\(perAxis)^\(r) taps)") }
        }

        // Per output point: `taps` offsets into the image (−1: a zero) and weights; NaN coordinates give NaN.
        var offsets = [Int](repeating: -1, count: points * taps), weights = [Float](repeating: 0, count: points * taps)
        var nanPoint = [Bool](repeating: false, count: points)
        // Taps of the current point along each axis, `perAxis` per axis.
        var axisIndex = [Int](repeating: 0, count: r * perAxis), axisWeight = [Float](repeating: 0, count: r * perAxis)
        var pick = [Int](repeating: 0, count: r)
        func pixel(_ i: Int, _ d: Int, _ lo: Double, _ hi: Double) -> Int {
            switch padding {
            case "zeros": return i >= 0 && i < d ? i : -1
            case "border": return min(max(i, 0), d - 1)
            default: return min(max(Int(reflect(Double(i), lo, hi)), 0), d - 1)
            }
        }
        func prepare(_ p: Int, _ g: UnsafeMutablePointer<Float>) {
            nanPoint[p] = false
            for i in 0..<r {
                let d = dims[i], at = i * perAxis
                let lo: Double = align ? 0 : -0.5, hi: Double = align ? Double(d - 1) : Double(d) - 0.5
                // grid lists the innermost axis first.
                let n = g[r - 1 - i]
                var f = align ? (n + 1) / 2 * Float(d - 1) : ((n + 1) * Float(d) - 1) / 2
                if mode == "nearest" { f = f.rounded(.toNearestOrEven) }
                guard !f.isNaN else {
                    nanPoint[p] = true
                    for t in (p * taps)..<((p + 1) * taps) { offsets[t] = -1; weights[t] = 0 }
                    return
                }
                if Double(f) < lo || Double(f) > hi {
                    switch padding {
                    case "border": f = min(max(f, 0), Float(d - 1))
                    case "reflection": f = f.isFinite ? Float(reflect(Double(f), lo, hi)) : Float(lo)
                    default: break
                    }
                }
                // With zero padding every tap this far out reads a zero: clamp so indices stay small.
                f = min(max(f, -8), Float(d + 8))
                switch mode {
                case "nearest":
                    axisIndex[at] = pixel(Int(f), d, lo, hi)
                    axisWeight[at] = 1
                case "linear":
                    let base = f.rounded(.down), t = abs(f - base), k = Int(base)
                    axisIndex[at] = pixel(k, d, lo, hi)
                    axisIndex[at + 1] = pixel(k + 1, d, lo, hi)
                    axisWeight[at] = 1 - t
                    axisWeight[at + 1] = t
                default:
                    let base = f.rounded(.down), k = Int(base)
                    let w = cubicWeights(f - base)
                    for j in 0..<4 {
                        axisIndex[at + j] = pixel(k + j - 1, d, lo, hi)
                        axisWeight[at + j] = w[j]
                    }
                }
            }
            // Tensor product of the per-axis taps; a tap outside on any axis reads a zero.
            for i in 0..<r { pick[i] = 0 }
            for t in 0..<taps {
                var off = 0, w: Float = 1
                for i in 0..<r {
                    let k = axisIndex[i * perAxis + pick[i]]
                    if k < 0 { off = -1; break }
                    off += k * strides[i]
                    w *= axisWeight[i * perAxis + pick[i]]
                }
                offsets[p * taps + t] = off
                weights[p * taps + t] = off < 0 ? 0 : w
                var i = r - 1
                while i >= 0 {
                    pick[i] += 1
                    if pick[i] < perAxis { break }
                    pick[i] = 0
                    i -= 1
                }
            }
        }

        var floatOut: (UnsafeMutablePointer<Float>, Buffer)?
        var intOut = v.isInt ? [Int64](repeating: 0, count: c.count) : []
        if !v.isInt { floatOut = c.allocate(c.count) }
        for b in 0..<batch {
            for p in 0..<points { prepare(p, grid + (b * points + p) * r) }
            if case .i(let src) = v {
                for ch in 0..<channels {
                    let sBase = (b * channels + ch) * plane, dBase = (b * channels + ch) * points
                    for p in 0..<points where offsets[p] >= 0 { intOut[dBase + p] = src[sBase + offsets[p]] }
                }
                continue
            }
            guard case .f(let src) = v, let y = floatOut?.0 else { continue }
            offsets.withUnsafeBufferPointer { off in
                weights.withUnsafeBufferPointer { wt in
                    nanPoint.withUnsafeBufferPointer { nan in
                        parallelFor(channels, threads: c.threads, grain: max(1, 4096 / max(1, points * taps))) { range in
                            for ch in range {
                                let s = src + (b * channels + ch) * plane, d = y + (b * channels + ch) * points
                                for p in 0..<points {
                                    if nan[p] { d[p] = .nan; continue }
                                    var acc: Float = 0
                                    for t in (p * taps)..<((p + 1) * taps) where off[t] >= 0 { acc += wt[t] * s[off[t]] }
                                    d[p] = acc
                                }
                            }
                        }
                    }
                }
            }
        }
        if let out = floatOut { return c.result(out.0, out.1) }
        return .ints(intOut, shape: c.out)
    }

    // MARK: AffineGrid

    static func affineGrid(_ c: KernelCall) throws -> RValue {
        let ts = try c.shape(0)
        guard ts.count == 3, ts[1] == 2 || ts[1] == 3, ts[2] == ts[1] + 1 else { throw c.fail("theta \(ts) must be [N, 2, 3] or [N, 3, 4]") }
        let r = ts[1], n = ts[0]
        guard let size = try c.parameter("size", input: 1), size.count == r + 2 else { throw c.fail("size must hold \(r + 2) values") }
        let dims = Array(size[2...])
        guard c.out == [n] + dims + [r] else { throw c.fail("output \(c.out) does not match theta \(ts) and size \(size)") }
        let (y, b) = c.allocate(c.count)
        if c.count == 0 { return c.result(y, b) }
        let theta = try c.floats(0), align = try c.attrs.int("align_corners") != 0
        // Positions in [−1, 1] along each axis: pixel centres, or the corners' centres with align_corners.
        let axes: [[Double]] = dims.map { d in
            if align {
                let step = 2 / Double(d - 1)
                return (0..<d).map { d > 1 ? -1 + Double($0) * step : -1 }
            }
            let step = 2 / Double(d)
            return (0..<d).map { -1 + step / 2 + Double($0) * step }
        }
        let points = dims.reduce(1, *), strides = StridedCopy.contiguousStrides(dims)
        var homogeneous = [Double](repeating: 1, count: r + 1)
        for p in 0..<points {
            // (x, y[, z], 1): x runs along the innermost axis.
            for j in 0..<r { homogeneous[j] = axes[r - 1 - j][(p / strides[r - 1 - j]) % dims[r - 1 - j]] }
            for m in 0..<n {
                let t = theta + m * r * (r + 1), o = y + (m * points + p) * r
                for k in 0..<r {
                    var acc = 0.0
                    for j in 0...r { acc += Double(t[k * (r + 1) + j]) * homogeneous[j] }
                    o[k] = Float(acc)
                }
            }
        }
        return c.result(y, b)
    }

    // MARK: RoiAlign

    static func roiAlign(_ c: KernelCall) throws -> RValue {
        let xs = try c.shape(0), rs = try c.shape(1), batches = try c.ints(2)
        guard xs.count == 4, rs.count == 2, rs[1] == 4, batches.count == rs[0] else {
            throw c.fail("X \(xs), rois \(rs) and batch_indices [\(batches.count)] do not fit")
        }
        let (y, buf) = c.allocate(c.count)
        if c.count == 0 { return c.result(y, buf) }
        let x = try c.floats(0), rois = try c.floats(1)
        let channels = xs[1], height = xs[2], width = xs[3], oh = c.out[2], ow = c.out[3]
        guard height > 0, width > 0 else { throw c.fail("cannot pool an empty feature map \(xs)") }
        let isMax = try SamplingOps.choice(c.attrs, "mode", SamplingOps.roiModes) == "max"
        let halfPixel = try SamplingOps.choice(c.attrs, "coordinate_transformation_mode", SamplingOps.roiCoordinateModes) == "half_pixel"
        let scale = try c.attrs.float("spatial_scale"), ratio = try c.attrs.int("sampling_ratio")
        struct Sample { var pos: (Int, Int, Int, Int) = (0, 0, 0, 0); var w: (Float, Float, Float, Float) = (0, 0, 0, 0) }

        for roi in 0..<rs[0] {
            let bi = Int(batches[roi])
            guard bi >= 0, bi < xs[0] else { throw c.fail("batch index \(bi) out of range for \(xs[0]) images") }
            let shift: Float = halfPixel ? 0.5 : 0
            let box = rois + roi * 4
            // As onnxruntime: a non-finite box is an error rather than a silent zero.
            guard (0..<4).allSatisfy({ box[$0].isFinite }) else { throw c.fail("roi \(roi) has non-finite coordinates") }
            let sw = box[0] * scale - shift, sh = box[1] * scale - shift
            var rw = box[2] * scale - shift - sw, rh = box[3] * scale - shift - sh
            // output_half_pixel (RoiAlign-10) forces malformed rois to 1×1.
            if !halfPixel { rw = max(rw, 1); rh = max(rh, 1) }
            let bh = rh / Float(oh), bw = rw / Float(ow)
            func grid(_ extent: Float, _ bins: Int) throws -> Int {
                if ratio > 0 { return ratio }
                let g = (extent / Float(bins)).rounded(.up)
                guard g.isFinite, g <= 4096 else { throw c.fail("roi \(roi) needs \(g) adaptive samples per bin") }
                return max(0, Int(g))
            }
            let gh = try grid(rh, oh), gw = try grid(rw, ow)
            let count = Float(max(gh * gw, 1))
            guard oh * ow * gh * gw <= 1 << 24 else { throw c.fail("roi \(roi) needs \(oh * ow * gh * gw) samples") }

            // Bilinear taps of every sample, shared by all channels; samples off the map read zeros.
            var samples = [Sample](repeating: Sample(), count: oh * ow * gh * gw)
            var k = 0
            for ph in 0..<oh {
                for pw in 0..<ow {
                    for iy in 0..<gh {
                        let yy = sh + Float(ph) * bh + (Float(iy) + 0.5) * bh / Float(gh)
                        for ix in 0..<gw {
                            defer { k += 1 }
                            var yv = yy, xv = sw + Float(pw) * bw + (Float(ix) + 0.5) * bw / Float(gw)
                            guard yv.isFinite, xv.isFinite, yv >= -1, yv <= Float(height), xv >= -1, xv <= Float(width) else { continue }
                            yv = max(yv, 0)
                            xv = max(xv, 0)
                            var yl = Int(yv), xl = Int(xv), yh = yl + 1, xh = xl + 1
                            if yl >= height - 1 { yl = height - 1; yh = yl; yv = Float(yl) }
                            if xl >= width - 1 { xl = width - 1; xh = xl; xv = Float(xl) }
                            let ly = yv - Float(yl), lx = xv - Float(xl), hy = 1 - ly, hx = 1 - lx
                            samples[k] = Sample(pos: (yl * width + xl, yl * width + xh, yh * width + xl, yh * width + xh),
                                                w: (hy * hx, hy * lx, ly * hx, ly * lx))
                        }
                    }
                }
            }
            let per = gh * gw
            samples.withUnsafeBufferPointer { sp in
                parallelFor(channels, threads: c.threads, grain: max(1, 4096 / max(1, oh * ow * per))) { range in
                    for ch in range {
                        let src = x + (bi * channels + ch) * height * width
                        let dst = y + (roi * channels + ch) * oh * ow
                        for bin in 0..<(oh * ow) {
                            var acc: Float = 0
                            for s in sp[(bin * per)..<((bin + 1) * per)].indices {
                                let t = sp[s]
                                if isMax {
                                    // The largest weighted corner (as onnx's reference and onnxruntime define max mode).
                                    let v = max(t.w.0 * src[t.pos.0], t.w.1 * src[t.pos.1], t.w.2 * src[t.pos.2], t.w.3 * src[t.pos.3])
                                    acc = s == bin * per ? v : max(acc, v)
                                } else {
                                    acc += t.w.0 * src[t.pos.0] + t.w.1 * src[t.pos.1] + t.w.2 * src[t.pos.2] + t.w.3 * src[t.pos.3]
                                }
                            }
                            dst[bin] = isMax ? acc : acc / count
                        }
                    }
                }
            }
        }
        return c.result(y, buf)
    }

    // MARK: NonMaxSuppression

    /// Whether boxes `a` and `b` (4 floats each) overlap by an IoU above `threshold`.
    static func suppresses(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, center: Bool, threshold: Float) -> Bool {
        // Corners as (min, max) per axis: [y1, x1, y2, x2] in any corner order, or [xc, yc, w, h].
        func span(_ p: UnsafePointer<Float>, _ axis: Int) -> (Float, Float) {
            if center { return (p[axis] - p[axis + 2] / 2, p[axis] + p[axis + 2] / 2) }
            let u = p[1 - axis], v = p[3 - axis]
            return u >= v ? (v, u) : (u, v)
        }
        let (ax0, ax1) = span(a, 0), (bx0, bx1) = span(b, 0)
        let ix0 = max(ax0, bx0), ix1 = min(ax1, bx1)
        guard ix1 > ix0 else { return false }
        let (ay0, ay1) = span(a, 1), (by0, by1) = span(b, 1)
        let iy0 = max(ay0, by0), iy1 = min(ay1, by1)
        guard iy1 > iy0 else { return false }
        let inter = (ix1 - ix0) * (iy1 - iy0)
        let areaA = (ax1 - ax0) * (ay1 - ay0), areaB = (bx1 - bx0) * (by1 - by0)
        let union = areaA + areaB - inter
        guard inter > 0, areaA > 0, areaB > 0, union > 0 else { return false }
        return inter / union > threshold
    }

    static func nonMaxSuppression(_ c: KernelCall) throws -> RValue {
        let bs = try c.shape(0), ss = try c.shape(1)
        guard bs.count == 3, bs[2] == 4, ss.count == 3, ss[0] == bs[0], ss[2] == bs[1] else {
            throw c.fail("boxes \(bs) and scores \(ss) do not fit [batches, boxes, 4] and [batches, classes, boxes]")
        }
        let center = try c.attrs.int("center_point_box") == 1
        // A limit given as an input holds at most one value; an empty one counts as absent.
        func scalar(_ i: Int) throws -> RValue? {
            guard c.has(i) else { return nil }
            let n = try c.shape(i).reduce(1, *)
            guard n <= 1 else { throw c.fail("input \(i) must be a scalar, got shape \(try c.shape(i))") }
            return n == 1 ? try c.input(i) : nil
        }
        var maxOut = try c.attrs.optionalInt("max_output_boxes_per_class") ?? 0
        if let v = try scalar(2) { maxOut = Int(MathKernels.Values(v).int(0)) }
        var iou = try c.attrs.optionalFloat("iou_threshold") ?? 0
        if let v = try scalar(3) { iou = MathKernels.Values(v).float(0) }
        var minScore = try c.attrs.optionalFloat("score_threshold")
        if let v = try scalar(4) { minScore = MathKernels.Values(v).float(0) }
        let batches = bs[0], count = bs[1], classes = ss[1]
        var selected: [Int64] = []
        if maxOut > 0 && count > 0 {
            let boxes = UnsafePointer(try c.floats(0)), scores = try c.floats(1)
            var kept: [Int] = []
            for b in 0..<batches {
                for k in 0..<classes {
                    let s = scores + (b * classes + k) * count, base = boxes + b * count * 4
                    var order = (0..<count).filter { minScore == nil || s[$0] > minScore! }
                    // Highest score first, ties by lower index; NaN scores last.
                    order.sort { i, j in
                        if s[i].isNaN != s[j].isNaN { return s[j].isNaN }
                        if !s[i].isNaN, s[i] != s[j] { return s[i] > s[j] }
                        return i < j
                    }
                    kept.removeAll(keepingCapacity: true)
                    for i in order {
                        if kept.count >= maxOut { break }
                        if kept.contains(where: { suppresses(base + i * 4, base + $0 * 4, center: center, threshold: iou) }) { continue }
                        kept.append(i)
                        selected += [Int64(b), Int64(k), Int64(i)]
                    }
                }
            }
        }
        return .ints(selected, shape: [selected.count / 3, 3])
    }

    // MARK: Col2Im

    static func col2Im(_ c: KernelCall) throws -> RValue {
        let x = try c.input(0), xs = x.shape
        guard xs.count == 3, let image = try c.parameter("image_shape", input: 1), let block = try c.parameter("block_shape", input: 2),
              image.count == block.count, !image.isEmpty, block.allSatisfy({ $0 > 0 }) else {
            throw c.fail("needs a 3-D input and image_shape and block_shape of one length")
        }
        let k = image.count
        let (strides, dilations, pads) = try SamplingOps.window(c.attrs, spatial: k)
        let kernel = block.reduce(1, *), length = xs[2]
        guard xs[1] % kernel == 0, let blocks = SamplingOps.blockCounts(image: image, block: block, strides: strides, dilations: dilations, pads: pads),
              blocks.reduce(1, *) == length, c.out == [xs[0], xs[1] / kernel] + image else {
            throw c.fail("input \(xs) does not fold into image \(image) with block \(block)")
        }
        let v = MathKernels.Values(x)
        if c.count == 0 { return empty(c, int: v.isInt) }
        // Image offset of every (block element, block position) pair; −1 when it falls in the padding.
        let imageStrides = StridedCopy.contiguousStrides(image), blockStrides = StridedCopy.contiguousStrides(block)
        let positionStrides = StridedCopy.contiguousStrides(blocks)
        var target = [Int](repeating: -1, count: kernel * length)
        for e in 0..<kernel {
            for l in 0..<length {
                var off = 0
                for i in 0..<k {
                    let at = (l / positionStrides[i]) % blocks[i] * strides[i] - pads[i] + (e / blockStrides[i]) % block[i] * dilations[i]
                    guard at >= 0, at < image[i] else { off = -1; break }
                    off += at * imageStrides[i]
                }
                target[e * length + l] = off
            }
        }
        let planes = xs[0] * (xs[1] / kernel), plane = image.reduce(1, *), cols = kernel * length
        switch v {
        case .i(let src):
            var out = [Int64](repeating: 0, count: c.count)
            for p in 0..<planes {
                for j in 0..<cols where target[j] >= 0 { out[p * plane + target[j]] &+= src[p * cols + j] }
            }
            return .ints(out, shape: c.out)
        case .f(let src):
            let (y, b) = c.allocate(c.count)
            y.update(repeating: 0, count: c.count)
            target.withUnsafeBufferPointer { t in
                parallelFor(planes, threads: c.threads, grain: max(1, 16384 / max(1, cols))) { range in
                    for p in range {
                        let s = src + p * cols, d = y + p * plane
                        for j in 0..<cols where t[j] >= 0 { d[t[j]] += s[j] }
                    }
                }
            }
            return c.result(y, b)
        }
    }

    // MARK: CenterCropPad

    static func centerCropPad(_ c: KernelCall) throws -> RValue {
        let x = try c.input(0), xs = x.shape, out = c.out
        let axes = try SamplingOps.cropAxes(c.attrs, rank: xs.count)
        guard out.count == xs.count, (0..<xs.count).allSatisfy({ axes.contains($0) || out[$0] == xs[$0] }) else {
            throw c.fail("output \(out) does not match input \(xs) off the axes \(axes)")
        }
        if let target = try c.parameter("shape", input: 1), target != axes.map({ out[$0] }) {
            throw c.fail("output \(out) does not match shape \(target)")
        }
        let v = MathKernels.Values(x)
        // Source index along each axis of every output position (−1: padding). The crop
        // starts ⌊excess/2⌋ in; padding puts ⌊deficit/2⌋ before and the rest after.
        let maps: [[Int]] = (0..<xs.count).map { a in
            let n = xs[a], m = out[a]
            let shift = m <= n ? (n - m) / 2 : -((m - n) / 2)
            return (0..<m).map { q in (0..<n).contains(q + shift) ? q + shift : -1 }
        }
        let inStrides = StridedCopy.contiguousStrides(xs), outStrides = StridedCopy.contiguousStrides(out)
        let sources = (0..<c.count).map { i -> Int in
            var off = 0
            for a in 0..<xs.count {
                let s = maps[a][(i / outStrides[a]) % out[a]]
                if s < 0 { return -1 }
                off += s * inStrides[a]
            }
            return off
        }
        return c.produce(int: v.isInt, float: { sources[$0] < 0 ? 0 : v.float(sources[$0]) }, int: { sources[$0] < 0 ? 0 : v.int(sources[$0]) })
    }
}
