import Foundation
import ZooCore

extension ONNXNode {
    func int(_ k: String) -> Int? { if case .int(let v)? = attributes[k] { return v }; return nil }
    func float(_ k: String) -> Float? { if case .float(let v)? = attributes[k] { return v }; return nil }
    func ints(_ k: String) -> [Int]? { if case .ints(let v)? = attributes[k] { return v }; return nil }
    func string(_ k: String) -> String? { if case .string(let v)? = attributes[k] { return v }; return nil }
}

extension ImportSession {
    func invalid(_ n: ONNXNode, _ detail: String) -> ONNXError {
        .invalidNode(path: path, node: n.name, op: n.op, detail: detail)
    }

    func unsupportedForm(_ n: ONNXNode, _ detail: String) -> ONNXError {
        .unsupportedForm(path: path, node: n.name, op: n.op, detail: detail)
    }

    /// Shape of a value (constants have concrete shapes).
    func shape(_ name: String, _ n: ONNXNode) throws -> SymShape {
        switch lookup(name) {
        case .runtime(_, let s)?: return s
        case .constant(let t)?: return SymShape(concrete: t.shape)
        case .symbolic(_, let shape)?: return SymShape(concrete: shape)
        case nil: throw ONNXError.undefinedValue(path: path, node: n.name, value: name)
        }
    }

    func dtype(_ name: String, _ n: ONNXNode) throws -> DType {
        switch lookup(name) {
        case .runtime(let d, _)?: return d
        case .constant(let t)?: return t.dtype
        case .symbolic?: return .i64
        case nil: throw ONNXError.undefinedValue(path: path, node: n.name, value: name)
        }
    }

    /// A constant input's tensor, or an error saying it must be static.
    func constant(_ name: String, _ n: ONNXNode) throws -> Tensor {
        guard case .constant(let t)? = lookup(name) else { throw ONNXError.notStatic(path: path, node: n.name, value: name) }
        return t
    }

    func constantInts(_ name: String, _ n: ONNXNode) throws -> [Int] {
        guard let v = try constant(name, n).intValues else { throw invalid(n, "input '\(name)' must hold integers") }
        return v
    }

    func constantScalar(_ name: String, _ n: ONNXNode) throws -> Double {
        let t = try constant(name, n)
        guard t.elementCount == 1, let v = t.doubleValues?.first else { throw invalid(n, "input '\(name)' must be a numeric scalar") }
        return v
    }

    /// A known (non-batch) dimension.
    func known(_ d: SymDim, _ n: ONNXNode, _ what: String) throws -> Int {
        guard let v = d.value else { throw unsupportedForm(n, "\(what) depends on the batch size") }
        return v
    }

    func normalizeAxis(_ a: Int, rank: Int, _ n: ONNXNode) throws -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0, r < rank else { throw invalid(n, "axis \(a) is out of range for rank \(rank)") }
        return r
    }

    /// Emits one canonical node: resolves aliases, registers constant inputs,
    /// infers output shapes with the shared IR rules and records the outputs.
    func emit(_ n: ONNXNode, op: String, inputs: [String], outputs: [String], attributes: [String: Attribute] = [:],
              dtype: DType? = nil, outputTypes: [DType]? = nil, suffix: String? = nil) throws {
        var resolved: [String] = []
        var shapes: [SymShape?] = []
        var known: [[SymDim]?] = []
        for name in inputs {
            guard !name.isEmpty else { resolved.append(""); shapes.append(nil); known.append(nil); continue }
            switch lookup(name) {
            case .symbolic(let elems, let shape)?:
                try materialize(resolve(name))
                resolved.append(resolve(name))
                shapes.append(SymShape(concrete: shape))
                known.append(elems)
                continue
            case .constant(let t)?:
                resolved.append(constantName(name))
                shapes.append(SymShape(concrete: t.shape))
                known.append(t.elementCount <= 64 ? t.intValues.map { $0.map(SymDim.init) } : nil)
                continue
            case .runtime(_, let s)?:
                resolved.append(resolve(name))
                shapes.append(s)
                known.append(nil)
            case nil: throw ONNXError.undefinedValue(path: path, node: n.name, value: name)
            }
        }
        let node = Node(name: uniqueName(suffix.map { "\(n.name)/\($0)" } ?? n.name), op: op, inputs: resolved,
                        outputs: outputs, attributes: attributes)
        let outShapes: [SymShape]
        do {
            outShapes = try ShapeInference.outputShapes(of: node, inputs: shapes, values: known, unknowns: unknowns)
        } catch let e as ZooCoreError {
            throw invalid(n, e.detail)
        }
        let outType = try dtype ?? self.dtype(inputs[0], n)
        for (k, (o, s)) in zip(outputs, outShapes).enumerated() {
            let outType = outputTypes.map { $0[min(k, $0.count - 1)] } ?? outType
            // Materialising a symbolic value keeps its static form for later folds.
            if materializing, case .symbolic? = values[o] { materialized.insert(o); continue }
            guard values[o] == nil else { throw ONNXError.duplicateValue(path: path, value: o) }
            values[o] = .runtime(outType, s)
        }
        emitRaw(node)
    }

    /// Emits the nodes that compute symbolic value `name` at run time (once):
    /// a Shape node for the source, then the producers' canonical forms.
    func materialize(_ name: String) throws {
        guard !materialized.contains(name), let n = producers[name] else { return }
        let saved = materializing
        materializing = true
        defer { materializing = saved }
        if n.op == "Shape" {
            let x = n.input(0) ?? ""
            if case .symbolic? = lookup(x) { try materialize(resolve(x)) }
            let rank = try shape(x, n).count
            func clampIndex(_ v: Int) -> Int { min(max(v < 0 ? v + rank : v, 0), rank) }
            let start = opset >= 15 ? clampIndex(n.int("start") ?? 0) : 0
            let end = opset >= 15 ? clampIndex(n.int("end") ?? rank) : rank
            emitRaw(Node(name: uniqueName(n.name), op: "Shape", inputs: [resolve(x)], outputs: [name],
                         attributes: ["start": .int(start), "end": .int(max(start, end))]))
            materialized.insert(name)
        } else {
            try canonicalize(n)
            materialized.insert(name)
        }
    }

    /// Makes `output` another name for `input` (Identity, Dropout at inference).
    func alias(_ output: String, to input: String) throws {
        guard values[output] == nil, aliases[output] == nil else { throw ONNXError.duplicateValue(path: path, value: output) }
        aliases[output] = input
    }

    /// Stores a folded value (remembering who produced a symbolic one).
    func define(_ name: String, _ value: Value) throws {
        guard values[name] == nil, aliases[name] == nil else { throw ONNXError.duplicateValue(path: path, value: name) }
        values[name] = value
        if case .symbolic = value, let n = currentNode { producers[name] = n }
    }

    /// Fails when any output beyond the first is consumed (training-only outputs).
    func requireOnlyFirstOutput(_ n: ONNXNode, what: String) throws {
        let g = proto.message.pointee.graph!.pointee
        let extra = Set(n.outputs.dropFirst().filter { !$0.isEmpty })
        guard !extra.isEmpty else { return }
        for m in messages(g.node, g.n_node) {
            for i in strings(m.pointee.input, m.pointee.n_input) where extra.contains(i) {
                throw unsupportedForm(n, "output '\(i)' (\(what)) is used; only inference graphs are supported")
            }
        }
        for o in messages(g.output, g.n_output) where extra.contains(cstr(o.pointee.name)) {
            throw unsupportedForm(n, "output '\(cstr(o.pointee.name))' (\(what)) is a graph output; only inference graphs are supported")
        }
    }
}
