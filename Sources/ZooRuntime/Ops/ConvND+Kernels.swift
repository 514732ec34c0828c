import CBLAS
import Foundation
import ZooCore

/// Floor and ceiling of a / b for b > 0 and any sign of a.
@inline(__always) private func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) private func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

/// Concrete geometry of a window op over its spatial axes (any rank ≥ 1):
/// output position o reads input positions o·s − pad_begin + k·d, k < kernel.
struct WindowND {
    let input, output, kernel, strides, dilations, padBegin, padEnd: [Int]
    /// Row-major strides of one input and one output plane.
    let inStrides, outStrides: [Int]
    var rank: Int { input.count }
    var inPlane: Int { input.reduce(1, *) }
    var outPlane: Int { output.reduce(1, *) }
    var taps: Int { kernel.reduce(1, *) }

    init(input: [Int], output: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], padEnd: [Int]) {
        (self.input, self.output, self.kernel, self.strides, self.dilations, self.padBegin, self.padEnd) =
            (input, output, kernel, strides, dilations, padBegin, padEnd)
        inStrides = StridedCopy.contiguousStrides(input)
        outStrides = StridedCopy.contiguousStrides(output)
    }

    /// Kernel taps of output coordinate `o` on axis `a` that land inside the
    /// input: k in lo..<hi (empty when lo == hi). Every read of the kernels
    /// below goes through these bounds, whatever the output sizes say.
    func valid(_ a: Int, _ o: Int) -> (lo: Int, hi: Int) {
        let start = o * strides[a] - padBegin[a], d = dilations[a]
        let lo = max(0, ceilDiv(-start, d))
        let hi = min(kernel[a], floorDiv(input[a] - 1 - start, d) + 1)
        return (min(lo, kernel[a]), max(min(lo, kernel[a]), hi))
    }

    /// Output coordinates along axis `a` whose tap `k` lands inside the input
    /// (the contiguous range im2col copies).
    func validOutputs(_ a: Int, tap k: Int) -> Range<Int> {
        let shift = k * dilations[a] - padBegin[a], s = strides[a]
        let lo = min(output[a], max(0, ceilDiv(-shift, s)))
        return lo..<max(lo, min(output[a], floorDiv(input[a] - 1 - shift, s) + 1))
    }

    /// Per axis and output coordinate: the first input position of the window's
    /// valid taps, their count and (for count_include_pad) how many taps lie
    /// inside the padded extent [−pad_begin, size + pad_end). Flattened, axis by axis.
    struct Table {
        var base: [Int], first: [Int], count: [Int], padded: [Int]
    }

    func table() -> Table {
        var t = Table(base: [], first: [], count: [], padded: [])
        for a in 0..<rank {
            t.base.append(t.first.count)
            for o in 0..<output[a] {
                let (lo, hi) = valid(a, o)
                let start = o * strides[a] - padBegin[a]
                t.first.append(start + lo * dilations[a])
                t.count.append(hi - lo)
                t.padded.append(max(0, min(kernel[a], ceilDiv(input[a] + padEnd[a] - start, dilations[a]))))
            }
        }
        return t
    }
}

/// Kernels of the ConvND family (ZooCore `ConvNDOps`), and the general N-D
/// paths that the Conv and pooling kernels take for spatial ranks other than
/// 1 and 2, MaxPool's Indices output and integer MaxPool.
enum ConvNDKernels {
    static let table: [String: Kernel] = [
        "ConvTranspose": Kernel(run: { c in try convTranspose(c) }),
        "DeformConv": Kernel(run: { c in try deformConv(c) }),
        "LpPool": Kernel(run: { c in try pool(c, .lp) }),
        "MaxUnpool": Kernel(run: { c in try maxUnpool(c) }),
    ]

    /// The window geometry of a Conv / pooling / DeformConv node with input shape `shape`.
    static func window(_ c: KernelCall, input shape: [Int], kernel: [Int]) throws -> WindowND {
        let r = kernel.count
        guard r >= 1, shape.count == r + 2, c.out.count == r + 2 else {
            throw c.fail("input \(shape) does not match a \(r)-D window")
        }
        let geometry = try WindowGeometry.parameters(c.attrs, spatial: r)
        let spatial = Array(shape[2...])
        let pads = WindowGeometry.pads(geometry, input: spatial, kernel: kernel)
        return WindowND(input: spatial, output: Array(c.out[2...]), kernel: kernel, strides: geometry.strides,
                        dilations: geometry.dilations, padBegin: Array(pads[..<r]), padEnd: Array(pads[r...]))
    }

    // MARK: - Pooling

    enum PoolKind { case max, average, lp }

    /// MaxPool, AveragePool or LpPool over any spatial rank; MaxPool also on
    /// integer data and with its Indices output.
    static func pool(_ c: KernelCall, _ kind: PoolKind) throws -> [RValue] {
        let x = try c.input(0), shape = x.shape
        let g = try window(c, input: shape, kernel: try c.attrs.ints("kernel_shape"))
        let planes = shape[0] * shape[1]
        guard c.count == planes * g.outPlane else { throw c.fail("output \(c.out) does not match input \(shape)") }
        let wantsIndices = kind == .max && c.node.outputs.count > 1 && !c.node.outputs[1].isEmpty
        if c.count == 0 {
            let empty: RValue
            if x.isInt { empty = .ints([], shape: c.out) } else { let (y, b) = c.allocate(0); empty = c.result(y, b) }
            return wantsIndices ? [empty, .ints([], shape: c.out)] : [empty]
        }
        switch kind {
        case .max:
            let columnMajor = try wantsIndices && c.attrs.int("storage_order") != 0
            var indices = [Int64](repeating: -1, count: wantsIndices ? c.count : 0)
            let y: RValue
            switch x {
            case .floats(let p, _, _):
                let (out, b) = c.allocate(c.count)
                indices.withUnsafeMutableBufferPointer { ip in
                    maxPool(g, planes: planes, x: p, lowest: -Float.infinity, y: out, indices: wantsIndices ? ip.baseAddress : nil,
                            columnMajor: columnMajor, threads: c.threads)
                }
                y = c.result(out, b)
            case .ints(let v, _):
                var out = [Int64](repeating: 0, count: c.count)
                v.withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { yp in
                        indices.withUnsafeMutableBufferPointer { ip in
                            // An empty input plane (all windows in the padding) is never read.
                            maxPool(g, planes: planes, x: xp.baseAddress ?? UnsafePointer(bitPattern: 8)!, lowest: Int64.min, y: yp.baseAddress!,
                                    indices: wantsIndices ? ip.baseAddress : nil, columnMajor: columnMajor, threads: c.threads)
                        }
                    }
                }
                y = .ints(out, shape: c.out)
            }
            return wantsIndices ? [y, .ints(indices, shape: c.outShapes.count > 1 ? c.outShapes[1] : c.out)] : [y]
        case .average, .lp:
            let (y, b) = c.allocate(c.count)
            let src = try c.floats(0)
            if kind == .average {
                averagePool(g, planes: planes, x: src, y: y, includePad: try c.attrs.int("count_include_pad") != 0, threads: c.threads)
            } else {
                lpPool(g, planes: planes, x: src, y: y, p: try c.attrs.float("p"), threads: c.threads)
            }
            return [c.result(y, b)]
        }
    }

    /// One output line of a window op: the outputs along the last axis that
    /// share their coordinates on the other axes, hence their window rows.
    struct Line {
        /// The line's plane (n·C + c) and the flat index of its first output.
        var plane, output: Int
        /// Input offsets (within the plane) of the window rows that are valid on
        /// the other axes, in row-major window order.
        var rows: UnsafeMutablePointer<Int>
        var rowCount: Int
        /// Taps inside the padded extent on the other axes (count_include_pad).
        var padded: Int
    }

    /// Runs `body` for every output line of `planes` planes, lines split
    /// across the session's threads (one large plane still splits). Along the
    /// last axis, output o's valid taps start at input position `table.first`
    /// and number `table.count` (the last axis's entries of `WindowND.table`).
    static func windowLines(_ g: WindowND, _ t: WindowND.Table, planes: Int, threads: Int, _ body: (Line) -> Void) {
        let last = g.rank - 1, width = g.output[last]
        guard g.outPlane > 0 else { return }
        let perPlane = g.outPlane / width
        parallelFor(planes * perPlane, threads: threads, grain: max(1, 16384 / max(g.taps * width, 1))) { range in
            let rows = UnsafeMutablePointer<Int>.allocate(capacity: max(1, g.taps / g.kernel[last]))
            defer { rows.deallocate() }
            let m = max(last, 1)
            var o = [Int](repeating: 0, count: m), j = o, first = o, count = o
            var rem = range.lowerBound % perPlane
            for a in stride(from: last - 1, through: 0, by: -1) { o[a] = rem % g.output[a]; rem /= g.output[a] }
            for line in range {
                var n = 1, padded = 1
                for a in 0..<last {
                    let e = t.base[a] + o[a]
                    first[a] = t.first[e]; count[a] = t.count[e]
                    n *= count[a]; padded *= t.padded[e]
                }
                var rowCount = 0
                if n > 0 {
                    for a in 0..<last { j[a] = 0 }
                    while true {
                        var offset = 0
                        for a in 0..<last { offset += (first[a] + j[a] * g.dilations[a]) * g.inStrides[a] }
                        rows[rowCount] = offset
                        rowCount += 1
                        var a = last - 1
                        while a >= 0 {
                            j[a] += 1
                            if j[a] < count[a] { break }
                            j[a] = 0
                            a -= 1
                        }
                        if a < 0 { break }
                    }
                }
                body(Line(plane: line / perPlane, output: line * width, rows: rows, rowCount: rowCount, padded: padded))
                var a = last - 1
                while a >= 0 {
                    o[a] += 1
                    if o[a] < g.output[a] { break }
                    o[a] = 0
                    a -= 1
                }
            }
        }
    }

    /// The last axis's window table: per output coordinate, the first valid input position, the valid and the padded tap counts.
    static func lastAxis(_ g: WindowND, _ t: WindowND.Table) -> (first: [Int], count: [Int], padded: [Int]) {
        let b = t.base[g.rank - 1], e = b + g.output[g.rank - 1]
        return (Array(t.first[b..<e]), Array(t.count[b..<e]), Array(t.padded[b..<e]))
    }

    /// Max over each window; padding never wins, nor does NaN (as onnxruntime).
    /// Indices are flat into X: plane · size + the position's row-major (or,
    /// with `columnMajor`, column-major) index within the plane; ties keep the
    /// first position in row-major window order. An empty window (possible
    /// only with dilations skipping the input) gives `lowest` and index −1.
    static func maxPool<T: Comparable>(_ g: WindowND, planes: Int, x: UnsafePointer<T>, lowest: T, y: UnsafeMutablePointer<T>,
                                       indices: UnsafeMutablePointer<Int64>?, columnMajor: Bool, threads: Int) {
        let inPlane = g.inPlane, t = g.table(), (first, count, _) = lastAxis(g, t)
        let width = first.count, dl = g.dilations[g.rank - 1]
        var colStrides = [Int](repeating: 1, count: g.rank)
        for a in 1..<max(g.rank, 1) { colStrides[a] = colStrides[a - 1] * g.input[a - 1] }
        windowLines(g, t, planes: planes, threads: threads) { line in
            let src = x + line.plane * inPlane
            for ow in 0..<width {
                let f = first[ow], n = count[ow]
                var best = lowest, at = n > 0 && line.rowCount > 0 ? line.rows[0] + f : -1
                for row in 0..<(n > 0 ? line.rowCount : 0) {
                    let start = line.rows[row] + f
                    for q in 0..<n {
                        let v = src[start + q * dl]
                        if v > best { best = v; at = start + q * dl }
                    }
                }
                let idx = line.output + ow
                y[idx] = best
                guard let indices else { continue }
                guard at >= 0 else { indices[idx] = -1; continue }
                var spatial = at
                if columnMajor {
                    var rem = at
                    spatial = 0
                    for a in stride(from: g.rank - 1, through: 0, by: -1) {
                        spatial += (rem % g.input[a]) * colStrides[a]
                        rem /= g.input[a]
                    }
                }
                indices[idx] = Int64(line.plane * inPlane + spatial)
            }
        }
    }

    /// Average over each window. With count_include_pad the divisor counts the
    /// window's positions inside [−pad_begin, size + pad_end) (onnxruntime's
    /// rule, as the 2-D kernel), without it only the input positions.
    static func averagePool(_ g: WindowND, planes: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, includePad: Bool, threads: Int) {
        let inPlane = g.inPlane, t = g.table(), (first, count, padded) = lastAxis(g, t)
        let dl = g.dilations[g.rank - 1]
        windowLines(g, t, planes: planes, threads: threads) { line in
            let src = x + line.plane * inPlane
            for ow in 0..<first.count {
                let f = first[ow], n = count[ow]
                var sum: Float = 0
                for row in 0..<(n > 0 ? line.rowCount : 0) {
                    let p = src + line.rows[row] + f
                    for q in 0..<n { sum += p[q * dl] }
                }
                let divisor = includePad ? line.padded * padded[ow] : line.rowCount * n
                y[line.output + ow] = divisor > 0 ? sum / Float(divisor) : 0
            }
        }
    }

    /// (Σ |x|^p)^(1/p) over each window's input positions (padding adds nothing).
    static func lpPool(_ g: WindowND, planes: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, p: Float, threads: Int) {
        let inPlane = g.inPlane, t = g.table(), (first, count, _) = lastAxis(g, t)
        let dl = g.dilations[g.rank - 1]
        windowLines(g, t, planes: planes, threads: threads) { line in
            let src = x + line.plane * inPlane
            for ow in 0..<first.count {
                let f = first[ow], n = count[ow]
                var sum: Float = 0
                for row in 0..<(n > 0 ? line.rowCount : 0) {
                    let s = src + line.rows[row] + f
                    if p == 1 {
                        for q in 0..<n { sum += abs(s[q * dl]) }
                    } else if p == 2 {
                        for q in 0..<n { let v = s[q * dl]; sum += v * v }
                    } else {
                        for q in 0..<n { sum += Foundation.pow(abs(s[q * dl]), p) }
                    }
                }
                y[line.output + ow] = p == 1 ? sum : p == 2 ? sum.squareRoot() : Foundation.pow(sum, 1 / p)
            }
        }
    }

    // MARK: - Convolution

    /// Conv over any spatial rank: im2col blocks multiplied by the filters
    /// (single-threaded BLAS per block, blocks across threads), with bias, the
    /// fused residual and activation applied per block as the 2-D kernel does.
    static func conv(_ c: KernelCall) throws -> [RValue] {
        let xs = try c.shape(0), ws = try c.shape(1), out = c.out
        guard ws.count == xs.count, ws.count >= 3 else { throw c.fail("input \(xs) and weight \(ws) ranks differ") }
        let g = try window(c, input: xs, kernel: Array(ws[2...]))
        let group = try c.attrs.int("group")
        let (n, cin, m) = (xs[0], xs[1], ws[0])
        guard group >= 1, cin % group == 0, m % group == 0, ws[1] == cin / group, out[1] == m else {
            throw c.fail("input \(xs), weight \(ws) and group \(group) are inconsistent")
        }
        let bias = try c.optionalFloats(2)
        if bias != nil, try c.shape(2) != [m] { throw c.fail("bias \(try c.shape(2)) should be [\(m)]") }
        let act = c.step.activation
        var residual: UnsafeMutablePointer<Float>?
        var residualNeedsBroadcast = false
        if c.step.residual != nil {
            if try c.shape(3) == out { residual = try c.floats(3) } else { residualNeedsBroadcast = true }
        }
        let (y, b) = c.allocate(c.count)
        let x = try c.floats(0), w = try c.floats(1)
        let cg = cin / group, mg = m / group, kSize = cg * g.taps, plane = g.outPlane, inPlane = g.inPlane
        let epilogueActivation: Activation = residualNeedsBroadcast ? .none : act
        if c.count > 0 {
            let few = plane < Gemm.columnSplitThreshold * c.threads
            let block = few ? plane : ConvKernel.blockColumns(rows: kSize, plane: plane, workers: c.threads)
            let blocks = (plane + block - 1) / block
            let workers = few ? 1 : max(1, min(c.threads, blocks))
            let scratch = c.scratch(max(1, workers * kSize * block))
            defer { c.giveBack(scratch) }
            for ni in 0..<n {
                for gi in 0..<group {
                    let xg = x + (ni * cin + gi * cg) * inPlane
                    let wg = w + gi * mg * kSize
                    let yg = y + (ni * m + gi * mg) * plane
                    let bg = bias.map { $0 + gi * mg }
                    let rg = residual.map { UnsafePointer($0 + (ni * m + gi * mg) * plane) }
                    if kSize == 0 {
                        yg.update(repeating: 0, count: mg * plane)
                        ConvKernel.epilogue(yg, ld: plane, rows: 0..<mg, cols: 0..<plane, bias: bg, residual: rg, activation: epilogueActivation)
                        continue
                    }
                    if few {
                        // Few output columns: one im2col (rows across workers), then the filters split across workers.
                        parallelFor(kSize, threads: c.threads, grain: 64) { rows in
                            im2col(g, x: xg, col: scratch.pointer, start: 0, cols: plane, rows: rows)
                        }
                        Gemm.parallel(m: mg, n: plane, k: kSize, a: wg, lda: kSize, b: scratch.pointer, ldb: plane, c: yg, ldc: plane,
                                      threads: c.threads) { rows, cols in
                            ConvKernel.epilogue(yg, ld: plane, rows: rows, cols: cols, bias: bg, residual: rg, activation: epilogueActivation)
                        }
                        continue
                    }
                    parallelWorkers(blocks, threads: workers) { worker, range in
                        let col = scratch.pointer + worker * kSize * block
                        for bi in range {
                            let start = bi * block, cols = min(block, plane - start)
                            im2col(g, x: xg, col: col, start: start, cols: cols, rows: 0..<kSize)
                            Sgemm.nn(m: mg, n: cols, k: kSize, a: wg, lda: kSize, b: col, ldb: cols, c: yg + start, ldc: plane)
                            ConvKernel.epilogue(yg, ld: plane, rows: 0..<mg, cols: start..<(start + cols), bias: bg, residual: rg,
                                                activation: epilogueActivation)
                        }
                    }
                }
            }
        }
        if residualNeedsBroadcast {
            // The shortcut broadcasts: add it in a separate pass, then the activation.
            Elementwise.binary("Add", a: y, aShape: out, b: try c.floats(3), bShape: try c.shape(3), y: y, outShape: out, threads: c.threads)
            parallelFor(c.count, threads: c.threads, grain: 1 << 15) { r in Activations.apply(act, y + r.lowerBound, count: r.count) }
        }
        return [c.result(y, b)]
    }

    /// Runs of consecutive columns along the last output axis within columns
    /// [start, start + cols) of a plane with sizes `sizes`: each line's first
    /// column (relative to `start`), its first last-axis coordinate, its
    /// length, and its coordinates on the other axes.
    static func lines(sizes: [Int], start: Int, cols: Int) -> (col: [Int], first: [Int], length: [Int], outer: [Int]) {
        let r = sizes.count, width = sizes[r - 1]
        var col: [Int] = [], first: [Int] = [], length: [Int] = [], outer: [Int] = []
        var j = 0
        while j < cols {
            let flat = start + j
            let w0 = flat % width, len = min(cols - j, width - w0)
            var rem = flat / width
            var coords = [Int](repeating: 0, count: r - 1)
            for a in stride(from: r - 2, through: 0, by: -1) { coords[a] = rem % sizes[a]; rem /= sizes[a] }
            col.append(j); first.append(w0); length.append(len); outer.append(contentsOf: coords)
            j += len
        }
        return (col, first, length, outer)
    }

    /// The kernel coordinates of tap index `t` (row-major over `kernel`).
    @inline(__always)
    static func tapCoordinates(_ t: Int, _ kernel: [Int], into k: inout [Int]) {
        var rem = t
        for a in stride(from: kernel.count - 1, through: 0, by: -1) { k[a] = rem % kernel[a]; rem /= kernel[a] }
    }

    /// Rows `rows` of columns [start, start + cols) of the N-D im2col matrix of one
    /// image and group (row = channel · taps + tap, column = output position).
    /// Each output line is split into left padding, the valid run (a copy when
    /// the stride is 1) and right padding, as the 2-D im2col does.
    static func im2col(_ g: WindowND, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, start: Int, cols: Int, rows: Range<Int>) {
        let r = g.rank, last = r - 1, taps = g.taps, inPlane = g.inPlane
        let (lineCol, lineFirst, lineLength, lineOuter) = lines(sizes: g.output, start: start, cols: cols)
        // Per line, the window origin o·s − pad_begin on the other axes.
        var origin = lineOuter
        for l in 0..<lineCol.count { for a in 0..<last { origin[l * last + a] = lineOuter[l * last + a] * g.strides[a] - g.padBegin[a] } }
        let s = g.strides[last], sizes = g.input, inStrides = g.inStrides
        var k = [Int](repeating: 0, count: r), kd = k
        origin.withUnsafeBufferPointer { origin in
            for row in rows {
                let channel = row / taps
                tapCoordinates(row % taps, g.kernel, into: &k)
                for a in 0..<r { kd[a] = k[a] * g.dilations[a] }
                let dst = col + row * cols
                let valid = g.validOutputs(last, tap: k[last])
                let base = channel * inPlane + kd[last] - g.padBegin[last]
                for l in 0..<lineCol.count {
                    let seg = dst + lineCol[l], w0 = lineFirst[l], end = w0 + lineLength[l]
                    var offset = base, inside = true
                    for a in 0..<last {
                        let p = origin[l * last + a] + kd[a]
                        if p < 0 || p >= sizes[a] { inside = false; break }
                        offset += p * inStrides[a]
                    }
                    guard inside else { seg.update(repeating: 0, count: end - w0); continue }
                    let lo = min(max(valid.lowerBound, w0), end), hi = max(min(valid.upperBound, end), lo)
                    if lo > w0 { seg.update(repeating: 0, count: lo - w0) }
                    let src = x + offset
                    if s == 1 {
                        (seg + (lo - w0)).update(from: src + lo, count: hi - lo)
                    } else {
                        for ow in lo..<hi { seg[ow - w0] = src[ow * s] }
                    }
                    if end > hi { (seg + (hi - w0)).update(repeating: 0, count: end - hi) }
                }
            }
        }
    }

    // MARK: - ConvTranspose

    /// ConvTranspose: per image and group, the columns W_gᵀ · X_g (one row per
    /// output channel and tap, one column per input position; blocks of input
    /// positions bound the scratch) are scatter-added into the output (col2im),
    /// which starts as the bias. Output channels split across threads in the
    /// scatter, so no two workers write the same plane.
    static func convTranspose(_ c: KernelCall) throws -> [RValue] {
        let xs = try c.shape(0), ws = try c.shape(1), out = c.out
        let r = xs.count - 2
        guard r >= 1, ws.count == xs.count, out.count == xs.count else { throw c.fail("input \(xs) and weight \(ws) ranks differ") }
        let k = Array(ws[2...])
        let p = try TransposeGeometry.parameters(c.attrs, kernel: k)
        var axes: [TransposeGeometry.Axis] = []
        for i in 0..<r {
            guard let a = TransposeGeometry.axis(p, i, input: xs[i + 2]), a.output == out[i + 2] else {
                throw c.fail("input \(xs) and kernel \(k) do not give output \(out)")
            }
            axes.append(a)
        }
        let group = try c.attrs.int("group")
        let (n, cin) = (xs[0], xs[1])
        guard group >= 1, ws[0] == cin, cin % group == 0, out[1] == ws[1] * group else {
            throw c.fail("input \(xs), weight \(ws) and group \(group) are inconsistent")
        }
        let cg = cin / group, mg = ws[1], m = out[1]
        let bias = try c.optionalFloats(2)
        if bias != nil, try c.shape(2) != [m] { throw c.fail("bias \(try c.shape(2)) should be [\(m)]") }
        // Scatter geometry: input position i and tap k land on output i·s − pad_begin + k·d.
        let g = WindowND(input: Array(xs[2...]), output: Array(out[2...]), kernel: k, strides: p.strides, dilations: p.dilations,
                         padBegin: axes.map(\.padBegin), padEnd: axes.map(\.padEnd))
        let (y, b) = c.allocate(c.count)
        let outPlane = g.outPlane, inPlane = g.inPlane, taps = g.taps, rows = mg * taps
        for plane in 0..<(n * m) { (y + plane * outPlane).update(repeating: bias?[plane % m] ?? 0, count: outPlane) }
        guard c.count > 0, rows > 0, inPlane > 0, cg > 0 else { return [c.result(y, b)] }
        let x = try c.floats(0), w = try c.floats(1)
        let block = max(1, min(inPlane, max(16, ConvKernel.scratchPerWorker / rows)))
        let scratch = c.scratch(rows * block)
        defer { c.giveBack(scratch) }
        let col = scratch.pointer
        let flops = 2 * rows * block * cg
        for ni in 0..<n {
            for gi in 0..<group {
                let xg = x + (ni * cin + gi * cg) * inPlane
                let wg = w + gi * cg * rows
                let yg = y + (ni * m + gi * mg) * outPlane
                var start = 0
                while start < inPlane {
                    let cols = min(block, inPlane - start)
                    // col[rows × cols] = W_gᵀ[rows × cg] · X_g[cg × cols]
                    parallelFor(cols, threads: flops < (1 << 21) ? 1 : c.threads, grain: 16) { cs in
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows), Int32(cs.count), Int32(cg),
                                    1, wg, Int32(rows), xg + start + cs.lowerBound, Int32(inPlane), 0, col + cs.lowerBound, Int32(cols))
                    }
                    parallelFor(mg, threads: c.threads, grain: max(1, 4096 / max(taps * cols, 1))) { channels in
                        col2im(g, col: col, start: start, cols: cols, rows: (channels.lowerBound * taps)..<(channels.upperBound * taps), y: yg)
                    }
                    start += cols
                }
            }
        }
        return [c.result(y, b)]
    }

    /// Adds rows `rows` (output channel · taps + tap) of a column block (input
    /// positions [start, start + cols)) into the output planes at `y`.
    static func col2im(_ g: WindowND, col: UnsafePointer<Float>, start: Int, cols: Int, rows: Range<Int>, y: UnsafeMutablePointer<Float>) {
        let r = g.rank, last = r - 1, taps = g.taps, outPlane = g.outPlane
        let (lineCol, lineFirst, lineLength, lineOuter) = lines(sizes: g.input, start: start, cols: cols)
        let s = g.strides[last], width = g.output[last]
        var k = [Int](repeating: 0, count: r)
        for row in rows {
            let channel = row / taps
            tapCoordinates(row % taps, g.kernel, into: &k)
            let src = col + row * cols
            let shift = k[last] * g.dilations[last] - g.padBegin[last]
            // Input positions i along the last axis with 0 ≤ i·s + shift < width.
            let iLo = max(0, ceilDiv(-shift, s)), iHi = min(g.input[last], floorDiv(width - 1 - shift, s) + 1)
            for l in 0..<lineCol.count {
                let w0 = lineFirst[l], end = w0 + lineLength[l]
                let lo = max(iLo, w0), hi = min(iHi, end)
                guard lo < hi else { continue }
                var offset = channel * outPlane + shift, inside = true
                for a in 0..<last {
                    let q = lineOuter[l * last + a] * g.strides[a] - g.padBegin[a] + k[a] * g.dilations[a]
                    if q < 0 || q >= g.output[a] { inside = false; break }
                    offset += q * g.outStrides[a]
                }
                guard inside else { continue }
                let dst = y + offset, seg = src + lineCol[l] - w0
                for i in lo..<hi { dst[i * s] += seg[i] }
            }
        }
    }

    // MARK: - DeformConv

    /// DeformConv: like Conv, but each tap of each output position reads the
    /// input at its position plus a learned offset, interpolated multilinearly
    /// (corners outside the input count as 0, onnx's GridSample with
    /// align_corners and zero padding) and scaled by the mask. Per column block,
    /// the 2^rank corners and weights (mask included) of every offset group,
    /// tap and column are computed once and shared by the group's channels;
    /// the sampled columns are then multiplied by the filters as im2col columns are.
    static func deformConv(_ c: KernelCall) throws -> [RValue] {
        let xs = try c.shape(0), ws = try c.shape(1), os = try c.shape(2), out = c.out
        guard ws.count == xs.count, ws.count >= 3 else { throw c.fail("input \(xs) and weight \(ws) ranks differ") }
        let g = try window(c, input: xs, kernel: Array(ws[2...]))
        let r = g.rank, taps = g.taps, plane = g.outPlane, inPlane = g.inPlane
        let group = try c.attrs.int("group"), og = try c.attrs.int("offset_group")
        let (n, cin, m) = (xs[0], xs[1], ws[0])
        guard group >= 1, og >= 1, cin % group == 0, cin % og == 0, m % group == 0, ws[1] == cin / group, out[1] == m else {
            throw c.fail("input \(xs), weight \(ws), group \(group) and offset_group \(og) are inconsistent")
        }
        guard os == [n, og * taps * r] + g.output else { throw c.fail("offset \(os) should be \([n, og * taps * r] + g.output)") }
        let mask = c.has(4) ? try c.floats(4) : nil
        if mask != nil, try c.shape(4) != [n, og * taps] + g.output { throw c.fail("mask \(try c.shape(4)) should be \([n, og * taps] + g.output)") }
        let bias = try c.optionalFloats(3)
        if bias != nil, try c.shape(3) != [m] { throw c.fail("bias \(try c.shape(3)) should be [\(m)]") }
        let (y, b) = c.allocate(c.count)
        guard c.count > 0 else { return [c.result(y, b)] }
        let x = try c.floats(0), w = try c.floats(1), offsets = try c.floats(2)
        let cg = cin / group, mg = m / group, kSize = cg * taps, perOffsetGroup = cin / og, corners = 1 << r
        if kSize == 0 || inPlane == 0 {
            y.update(repeating: 0, count: c.count)
            for ni in 0..<n { ConvKernel.epilogue(y + ni * m * plane, ld: plane, rows: 0..<m, cols: 0..<plane, bias: bias, activation: .none) }
            return [c.result(y, b)]
        }
        let block = ConvKernel.blockColumns(rows: kSize, plane: plane, workers: c.threads)
        let blocks = (plane + block - 1) / block
        let workers = max(1, min(c.threads, blocks))
        let scratch = c.scratch(workers * kSize * block)
        defer { c.giveBack(scratch) }
        for ni in 0..<n {
            for gi in 0..<group {
                let wg = w + gi * mg * kSize
                let yg = y + (ni * m + gi * mg) * plane
                let bg = bias.map { UnsafePointer($0 + gi * mg) }
                // The offset groups this group's channels belong to.
                let ogLo = gi * cg / perOffsetGroup, ogCount = (gi * cg + cg - 1) / perOffsetGroup - ogLo + 1
                parallelWorkers(blocks, threads: workers) { worker, range in
                    let col = scratch.pointer + worker * kSize * block
                    let entries = ogCount * taps * block * corners
                    let cornerOffset = UnsafeMutablePointer<Int>.allocate(capacity: entries)
                    let cornerWeight = UnsafeMutablePointer<Float>.allocate(capacity: entries)
                    defer { cornerOffset.deallocate(); cornerWeight.deallocate() }
                    var k = [Int](repeating: 0, count: r), o = [Int](repeating: 0, count: r)
                    var lo = [Int](repeating: 0, count: r), frac = [Float](repeating: 0, count: r)
                    var origin = [Int](repeating: 0, count: r * block)
                    for bi in range {
                        let start = bi * block, cols = min(block, plane - start)
                        // Each column's window origin o·s − pad_begin, per axis.
                        for j in 0..<cols {
                            var rem = start + j
                            for a in stride(from: r - 1, through: 0, by: -1) { o[a] = rem % g.output[a]; rem /= g.output[a] }
                            for a in 0..<r { origin[j * r + a] = o[a] * g.strides[a] - g.padBegin[a] }
                        }
                        for e in 0..<(ogCount * taps) {
                            let group = ogLo + e / taps, tap = e % taps
                            tapCoordinates(tap, g.kernel, into: &k)
                            let offsetRows = offsets + ((ni * og + group) * taps + tap) * r * plane + start
                            let maskRow = mask.map { $0 + ((ni * og + group) * taps + tap) * plane + start }
                            for j in 0..<cols {
                                let at = (e * cols + j) * corners
                                var inside = true
                                for a in 0..<r {
                                    let p = Float(origin[j * r + a] + k[a] * g.dilations[a]) + offsetRows[a * plane + j]
                                    // Also false for NaN: such a sample reads nothing.
                                    guard p > -1, p < Float(g.input[a]) else { inside = false; break }
                                    let f = p.rounded(.down)
                                    lo[a] = Int(f)
                                    frac[a] = p - f
                                }
                                let scale = maskRow?[j] ?? 1
                                for corner in 0..<corners {
                                    var weight = scale, offset = 0
                                    if inside {
                                        for a in 0..<r {
                                            let up = (corner >> a) & 1 == 1
                                            let i = lo[a] + (up ? 1 : 0)
                                            if i < 0 || i >= g.input[a] { weight = 0; break }
                                            weight *= up ? frac[a] : 1 - frac[a]
                                            offset += i * g.inStrides[a]
                                        }
                                    }
                                    cornerWeight[at + corner] = inside ? weight : 0
                                    cornerOffset[at + corner] = weight == 0 || !inside ? 0 : offset
                                }
                            }
                        }
                        for row in 0..<kSize {
                            let channel = gi * cg + row / taps
                            let e = (channel / perOffsetGroup - ogLo) * taps + row % taps
                            let src = x + (ni * cin + channel) * inPlane
                            let dst = col + row * cols
                            let cw = cornerWeight + e * cols * corners, co = cornerOffset + e * cols * corners
                            for j in 0..<cols {
                                var v: Float = 0
                                // Zero-weight corners are skipped: they point nowhere (and 0 · ∞ would be NaN).
                                for q in (j * corners)..<((j + 1) * corners) where cw[q] != 0 { v += cw[q] * src[co[q]] }
                                dst[j] = v
                            }
                        }
                        Sgemm.nn(m: mg, n: cols, k: kSize, a: wg, lda: kSize, b: col, ldb: cols, c: yg + start, ldc: plane)
                        ConvKernel.epilogue(yg, ld: plane, rows: 0..<mg, cols: start..<(start + cols), bias: bg, activation: .none)
                    }
                }
            }
        }
        return [c.result(y, b)]
    }

    // MARK: - MaxUnpool

    /// MaxUnpool: X's values written at their flat indices into the inferred
    /// shape [N, C, (in−1)·s − pads + k …] (zeros elsewhere), which sits at the
    /// start of every axis of a larger `output_shape` (onnx's reference and test cases).
    static func maxUnpool(_ c: KernelCall) throws -> [RValue] {
        let xs = try c.shape(0), out = c.out
        let k = try c.attrs.ints("kernel_shape"), r = k.count
        guard try c.shape(1) == xs, xs.count == r + 2, out.count == xs.count else {
            throw c.fail("input \(xs), indices \(try c.shape(1)) and output \(out) do not fit kernel_shape \(k)")
        }
        let s = try c.attrs.optionalInts("strides") ?? Array(repeating: 1, count: r)
        let p = try c.attrs.optionalInts("pads") ?? Array(repeating: 0, count: 2 * r)
        guard s.count == r, p.count == 2 * r else { throw c.fail("strides \(s) / pads \(p) do not fit \(r) spatial axes") }
        let inferred = Array(xs[..<2]) + (0..<r).map { a in (xs[a + 2] - 1) * s[a] - p[a] - p[a + r] + k[a] }
        if c.has(2) {
            let given = try c.ints(2).map { Int($0) }
            guard given == out else { throw c.fail("output_shape \(given) differs from the planned output \(out)") }
        }
        guard inferred.allSatisfy({ $0 >= 0 }), zip(inferred, out).allSatisfy({ $0 <= $1 }), out[0] == xs[0], out[1] == xs[1] else {
            throw c.fail("output \(out) is smaller than the unpooled shape \(inferred)")
        }
        let (y, b) = c.allocate(c.count)
        y.update(repeating: 0, count: c.count)
        let x = try c.floats(0), indices = try c.ints(1)
        let total = inferred.reduce(1, *)
        let inStrides = StridedCopy.contiguousStrides(inferred), outStrides = StridedCopy.contiguousStrides(out)
        for (e, i) in indices.enumerated() {
            guard i >= 0, i < total else { throw c.fail("index \(i) is outside the unpooled shape \(inferred)") }
            var rem = Int(i), at = 0
            if inferred == out {
                at = rem
            } else {
                for a in 0..<inferred.count { at += (rem / inStrides[a]) * outStrides[a]; rem %= inStrides[a] }
            }
            y[at] = x[e]
        }
        return [c.result(y, b)]
    }
}
