import Foundation
import ZooCore

/// Turns one ONNX node (any opset) into canonical IR nodes (docs/IR.md).
typealias Normaliser = @Sendable (ImportSession, ONNXNode) throws -> Void

/// The ONNX ops the importer reads, one table per op family (`Ops/*.swift`);
/// `ONNXImporter.supportedOps` is derived from it.
enum ONNXOps {
    static let families: [[String: Normaliser]] = [
        ActivationNormalisers.table, BinaryNormalisers.table, ConvNormalisers.table, MatMulNormalisers.table,
        MovementNormalisers.table, ShapeNormalisers.table, ReduceNormalisers.table, MathNormalisers.table,
        IndexNormalisers.table, StatisticsNormalisers.table, ResizeNormalisers.table, AttentionNormalisers.table,
        QuantizationNormalisers.table, SamplingNormalisers.table, TensorNormalisers.table, RecurrentNormalisers.table,
        ConvNDNormalisers.table,
    ]
    static let table: [String: Normaliser] = {
        var out: [String: Normaliser] = [:]
        for f in families { for (k, v) in f { precondition(out[k] == nil, "ONNX op \(k) normalised twice"); out[k] = v } }
        return out
    }()
}

extension ONNXOps {
    /// An op whose ONNX form is its IR form: the inputs as given (trailing
    /// unused ones dropped), the named attributes that are present (absent
    /// ones take the registry's default), the outputs with unused optional
    /// ones handled by `optionalOutputs`, and the output types.
    static func passThrough(_ attributes: [String], dtype: DType? = nil,
                            outputTypes: (@Sendable (ImportSession, ONNXNode) throws -> [DType])? = nil) -> Normaliser {
        { s, n in
            var inputs = n.inputs
            while inputs.last == "" { inputs.removeLast() }
            guard inputs.first.map({ !$0.isEmpty }) ?? false else { throw s.invalid(n, "input 0 is missing") }
            try s.emit(n, op: n.op, inputs: inputs, outputs: try n.optionalOutputs(s), attributes: n.present(attributes),
                       dtype: dtype, outputTypes: try outputTypes?(s, n))
        }
    }
}

extension ONNXNode {
    /// The first output, which every normalised op has.
    func output(_ s: ImportSession) throws -> String {
        guard let y = outputs.first, !y.isEmpty else { throw s.invalid(self, "node has no output") }
        return y
    }
    /// Input 0 (data) of a one-input op.
    var x: String { input(0) ?? "" }

    /// The named attributes this node carries, as IR attributes. Absent ones are
    /// left out: their default is the IR registry's (equal to ONNX's for these ops).
    func present(_ names: [String]) -> [String: Attribute] {
        var out: [String: Attribute] = [:]
        for a in names {
            if let f = float(a) { out[a] = .float(f) } else if let i = int(a) { out[a] = .int(i) } else if let t = string(a) { out[a] = .string(t) } else if let v = ints(a) { out[a] = .ints(v) }
        }
        return out
    }
}

extension ImportSession {
    /// Emits the canonical IR form of one (non-folded) ONNX node.
    func canonicalize(_ n: ONNXNode) throws {
        guard let normalise = ONNXOps.table[n.op] else { throw ONNXError.unsupportedOps(path: path, ops: [n.op: 1], opset: opset, firstNodes: [n.op: n.name]) }
        try normalise(self, n)
    }

    /// A Reshape `shape` attribute for `target` on an input of shape `source`, when
    /// 0 / -1 can express it: fixed dims literally, a dim equal to the source's at
    /// the same index as 0 (copy), at most one other as -1; nil when the target
    /// needs a shape computed at run time.
    ///
    /// `onnxLiterals`: the dims come from an ONNX shape value, whose literal 0 and -1
    /// keep their ONNX meaning (and a literal -1 is the one inferred dim); otherwise
    /// they are sizes, and a size 0 cannot be written.
    func reshapeAttribute(_ target: [SymDim], from source: SymShape, onnxLiterals: Bool) -> [Int]? {
        var out: [Int] = []
        var inferred = onnxLiterals && target.contains(SymDim(-1))
        for (i, d) in target.enumerated() {
            if let v = d.value {
                guard onnxLiterals || v > 0 else { return nil }
                out.append(v)
            } else if i < source.count && source[i] == d {
                out.append(0)
            } else {
                guard !inferred else { return nil }
                inferred = true
                out.append(-1)
            }
        }
        return out
    }

    /// Emits Reshape(x) to `target`: as an attribute when it can be written
    /// with 0/-1, else with the shape computed by a node (`shapeValue`, or a
    /// Shape of `like`) at run time.
    func emitReshape(_ n: ONNXNode, _ x: String, to target: SymShape, output y: String, shapeValue: String? = nil,
                     like: String? = nil, suffix: String? = nil) throws {
        let xs = try shape(x, n)
        if let t = reshapeAttribute(target, from: xs, onnxLiterals: false) {
            try emit(n, op: "Reshape", inputs: [x], outputs: [y], attributes: ["shape": .ints(t), "allowzero": .int(0)], suffix: suffix)
            return
        }
        var computed = shapeValue
        if computed == nil, let like {
            computed = "\(y)/shape"
            try emit(n, op: "Shape", inputs: [like], outputs: [computed!], attributes: [:], dtype: .i64, suffix: "shape")
        }
        guard let s = computed else { throw unsupportedForm(n, "target shape \(target.rendered) cannot be computed") }
        try emit(n, op: "Reshape", inputs: [x, s], outputs: [y], attributes: ["allowzero": .int(0)], suffix: suffix)
    }

    /// Explicit pads, or nil for `auto_pad` SAME on a symbolic size (the shape
    /// rule resolves it per run). SAME_UPPER puts the odd pixel at the end.
    func resolvePads(_ n: ONNXNode, input: SymShape, kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int]? {
        let k = kernel.count
        let autoPad = n.string("auto_pad") ?? "NOTSET"
        switch autoPad {
        case "NOTSET", "":
            let pads = n.ints("pads") ?? Array(repeating: 0, count: 2 * k)
            guard pads.count == 2 * k, pads.allSatisfy({ $0 >= 0 }) else { throw invalid(n, "pads \(pads) do not fit \(k) spatial dims") }
            return pads
        case "VALID":
            return Array(repeating: 0, count: 2 * k)
        case "SAME_UPPER", "SAME_LOWER":
            guard let sizes = Array(input.dropFirst(2)).concrete else { return nil }
            var begin: [Int] = [], end: [Int] = []
            for i in 0..<k {
                let out = (sizes[i] + strides[i] - 1) / strides[i]
                let total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - sizes[i])
                let small = total / 2, large = total - small
                begin.append(autoPad == "SAME_UPPER" ? small : large)
                end.append(autoPad == "SAME_UPPER" ? large : small)
            }
            return begin + end
        default:
            throw invalid(n, "unknown auto_pad '\(autoPad)'")
        }
    }

    /// Convolution geometry as IR `Conv` takes it, from X and W: kernel (from W
    /// when absent), strides, dilations, pads resolved (unless SAME on a
    /// symbolic size) and group. Shared by Conv, QLinearConv and ConvInteger.
    func convolutionAttributes(_ n: ONNXNode, x: String, w: String) throws -> [String: Attribute] {
        let xs = try shape(x, n), ws = try shape(w, n)
        guard ws.count >= 3, xs.count == ws.count else { throw invalid(n, "input \(xs.rendered) and weight \(ws.rendered) ranks do not fit a convolution") }
        let k = ws.count - 2
        let kernel = try n.ints("kernel_shape") ?? ws[2...].map { try known($0, n, "kernel size") }
        let strides = n.ints("strides") ?? Array(repeating: 1, count: k)
        let dilations = n.ints("dilations") ?? Array(repeating: 1, count: k)
        guard kernel.count == k, strides.count == k, dilations.count == k,
              strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw invalid(n, "kernel_shape \(kernel.prefix(8)), strides \(strides.prefix(8)), dilations \(dilations.prefix(8)) do not fit a \(k)-D convolution")
        }
        var attrs = try windowAttributes(n, input: xs, kernel: kernel, strides: strides, dilations: dilations)
        attrs.merge(n.present(["group"])) { a, _ in a }
        return attrs
    }

    /// Window attributes with pads resolved (or `auto_pad` kept for a symbolic input).
    func windowAttributes(_ n: ONNXNode, input: SymShape, kernel: [Int], strides: [Int], dilations: [Int]) throws -> [String: Attribute] {
        var attrs: [String: Attribute] = ["kernel_shape": .ints(kernel), "strides": .ints(strides), "dilations": .ints(dilations)]
        if let pads = try resolvePads(n, input: input, kernel: kernel, strides: strides, dilations: dilations) {
            attrs["pads"] = .ints(pads)
        } else {
            attrs["auto_pad"] = .string(n.string("auto_pad")!)
        }
        return attrs
    }
}
