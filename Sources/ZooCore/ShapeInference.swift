/// Output shapes of canonical IR nodes (docs/IR.md).
///
/// Shared by importers (which record static shapes) and the runtime (which
/// plans buffers): one implementation of each operator's shape rule, so the
/// two cannot disagree. Canonical nodes carry every static parameter as an
/// attribute, so input shapes are all that is needed.
public enum ShapeInference {
    /// Ops the IR defines; importers must only emit these.
    public static let canonicalOps: Set<String> = [
        "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "ThresholdedRelu", "Elu", "Selu", "Gelu", "Softplus", "Softsign", "Clip", "Sigmoid",
        "HardSigmoid", "HardSwish", "Tanh", "Softmax", "BatchNormalization", "MaxPool", "AveragePool",
        "GlobalAveragePool", "GlobalMaxPool", "LRN", "Concat", "Flatten", "Reshape", "Transpose", "Squeeze",
        "Unsqueeze", "Identity", "Gather", "Slice", "Pad", "Cast", "ReduceMean", "Split", "Shape", "ConstantOfShape",
    ]

    /// Shapes of `node`'s outputs given its inputs' shapes (nil for an omitted optional input).
    ///
    /// `values` gives the contents of small integer inputs when known; only
    /// value-dependent ops (ConstantOfShape) need them.
    public static func outputShapes(of node: Node, inputs: [SymShape?], values: [[SymDim]?] = []) throws -> [SymShape] {
        var ctx = Context(node: node, inputs: inputs, values: values)
        return try ctx.infer()
    }

    /// Numpy-style broadcast of two shapes.
    public static func broadcast(_ a: SymShape, _ b: SymShape) -> SymShape? {
        let n = max(a.count, b.count)
        var out: SymShape = []
        for i in 0..<n {
            let x = i < n - a.count ? SymDim(1) : a[i - (n - a.count)]
            let y = i < n - b.count ? SymDim(1) : b[i - (n - b.count)]
            if x == y || y == SymDim(1) { out.append(x) } else if x == SymDim(1) { out.append(y) } else { return nil }
        }
        return out
    }

    /// Output length of a pooling/convolution window along one axis, with
    /// ONNX's ceil_mode rule (a window may not start inside the end padding).
    public static func windowOutput(input: Int, kernel: Int, stride: Int, dilation: Int, padBegin: Int, padEnd: Int, ceil: Bool) -> Int? {
        let span = dilation * (kernel - 1) + 1
        let room = input + padBegin + padEnd - span
        guard stride > 0, kernel > 0, dilation > 0, room >= 0 else { return nil }
        if !ceil { return room / stride + 1 }
        var out = (room + stride - 1) / stride + 1
        if (out - 1) * stride >= input + padBegin { out -= 1 }
        return out
    }

    struct Context {
        let node: Node
        let inputs: [SymShape?]
        let values: [[SymDim]?]

        func fail(_ detail: String) -> ZooCoreError {
            ZooCoreError.shapeInference(node: node.name, op: node.op, detail: detail)
        }
        func input(_ i: Int) throws -> SymShape {
            guard i < inputs.count, let s = inputs[i] else { throw fail("input \(i) is missing") }
            return s
        }
        func ints(_ name: String) throws -> [Int] {
            guard let v = node.attributes[name]?.intsValue else { throw fail("attribute '\(name)' is missing") }
            return v
        }
        func int(_ name: String, _ def: Int? = nil) throws -> Int {
            if let v = node.attributes[name]?.intValue { return v }
            if let d = def { return d }
            throw fail("attribute '\(name)' is missing")
        }
        func axis(_ a: Int, rank: Int) throws -> Int {
            guard a >= 0, a < rank else { throw fail("axis \(a) out of range for rank \(rank)") }
            return a
        }
        func known(_ d: SymDim, _ what: String) throws -> Int {
            guard let v = d.value else { throw fail("\(what) must not depend on the batch size (\(d))") }
            return v
        }

        mutating func infer() throws -> [SymShape] {
            switch node.op {
            case "Shape":
                let x = try input(0)
                let start = try int("start", 0), end = try int("end", x.count)
                guard start >= 0, end <= x.count, start <= end else { throw fail("start \(start) / end \(end) out of range for rank \(x.count)") }
                return [[SymDim(end - start)]]
            case "ConstantOfShape":
                let s = try input(0)
                guard s.count == 1, values.count > 0, let dims = values[0] else {
                    throw fail("the shape input's values must be known")
                }
                return [dims]
            case "LRN":
                let x = try input(0)
                guard try int("size") >= 1, x.count >= 2 else { throw fail("LRN needs size ≥ 1 and a channel axis") }
                return [x]
            case "Relu", "LeakyRelu", "ThresholdedRelu", "Elu", "Selu", "Gelu", "Softplus", "Softsign", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Identity", "Cast":
                return [try input(0)]
            case "Softmax":
                let x = try input(0)
                _ = try axis(try int("axis"), rank: x.count)
                return [x]
            case "BatchNormalization":
                let x = try input(0)
                guard x.count >= 2 else { throw fail("input rank \(x.count) < 2") }
                for i in 1...4 {
                    let p = try input(i)
                    guard p.count == 1, p[0] == x[1] else { throw fail("parameter \(i) has shape \(p.rendered), expected [\(x[1])]") }
                }
                return [x]
            case "Add", "Sub", "Mul", "Div":
                let a = try input(0), b = try input(1)
                guard let s = ShapeInference.broadcast(a, b) else { throw fail("shapes \(a.rendered) and \(b.rendered) do not broadcast") }
                return [s]
            case "Conv": return [try conv()]
            case "MaxPool", "AveragePool": return [try pool()]
            case "GlobalAveragePool", "GlobalMaxPool":
                let x = try input(0)
                guard x.count >= 3 else { throw fail("input rank \(x.count) < 3") }
                return [Array(x[0..<2]) + Array(repeating: SymDim(1), count: x.count - 2)]
            case "Gemm": return [try gemm()]
            case "MatMul": return [try matmul()]
            case "Concat": return [try concat()]
            case "Flatten":
                let x = try input(0)
                let a = try int("axis")
                guard a >= 0, a <= x.count else { throw fail("axis \(a) out of range for rank \(x.count)") }
                guard let outer = Array(x[0..<a]).product, let inner = Array(x[a...]).product else { throw fail("dimension overflow") }
                return [[outer, inner]]
            case "Reshape": return [try reshape()]
            case "Transpose":
                let x = try input(0)
                let perm = try ints("perm")
                guard perm.count == x.count, Set(perm) == Set(0..<x.count) else { throw fail("perm \(perm) is not a permutation of rank \(x.count)") }
                return [perm.map { x[$0] }]
            case "Squeeze":
                let x = try input(0)
                let axes = try ints("axes")
                for a in axes {
                    _ = try axis(a, rank: x.count)
                    guard x[a] == SymDim(1) else { throw fail("cannot squeeze axis \(a) of size \(x[a])") }
                }
                return [x.enumerated().filter { !axes.contains($0.offset) }.map(\.element)]
            case "Unsqueeze":
                let x = try input(0)
                let axes = try ints("axes")
                let rank = x.count + axes.count
                var out: SymShape = []
                var it = x.makeIterator()
                for i in 0..<rank {
                    if axes.contains(i) { out.append(SymDim(1)) } else if let d = it.next() { out.append(d) } else { throw fail("axes \(axes) out of range") }
                }
                for a in axes { _ = try axis(a, rank: rank) }
                return [out]
            case "Gather":
                let data = try input(0), idx = try input(1)
                let a = try axis(try int("axis"), rank: data.count)
                return [Array(data[0..<a]) + idx + Array(data[(a + 1)...])]
            case "Slice": return [try slice()]
            case "Pad":
                let x = try input(0)
                let pads = try ints("pads")
                guard pads.count == 2 * x.count else { throw fail("pads has \(pads.count) values for rank \(x.count)") }
                var out: SymShape = []
                for (i, d) in x.enumerated() {
                    if pads[i] == 0 && pads[i + x.count] == 0 { out.append(d); continue }
                    let v = try known(d, "a padded dimension") + pads[i] + pads[i + x.count]
                    guard v >= 0 else { throw fail("padding makes axis \(i) negative") }
                    out.append(SymDim(v))
                }
                return [out]
            case "ReduceMean":
                let x = try input(0)
                let axes = try ints("axes")
                for a in axes { _ = try axis(a, rank: x.count) }
                let keep = try int("keepdims") != 0
                return [x.enumerated().compactMap { i, d in axes.contains(i) ? (keep ? SymDim(1) : nil) : d }]
            case "Split":
                let x = try input(0)
                let a = try axis(try int("axis"), rank: x.count)
                let sizes = try ints("split")
                guard sizes.count == node.outputs.count, sizes.allSatisfy({ $0 >= 0 }),
                      try sizes.reduce(0, +) == known(x[a], "the split axis") else {
                    throw fail("split sizes \(sizes) do not add up to axis \(a) of \(x.rendered)")
                }
                return sizes.map { s in var y = x; y[a] = SymDim(s); return y }
            default:
                throw fail("'\(node.op)' is not an IR operator")
            }
        }

        func conv() throws -> SymShape {
            let x = try input(0), w = try input(1)
            let k = try ints("kernel_shape"), s = try ints("strides"), d = try ints("dilations"), p = try ints("pads")
            let g = try int("group")
            let n = k.count
            guard x.count == n + 2, w.count == n + 2, s.count == n, d.count == n, p.count == 2 * n else {
                throw fail("input \(x.rendered) and weight \(w.rendered) do not match kernel rank \(n)")
            }
            let cin = try known(x[1], "channels"), m = try known(w[0], "output channels")
            guard g >= 1, cin % g == 0, m % g == 0, try known(w[1], "weight channels") == cin / g else {
                throw fail("input channels \(cin), group \(g) and weight \(w.rendered) are inconsistent")
            }
            guard try w[2...].map({ try known($0, "kernel") }) == k else { throw fail("kernel_shape \(k) differs from weight \(w.rendered)") }
            if inputs.count > 2, let b = inputs[2] {
                guard b == [SymDim(m)] else { throw fail("bias \(b.rendered) should be [\(m)]") }
            }
            var out: SymShape = [x[0], SymDim(m)]
            for i in 0..<n {
                guard let o = ShapeInference.windowOutput(input: try known(x[i + 2], "spatial size"), kernel: k[i], stride: s[i],
                                                          dilation: d[i], padBegin: p[i], padEnd: p[i + n], ceil: false) else {
                    throw fail("window does not fit input \(x.rendered)")
                }
                out.append(SymDim(o))
            }
            return out
        }

        func pool() throws -> SymShape {
            let x = try input(0)
            let k = try ints("kernel_shape"), s = try ints("strides"), d = try ints("dilations"), p = try ints("pads")
            let ceil = try int("ceil_mode") != 0
            let n = k.count
            guard x.count == n + 2, s.count == n, d.count == n, p.count == 2 * n else { throw fail("input \(x.rendered) does not match kernel rank \(n)") }
            var out: SymShape = [x[0], x[1]]
            for i in 0..<n {
                guard p[i] < d[i] * (k[i] - 1) + 1, p[i + n] < d[i] * (k[i] - 1) + 1 else { throw fail("padding must be smaller than the window") }
                guard let o = ShapeInference.windowOutput(input: try known(x[i + 2], "spatial size"), kernel: k[i], stride: s[i],
                                                          dilation: d[i], padBegin: p[i], padEnd: p[i + n], ceil: ceil) else {
                    throw fail("window does not fit input \(x.rendered)")
                }
                out.append(SymDim(o))
            }
            return out
        }

        func gemm() throws -> SymShape {
            let a = try input(0), b = try input(1)
            guard a.count == 2, b.count == 2 else { throw fail("Gemm needs 2-D inputs, got \(a.rendered) and \(b.rendered)") }
            let ta = try int("transA") != 0, tb = try int("transB") != 0
            let m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1]
            let kb = tb ? b[1] : b[0], n = tb ? b[0] : b[1]
            guard ka == kb else { throw fail("inner dimensions differ: \(a.rendered) × \(b.rendered)") }
            if inputs.count > 2, let c = inputs[2] {
                guard let s = ShapeInference.broadcast([m, n], c), s == [m, n] else { throw fail("C \(c.rendered) does not broadcast to [\(m)×\(n)]") }
            }
            return [m, n]
        }

        func matmul() throws -> SymShape {
            var a = try input(0), b = try input(1)
            guard !a.isEmpty, !b.isEmpty else { throw fail("MatMul of a scalar") }
            let va = a.count == 1, vb = b.count == 1
            if va { a.insert(SymDim(1), at: 0) }
            if vb { b.append(SymDim(1)) }
            guard a[a.count - 1] == b[b.count - 2] else { throw fail("inner dimensions differ: \(a.rendered) × \(b.rendered)") }
            guard let batch = ShapeInference.broadcast(Array(a.dropLast(2)), Array(b.dropLast(2))) else {
                throw fail("batch dimensions of \(a.rendered) and \(b.rendered) do not broadcast")
            }
            var out = batch
            if !va { out.append(a[a.count - 2]) }
            if !vb { out.append(b[b.count - 1]) }
            return out
        }

        func concat() throws -> SymShape {
            let first = try input(0)
            let a = try axis(try int("axis"), rank: first.count)
            var out = first
            for i in 1..<inputs.count {
                let x = try input(i)
                guard x.count == first.count else { throw fail("input \(i) has rank \(x.count), expected \(first.count)") }
                for j in 0..<x.count where j != a && x[j] != first[j] { throw fail("input \(i) \(x.rendered) differs from \(first.rendered) off the concat axis") }
                // Sizes add when both are fixed or both count the same symbol (2N + 3N = 5N).
                guard out[a].symbol == x[a].symbol else { throw fail("cannot concatenate axes of sizes \(out[a]) and \(x[a])") }
                out[a].coeff += x[a].coeff
            }
            return out
        }

        func reshape() throws -> SymShape {
            let x = try input(0)
            let target = try ints("shape")
            let allowzero = try int("allowzero", 0) != 0
            var out: SymShape = []
            var inferAt: Int?
            for (i, t) in target.enumerated() {
                switch t {
                case -1:
                    guard inferAt == nil else { throw fail("more than one -1 in shape \(target)") }
                    inferAt = i
                    out.append(SymDim(1))
                case 0 where !allowzero:
                    guard i < x.count else { throw fail("0 at position \(i) copies a dimension the input does not have") }
                    out.append(x[i])
                default:
                    guard t >= 0 else { throw fail("invalid dimension \(t) in shape \(target)") }
                    out.append(SymDim(t))
                }
            }
            guard let total = x.product, let have = out.product else { throw fail("dimension overflow") }
            if let at = inferAt {
                guard let q = total.divided(by: have) else { throw fail("cannot reshape \(x.rendered) to \(target)") }
                out[at] = q
            } else if total != have {
                throw fail("cannot reshape \(x.rendered) (\(total) elements) to \(target)")
            }
            return out
        }

        func slice() throws -> SymShape {
            var x = try input(0)
            let starts = try ints("starts"), ends = try ints("ends"), axes = try ints("axes"), steps = try ints("steps")
            guard starts.count == axes.count, ends.count == axes.count, steps.count == axes.count else { throw fail("starts/ends/axes/steps lengths differ") }
            for (j, a) in axes.enumerated() {
                _ = try axis(a, rank: x.count)
                let step = steps[j]
                guard step != 0 else { throw fail("step 0") }
                let n = try known(x[a], "a sliced dimension")
                let count = step > 0 ? max(0, (ends[j] - starts[j] + step - 1) / step) : max(0, (starts[j] - ends[j] - step - 1) / -step)
                // Canonical bounds: [0, n] going forward, [-1, n-1] going backward.
                let (lo, hi) = step > 0 ? (0, n) : (-1, n - 1)
                guard starts[j] >= lo, starts[j] <= hi, ends[j] >= lo, ends[j] <= hi else {
                    throw fail("slice bounds \(starts[j])..<\(ends[j]) are not canonical for size \(n)")
                }
                x[a] = SymDim(count)
            }
            return x
        }
    }
}
