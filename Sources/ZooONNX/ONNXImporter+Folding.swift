import CONNXProto
import Foundation
import ZooCore
import ZooRuntime

/// Import-time evaluation of static values: Constant, Shape and the small
/// integer subgraphs exporters build from it, plus reshapes of constants.
/// Values that depend on the batch size stay symbolic (`Value.symbolic`)
/// until they land in a Reshape target, where they become 0 or -1.
extension ImportSession {
    /// Largest ConstantOfShape stored as a tensor; larger fills are kept compact as run-time ops.
    static let maxFilledElements = 1 << 16

    /// Folds `n` when all its inputs are static; returns false to emit it instead.
    func fold(_ n: ONNXNode) throws -> Bool {
        guard let y = n.outputs.first, !y.isEmpty else { return false }
        switch n.op {
        case "Constant":
            try define(y, .constant(try constantAttribute(n)))
            return true
        case "ConstantOfShape":
            guard let s = n.input(0) else { throw invalid(n, "needs a shape input") }
            guard case .constant? = lookup(s) else { return false }
            let dims = try constantInts(s, n)
            // A fill the runtime could never allocate is refused now, not at the first run.
            guard let count = ShapeMath.elementCount(dims), count <= InferenceSession.maxElementsPerValue else {
                throw invalid(n, "shape \(dims) is negative or has more than \(InferenceSession.maxElementsPerValue) elements (the runtime's limit per value)")
            }
            // A large fill stays a run-time ConstantOfShape (a few bytes in the file, filled per run).
            guard count <= ImportSession.maxFilledElements else { return false }
            let (dtype, fill) = try constantOfShapeValue(n)
            try define(y, .constant(try Tensor.make(dtype, shape: dims, values: Array(repeating: fill, count: count))))
            return true
        case "Shape":
            var dims = try shape(n.input(0) ?? "", n)
            if opset >= 15 {
                let r = dims.count
                func clampIndex(_ v: Int) -> Int { min(max(v < 0 ? v + r : v, 0), r) }
                let start = clampIndex(n.int("start") ?? 0), end = clampIndex(n.int("end") ?? r)
                dims = start < end ? Array(dims[start..<end]) : []
            }
            try define(y, try symbolicOrConstant(dims, shape: [dims.count]))
            return true
        case "Size":
            guard let count = try shape(n.input(0) ?? "", n).product else { throw invalid(n, "element count overflows") }
            try define(y, try symbolicOrConstant([count], shape: []))
            return true
        default:
            break
        }
        let present = n.inputs.filter { !$0.isEmpty }
        guard !present.isEmpty, present.allSatisfy({ if case .runtime? = lookup($0) { return false } else { return true } }) else {
            return false
        }
        let x = present[0]
        switch (n.op, lookup(x)!) {
        case ("Identity", _), ("Dropout", _):
            try alias(y, to: x)
        case ("Cast", .constant(let t)):
            guard let to = n.int("to"), let d = ONNXDataType.dtype(to), let v = t.doubleValues else { return false }
            try define(y, .constant(try Tensor.make(d, shape: t.shape, values: v)))
        case ("Cast", .symbolic(let dims, let shape)):
            guard let to = n.int("to"), [6, 7].contains(to) else { return false }
            try define(y, .symbolic(dims, shape: shape))
        case ("Unsqueeze", _), ("Squeeze", _), ("Reshape", _), ("Flatten", _):
            let elems = try elements(x, n)
            let newShape = try foldedShape(n, input: try shape(x, n).concrete!)
            switch lookup(x)! {
            case .constant(let t): try define(y, .constant(try t.reshaped(newShape)))
            default: try define(y, try symbolicOrConstant(elems, shape: newShape))
            }
        case ("Gather", _):
            guard let idxName = n.input(1), case .constant(let idxT)? = lookup(idxName), let idx = idxT.intValues else { return false }
            let data = try shape(x, n).concrete!
            let axis = try normalizeAxis(n.int("axis") ?? 0, rank: data.count, n)
            let fixed = try idx.map { i -> Int in
                let r = i < 0 ? i + data[axis] : i
                guard r >= 0, r < data[axis] else { throw invalid(n, "index \(i) out of range for axis size \(data[axis])") }
                return r
            }
            let outShape = Array(data[0..<axis]) + idxT.shape + Array(data[(axis + 1)...])
            let source = try elements(x, n)
            let picked = gatherIndices(shape: data, axis: axis, indices: fixed).map { source[$0] }
            try defineFolded(y, like: x, elements: picked, shape: outShape)
        case ("Concat", _):
            let shapes = try present.map { try shape($0, n).concrete! }
            let axis = try normalizeAxis(n.int("axis") ?? 0, rank: shapes[0].count, n)
            guard shapes.allSatisfy({ $0.count == shapes[0].count }) else { throw invalid(n, "inputs have different ranks") }
            for s in shapes where s.indices.contains(where: { $0 != axis && s[$0] != shapes[0][$0] }) {
                throw invalid(n, "input shapes \(shapes) differ outside axis \(axis)")
            }
            var outShape = shapes[0]
            outShape[axis] = shapes.reduce(0) { $0 + $1[axis] }
            let outer = shapes[0][0..<axis].reduce(1, *)
            var out: [SymDim] = []
            let parts = try present.map { try elements($0, n) }
            for o in 0..<outer {
                for (k, s) in shapes.enumerated() {
                    let block = s[axis...].reduce(1, *)
                    out += parts[k][(o * block)..<((o + 1) * block)]
                }
            }
            try defineFolded(y, like: x, elements: out, shape: outShape, inputs: present)
        case ("Slice", _):
            let data = try shape(x, n).concrete!
            let p = try sliceParameters(n, input: SymShape(concrete: data))
            var ranges: [[Int]] = data.map { Array(0..<$0) }
            for (j, a) in p.axes.enumerated() {
                let c = MovementOps.clampSlice(start: p.starts[j], end: p.ends[j], step: p.steps[j], size: data[a])
                ranges[a] = (0..<c.count).map { c.start + $0 * p.steps[j] }
            }
            let strides = rowMajorStrides(data)
            var indices: [Int] = [0]
            for (d, r) in ranges.enumerated() {
                indices = indices.flatMap { base in r.map { base + $0 * strides[d] } }
            }
            let source = try elements(x, n)
            try defineFolded(y, like: x, elements: indices.map { source[$0] }, shape: ranges.map(\.count))
        case ("Add", _), ("Sub", _), ("Mul", _), ("Div", _):
            guard present.count == 2 else { return false }
            let a = try elements(present[0], n), b = try elements(present[1], n)
            let sa = try shape(present[0], n).concrete!, sb = try shape(present[1], n).concrete!
            // Equal shapes or a one-element side; other broadcasts are left to evaluation.
            let aScalar = a.count == 1 && sa.count <= sb.count, bScalar = b.count == 1 && sb.count <= sa.count
            guard sa == sb || aScalar || bScalar else { return false }
            // Float constants are left to the runtime; integer/shape arithmetic is folded.
            for name in present {
                if case .constant(let t)? = lookup(name), t.dtype.isFloatingPoint { return false }
            }
            var out: [SymDim] = []
            for i in 0..<max(a.count, b.count) {
                let l = a[a.count == 1 ? 0 : i], r = b[b.count == 1 ? 0 : i]
                guard let v = arithmetic(n.op, l, r) else { return false }
                out.append(v)
            }
            try defineFolded(y, like: present[0], elements: out, shape: sa == sb || bScalar ? sa : sb)
        default:
            return false
        }
        return true
    }

    /// Emits `n`; when every input is a constant and the results are small,
    /// runs the emitted nodes now (ZooRuntime's kernels: the semantics the
    /// model would have at run time) and keeps the outputs as constants.
    /// Anything that cannot be evaluated stays in the graph.
    func canonicalizeOrEvaluate(_ n: ONNXNode) throws {
        let present = n.inputs.filter { !$0.isEmpty }
        var inputElements = 0
        let allConstant = !present.isEmpty && present.allSatisfy { name in
            guard case .constant(let t)? = lookup(name) else { return false }
            inputElements += t.elementCount
            return true
        }
        let start = nodes.count
        try canonicalize(n)
        guard allConstant, nodes.count > start else { return }
        let emitted = Array(nodes[start...])
        // Heavy arithmetic is evaluated only on tiny operands (a hostile file must not stall the import).
        // Work can grow faster than the operands for these (an Einsum of three small operands
        // iterates over the product of all their sizes), so they fold on tiny operands only.
        let heavy = emitted.contains {
            ["Conv", "ConvND", "MatMul", "Attention", "Recurrent", "Sampling"].contains(OpRegistry.spec($0.op)?.family ?? "")
                || ["QLinearConv", "ConvInteger", "QLinearMatMul", "MatMulInteger", "Einsum"].contains($0.op)
        }
        guard inputElements <= (heavy ? 1 << 12 : 1 << 16) else { return }
        guard !emitted.contains(where: { $0.op == "Einsum" && $0.inputs.count > 2 }) else { return }
        // Results (and intermediates) no larger than the operands: folding never grows the file much.
        let limit = max(4096, inputElements)
        for e in emitted {
            for o in e.outputs where !o.isEmpty {
                guard case .runtime(_, let s)? = values[o], let dims = s.concrete, let count = ShapeMath.elementCount(dims), count <= limit else { return }
            }
        }
        let produced = Set(emitted.flatMap(\.outputs))
        var constants: [(name: String, tensor: Tensor)] = []
        var seen = Set<String>()
        for e in emitted {
            for i in e.inputs where !i.isEmpty && !produced.contains(i) && !seen.contains(i) {
                guard let t = constantTensors[i] else { return }
                seen.insert(i)
                constants.append((i, t))
            }
        }
        var outs: [ValueInfo] = []
        for o in n.outputs where !o.isEmpty {
            guard case .runtime(let d, let s)? = values[o] else { return }
            outs.append(ValueInfo(name: o, dtype: d, shape: s.dims))
        }
        guard !outs.isEmpty, let results = try? ConstantEvaluation.evaluate(emitted, constants: constants, outputs: outs),
              outs.allSatisfy({ results[$0.name] != nil }) else { return }
        nodes.removeSubrange(start...)
        for o in outs { values[o.name] = .constant(results[o.name]!) }
    }

    /// ConstantOfShape's fill value and dtype (default: f32 zero).
    func constantOfShapeValue(_ n: ONNXNode) throws -> (DType, Double) {
        guard case .tensor(let t)? = n.attributes["value"] else { return (.f32, 0) }
        let v = try decoder.decode(t, name: "\(n.name).value").tensor
        guard v.elementCount == 1, let d = v.doubleValues?.first else { throw invalid(n, "value must hold one number") }
        return (v.dtype, d)
    }

    /// A Constant node's value in any of its attribute forms.
    func constantAttribute(_ n: ONNXNode) throws -> Tensor {
        switch (n.attributes["value"], n.attributes["value_float"], n.attributes["value_floats"],
                n.attributes["value_int"], n.attributes["value_ints"]) {
        case (.tensor(let t)?, _, _, _, _): return try decoder.decode(t, name: n.outputs[0]).tensor
        case (_, .float(let v)?, _, _, _): return try Tensor.make(.f32, shape: [], values: [Double(v)])
        case (_, _, .floats(let v)?, _, _): return try Tensor.make(.f32, shape: [v.count], values: v.map(Double.init))
        case (_, _, _, .int(let v)?, _): return try Tensor.int64([v], shape: [])
        case (_, _, _, _, .ints(let v)?): return try Tensor.int64(v)
        default: throw unsupportedForm(n, "only value, value_float(s) and value_int(s) constants are supported")
        }
    }

    /// Elements of a static value as symbolic dims (integers) — float constants
    /// are carried as their integer truncation only where a fold needs them.
    func elements(_ name: String, _ n: ONNXNode) throws -> [SymDim] {
        switch lookup(name) {
        case .symbolic(let d, _)?: return d
        case .constant(let t)?:
            if let v = t.intValues { return v.map(SymDim.init) }
            // Non-integer constants are moved around by index, not value: encode
            // the element position and map back in `defineFolded`.
            return (0..<t.elementCount).map { SymDim(symbol: "#elem").adding(SymDim($0))! }
        default: throw ONNXError.notStatic(path: path, node: n.name, value: name)
        }
    }

    /// Stores a fold result: symbolic if any element depends on the batch,
    /// else a constant of the source dtype (non-integer data is copied by position).
    func defineFolded(_ y: String, like source: String, elements: [SymDim], shape: [Int], inputs: [String]? = nil) throws {
        let sources = inputs ?? [source]
        if case .constant(let t)? = lookup(source), t.intValues == nil {
            // Positional copy of non-integer data (floats): only single-source folds
            // reach here with positions, so multi-input concat of floats is copied per input.
            var bytes: [UInt8] = []
            bytes.reserveCapacity(elements.count * t.dtype.itemSize)
            if sources.count == 1 {
                for e in elements {
                    let i = e.constant * t.dtype.itemSize
                    bytes += t.bytes[i..<(i + t.dtype.itemSize)]
                }
            } else {
                throw ONNXError.unsupportedForm(path: path, node: y, op: "Concat", detail: "concatenating non-integer constants")
            }
            try define(y, .constant(try Tensor(dtype: t.dtype, shape: shape, bytes: bytes, name: y)))
            return
        }
        var dtype = DType.i64
        if case .constant(let t)? = lookup(source) { dtype = t.dtype }
        if elements.allSatisfy(\.isFixed) {
            try define(y, .constant(try Tensor.make(dtype, shape: shape, values: elements.map { Double($0.constant) })))
        } else {
            try define(y, .symbolic(elements, shape: shape))
        }
    }

    func symbolicOrConstant(_ dims: [SymDim], shape: [Int]) throws -> Value {
        if let c = dims.concrete { return .constant(try Tensor.int64(c, shape: shape)) }
        return .symbolic(dims, shape: shape)
    }

    /// Output shape of a shape-only op (Unsqueeze/Squeeze/Reshape/Flatten) on a
    /// static value. The ONNX spellings (axes as attribute or input by opset,
    /// negative axes, Squeeze without axes) are resolved here; the shape rule
    /// itself, with its checks, is the canonical one in `ShapeInference`.
    func foldedShape(_ n: ONNXNode, input: [Int]) throws -> [Int] {
        var attrs: [String: Attribute] = [:]
        switch n.op {
        case "Unsqueeze":
            let axes = opset < 13 ? n.ints("axes") : try n.input(1).map { try constantInts($0, n) }
            guard let a = axes else { throw invalid(n, "axes are required") }
            let rank = input.count + a.count
            attrs["axes"] = .ints(try a.map { try normalizeAxis($0, rank: rank, n) }.sorted())
        case "Squeeze":
            let axes = opset < 13 ? n.ints("axes") : try n.input(1).map { try constantInts($0, n) }
            attrs["axes"] = .ints(try (axes ?? input.indices.filter { input[$0] == 1 }).map { try normalizeAxis($0, rank: input.count, n) }.sorted())
        case "Flatten":
            let a = n.int("axis") ?? 1
            attrs["axis"] = .int(a < 0 ? a + input.count : a)
        default: // Reshape
            guard let s = n.input(1) else { throw invalid(n, "needs a shape input") }
            attrs["shape"] = .ints(try constantInts(s, n))
            attrs["allowzero"] = .int(opset >= 14 && (n.int("allowzero") ?? 0) != 0 ? 1 : 0)
        }
        let node = Node(name: n.name, op: n.op, inputs: ["x"], outputs: ["y"], attributes: attrs)
        let out: SymShape
        do {
            out = try ShapeInference.outputShapes(of: node, inputs: [SymShape(concrete: input)])[0]
        } catch {
            throw invalid(n, (error as? ZooCoreError)?.detail ?? error.localizedDescription)
        }
        guard let shape = out.concrete else { throw invalid(n, "output shape \(out) is not static") }
        return shape
    }

    /// Integer arithmetic on shape elements (int64 Div truncates, as ONNX does).
    func arithmetic(_ op: String, _ a: SymDim, _ b: SymDim) -> SymDim? {
        switch op {
        case "Mul": return a.times(b)
        case "Div":
            if let x = a.value, let y = b.value { return y == 0 ? nil : SymDim(x / y) }
            // Dimensions are non-negative, so floor and truncation agree.
            if let y = b.value, y > 0 { return a.floorDivided(by: y) }
            return a.divided(by: b)
        case "Add": return a.adding(b)
        case "Sub": return a.subtracting(b)
        default: return nil
        }
    }
}

func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var s = Array(repeating: 1, count: shape.count)
    var acc = 1
    for i in shape.indices.reversed() {
        s[i] = acc
        acc *= shape[i]
    }
    return s
}

/// Flat source indices of Gather(data of `shape`, `indices`, axis).
func gatherIndices(shape: [Int], axis: Int, indices: [Int]) -> [Int] {
    let outer = shape[0..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    var out: [Int] = []
    for o in 0..<outer {
        for i in indices {
            let base = (o * shape[axis] + i) * inner
            out += base..<(base + inner)
        }
    }
    return out
}
