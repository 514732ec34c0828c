import Foundation
import ZooCore

extension ImportSession {
    /// Emits the canonical IR form of one (non-folded) ONNX node.
    func canonicalize(_ n: ONNXNode) throws {
        let x = n.input(0) ?? ""
        guard let y = n.outputs.first, !y.isEmpty else { throw invalid(n, "node has no output") }
        switch n.op {
        case "Relu", "Sigmoid", "Tanh", "HardSwish":
            try emit(n, op: n.op, inputs: [x], outputs: [y])
        case "LeakyRelu":
            try emit(n, op: n.op, inputs: [x], outputs: [y], attributes: ["alpha": .float(n.float("alpha") ?? 0.01)])
        case "HardSigmoid":
            try emit(n, op: n.op, inputs: [x], outputs: [y],
                     attributes: ["alpha": .float(n.float("alpha") ?? 0.2), "beta": .float(n.float("beta") ?? 0.5)])
        case "Add", "Sub", "Mul", "Div":
            guard let b = n.input(1) else { throw invalid(n, "needs two inputs") }
            try emit(n, op: n.op, inputs: [x, b], outputs: [y])
        case "Sum":
            let ins = n.inputs.filter { !$0.isEmpty }
            guard !ins.isEmpty else { throw invalid(n, "needs at least one input") }
            if ins.count == 1 { try alias(y, to: ins[0]); return }
            var acc = ins[0]
            for (k, v) in ins.dropFirst().enumerated() {
                let out = k == ins.count - 2 ? y : "\(y)/sum\(k)"
                try emit(n, op: "Add", inputs: [acc, v], outputs: [out], suffix: k == ins.count - 2 ? nil : "add\(k)")
                acc = out
            }
        case "Clip": try clip(n, x, y)
        case "Softmax": try softmax(n, x, y)
        case "Conv": try conv(n, x, y)
        case "MaxPool", "AveragePool": try pool(n, x, y)
        case "GlobalAveragePool", "GlobalMaxPool":
            try emit(n, op: n.op, inputs: [x], outputs: [y])
        case "Gemm":
            guard let b = n.input(1) else { throw invalid(n, "needs inputs A and B") }
            try emit(n, op: "Gemm", inputs: [x, b] + (n.input(2).map { [$0] } ?? []), outputs: [y], attributes: [
                "alpha": .float(n.float("alpha") ?? 1), "beta": .float(n.float("beta") ?? 1),
                "transA": .int(n.int("transA") ?? 0), "transB": .int(n.int("transB") ?? 0),
            ])
        case "MatMul":
            guard let b = n.input(1) else { throw invalid(n, "needs two inputs") }
            try emit(n, op: "MatMul", inputs: [x, b], outputs: [y])
        case "BatchNormalization":
            try requireOnlyFirstOutput(n, what: "running statistics")
            if opset < 9, let spatial = n.int("spatial"), spatial == 0 {
                throw unsupportedForm(n, "spatial=0 (per-activation statistics)")
            }
            if (n.int("training_mode") ?? 0) != 0 { throw unsupportedForm(n, "training_mode=1") }
            guard n.presentInputCount == 5 else { throw invalid(n, "needs 5 inputs (X, scale, B, mean, var)") }
            try emit(n, op: n.op, inputs: Array(n.inputs[0..<5]), outputs: [y], attributes: ["epsilon": .float(n.float("epsilon") ?? 1e-5)])
        case "LRN":
            guard let size = n.int("size") else { throw invalid(n, "attribute 'size' is required") }
            try emit(n, op: "LRN", inputs: [x], outputs: [y], attributes: [
                "size": .int(size), "alpha": .float(n.float("alpha") ?? 1e-4),
                "beta": .float(n.float("beta") ?? 0.75), "bias": .float(n.float("bias") ?? 1),
            ])
        case "Concat":
            let s = try shape(x, n)
            try emit(n, op: "Concat", inputs: n.inputs.filter { !$0.isEmpty }, outputs: [y],
                     attributes: ["axis": .int(try normalizeAxis(n.int("axis") ?? 1, rank: s.count, n))])
        case "Flatten":
            let rank = try shape(x, n).count
            var a = n.int("axis") ?? 1
            if a < 0 { a += rank }
            guard a >= 0, a <= rank else { throw invalid(n, "axis \(n.int("axis") ?? 1) out of range for rank \(rank)") }
            try emit(n, op: "Flatten", inputs: [x], outputs: [y], attributes: ["axis": .int(a)])
        case "Reshape": try reshape(n, x, y)
        case "Transpose":
            let rank = try shape(x, n).count
            let perm = try (n.ints("perm") ?? Array((0..<rank).reversed())).map { try normalizeAxis($0, rank: rank, n) }
            try emit(n, op: "Transpose", inputs: [x], outputs: [y], attributes: ["perm": .ints(perm)])
        case "Squeeze", "Unsqueeze": try squeeze(n, x, y)
        case "Dropout":
            try requireOnlyFirstOutput(n, what: "dropout mask")
            if let t = n.input(2), try constantScalar(t, n) != 0 { throw unsupportedForm(n, "training_mode=1") }
            try alias(y, to: x)
        case "Identity":
            try alias(y, to: x)
        case "Gather":
            guard let idx = n.input(1) else { throw invalid(n, "needs data and indices") }
            let s = try shape(x, n)
            let a = try normalizeAxis(n.int("axis") ?? 0, rank: s.count, n)
            guard [.i64, .i32].contains(try dtype(idx, n)) else { throw invalid(n, "indices must be int32 or int64") }
            try emit(n, op: "Gather", inputs: [x, idx], outputs: [y], attributes: ["axis": .int(a)])
        case "Slice": try slice(n, x, y)
        case "Pad": try pad(n, x, y)
        case "Cast":
            guard let to = n.int("to"), let d = ONNXDataType.dtype(to) else {
                throw ONNXError.unsupportedDataType(path: path, tensor: y, dataType: n.int("to") ?? 0)
            }
            try emit(n, op: "Cast", inputs: [x], outputs: [y], attributes: ["to": .string(d.rawValue)], dtype: d)
        case "ReduceMean": try reduceMean(n, x, y)
        case "Split": try split(n, x)
        case "ConstantOfShape":
            let (dtype, fill) = try constantOfShapeValue(n)
            try emit(n, op: "ConstantOfShape", inputs: [x], outputs: [y],
                     attributes: ["value": .float(Float(fill)), "dtype": .string(dtype.rawValue)], dtype: dtype)
        case "Shape", "Constant":
            throw notStaticOp(n)
        default:
            throw ONNXError.unsupportedOps(path: path, ops: [n.op: 1])
        }
    }

    private func notStaticOp(_ n: ONNXNode) -> ONNXError {
        .notStatic(path: path, node: n.name, value: n.inputs.first ?? n.name)
    }

    func clip(_ n: ONNXNode, _ x: String, _ y: String) throws {
        var attrs: [String: Attribute] = [:]
        if opset < 11 {
            if let v = n.float("min") { attrs["min"] = .float(v) }
            if let v = n.float("max") { attrs["max"] = .float(v) }
        } else {
            if let m = n.input(1) { attrs["min"] = .float(Float(try constantScalar(m, n))) }
            if let m = n.input(2) { attrs["max"] = .float(Float(try constantScalar(m, n))) }
        }
        try emit(n, op: "Clip", inputs: [x], outputs: [y], attributes: attrs)
    }

    /// Before opset 13 Softmax flattens to 2-D at `axis`; from 13 it is one axis.
    func softmax(_ n: ONNXNode, _ x: String, _ y: String) throws {
        let s = try shape(x, n)
        let a = try normalizeAxis(n.int("axis") ?? (opset < 13 ? 1 : -1), rank: s.count, n)
        if opset >= 13 || a == s.count - 1 {
            try emit(n, op: "Softmax", inputs: [x], outputs: [y], attributes: ["axis": .int(a)])
            return
        }
        let flat = "\(y)/flat", soft = "\(y)/softmax"
        try emit(n, op: "Flatten", inputs: [x], outputs: [flat], attributes: ["axis": .int(a)], suffix: "flatten")
        try emit(n, op: "Softmax", inputs: [flat], outputs: [soft], attributes: ["axis": .int(1)], suffix: "softmax")
        try emit(n, op: "Reshape", inputs: [soft], outputs: [y], attributes: ["shape": .ints(try reshapeTarget(s, from: try shape(soft, n), n)), "allowzero": .int(0)])
    }

    /// A Reshape `shape` attribute that restores `target` from `source`: known
    /// dims literally, a batch dim as 0 (copy) when it sits at the same index, else -1.
    func reshapeTarget(_ target: SymShape, from source: SymShape, _ n: ONNXNode) throws -> [Int] {
        var out: [Int] = []
        var inferred = false
        for (i, d) in target.enumerated() {
            if let v = d.value {
                out.append(v)
            } else if i < source.count && source[i] == d {
                out.append(0)
            } else {
                guard !inferred else { throw unsupportedForm(n, "target shape \(target.rendered) has more than one batch-dependent dimension") }
                inferred = true
                out.append(-1)
            }
        }
        if target.contains(SymDim(0)) {
            throw unsupportedForm(n, "zero-sized dimensions in a computed shape")
        }
        return out
    }

    /// Explicit pads for `auto_pad` (SAME_UPPER puts the odd pixel at the end).
    func resolvePads(_ n: ONNXNode, input: SymShape, kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
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
            var begin: [Int] = [], end: [Int] = []
            for i in 0..<k {
                let size = try known(input[i + 2], n, "spatial size")
                let out = (size + strides[i] - 1) / strides[i]
                let total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size)
                let small = total / 2, large = total - small
                begin.append(autoPad == "SAME_UPPER" ? small : large)
                end.append(autoPad == "SAME_UPPER" ? large : small)
            }
            return begin + end
        default:
            throw invalid(n, "unknown auto_pad '\(autoPad)'")
        }
    }

    func conv(_ n: ONNXNode, _ x: String, _ y: String) throws {
        guard let w = n.input(1) else { throw invalid(n, "needs input X and weight W") }
        let xs = try shape(x, n), ws = try shape(w, n)
        guard ws.count >= 3, xs.count == ws.count else { throw invalid(n, "input \(xs.rendered) and weight \(ws.rendered) ranks differ") }
        let k = ws.count - 2
        let kernel = try n.ints("kernel_shape") ?? ws[2...].map { try known($0, n, "kernel size") }
        let strides = n.ints("strides") ?? Array(repeating: 1, count: k)
        let dilations = n.ints("dilations") ?? Array(repeating: 1, count: k)
        guard kernel.count == k, strides.count == k, dilations.count == k,
              strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw invalid(n, "kernel_shape \(kernel), strides \(strides), dilations \(dilations) do not fit a \(k)-D convolution")
        }
        let pads = try resolvePads(n, input: xs, kernel: kernel, strides: strides, dilations: dilations)
        try emit(n, op: "Conv", inputs: [x, w] + (n.input(2).map { [$0] } ?? []), outputs: [y], attributes: [
            "kernel_shape": .ints(kernel), "strides": .ints(strides), "dilations": .ints(dilations),
            "pads": .ints(pads), "group": .int(n.int("group") ?? 1),
        ])
    }

    func pool(_ n: ONNXNode, _ x: String, _ y: String) throws {
        if n.op == "MaxPool" { try requireOnlyFirstOutput(n, what: "argmax indices") }
        let xs = try shape(x, n)
        guard let kernel = n.ints("kernel_shape"), xs.count == kernel.count + 2 else {
            throw invalid(n, "kernel_shape is required and must match the input rank")
        }
        let k = kernel.count
        let strides = n.ints("strides") ?? Array(repeating: 1, count: k)
        let dilations = n.ints("dilations") ?? Array(repeating: 1, count: k)
        guard strides.count == k, dilations.count == k, strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }) else {
            throw invalid(n, "strides \(strides) or dilations \(dilations) do not fit kernel \(kernel)")
        }
        let pads = try resolvePads(n, input: xs, kernel: kernel, strides: strides, dilations: dilations)
        var attrs: [String: Attribute] = [
            "kernel_shape": .ints(kernel), "strides": .ints(strides), "dilations": .ints(dilations),
            "pads": .ints(pads), "ceil_mode": .int(n.int("ceil_mode") ?? 0),
        ]
        if n.op == "AveragePool" { attrs["count_include_pad"] = .int(n.int("count_include_pad") ?? 0) }
        try emit(n, op: n.op, inputs: [x], outputs: [y], attributes: attrs)
    }

    func reshape(_ n: ONNXNode, _ x: String, _ y: String) throws {
        let xs = try shape(x, n)
        var target: [Int]
        if opset < 5, let s = n.ints("shape") {
            target = s
        } else {
            guard let s = n.input(1) else { throw invalid(n, "needs a shape input") }
            switch lookup(s) {
            case .constant(let t)?:
                guard let v = t.intValues else { throw invalid(n, "shape must be int64") }
                target = v
            case .symbolic(let dims, _)?:
                target = try reshapeTarget(dims, from: xs, n)
                guard target.filter({ $0 == -1 }).count <= 1 else {
                    throw unsupportedForm(n, "shape \(dims.rendered) needs two inferred dimensions")
                }
            case .runtime?: throw ONNXError.notStatic(path: path, node: n.name, value: s)
            case nil: throw ONNXError.undefinedValue(path: path, node: n.name, value: s)
            }
        }
        let allowzero = opset >= 14 ? (n.int("allowzero") ?? 0) : 0
        try emit(n, op: "Reshape", inputs: [x], outputs: [y], attributes: ["shape": .ints(target), "allowzero": .int(allowzero)])
    }

    func squeeze(_ n: ONNXNode, _ x: String, _ y: String) throws {
        let xs = try shape(x, n)
        var axes: [Int]?
        if opset < 13 { axes = n.ints("axes") } else if let a = n.input(1) { axes = try constantInts(a, n) }
        if n.op == "Squeeze" {
            let resolved = try axes.map { try $0.map { try normalizeAxis($0, rank: xs.count, n) } }
                ?? xs.indices.filter { xs[$0] == SymDim(1) }
            try emit(n, op: "Squeeze", inputs: [x], outputs: [y], attributes: ["axes": .ints(Array(Set(resolved)).sorted())])
        } else {
            guard let a = axes else { throw invalid(n, "axes are required") }
            let rank = xs.count + a.count
            let resolved = try a.map { try normalizeAxis($0, rank: rank, n) }
            guard Set(resolved).count == resolved.count else { throw invalid(n, "repeated axes \(a)") }
            try emit(n, op: "Unsqueeze", inputs: [x], outputs: [y], attributes: ["axes": .ints(resolved.sorted())])
        }
    }

    /// Canonical Slice: one entry per sliced axis; starts/ends keep ONNX's
    /// meaning (negative from the end) and are clamped per run by the shape rule.
    func slice(_ n: ONNXNode, _ x: String, _ y: String) throws {
        let xs = try shape(x, n)
        let p = try sliceParameters(n, rank: xs.count)
        try emit(n, op: "Slice", inputs: [x], outputs: [y], attributes: [
            "starts": .ints(p.starts), "ends": .ints(p.ends), "axes": .ints(p.axes), "steps": .ints(p.steps),
        ])
    }

    /// Reads Slice parameters in either opset form; axes normalised, bounds as written
    /// (saturated to ±2^62 so later arithmetic cannot overflow).
    func sliceParameters(_ n: ONNXNode, rank: Int) throws -> (starts: [Int], ends: [Int], axes: [Int], steps: [Int]) {
        var starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?
        if opset < 10 {
            guard let s = n.ints("starts"), let e = n.ints("ends") else { throw invalid(n, "starts and ends are required") }
            starts = s; ends = e; axes = n.ints("axes")
        } else {
            guard let s = n.input(1), let e = n.input(2) else { throw invalid(n, "starts and ends inputs are required") }
            starts = try constantInts(s, n); ends = try constantInts(e, n)
            axes = try n.input(3).map { try constantInts($0, n) }
            steps = try n.input(4).map { try constantInts($0, n) }
        }
        let ax = try (axes ?? Array(0..<starts.count)).map { try normalizeAxis($0, rank: rank, n) }
        let st = steps ?? Array(repeating: 1, count: starts.count)
        guard ends.count == starts.count, ax.count == starts.count, st.count == starts.count, Set(ax).count == ax.count else {
            throw invalid(n, "starts, ends, axes and steps must have equal lengths and distinct axes")
        }
        for (j, step) in st.enumerated() where step == 0 { throw invalid(n, "step 0 on axis \(ax[j])") }
        let limit = 1 << 62
        func saturate(_ v: Int) -> Int { min(max(v, -limit), limit) }
        return (starts.map(saturate), ends.map(saturate), ax, st.map(saturate))
    }

    func pad(_ n: ONNXNode, _ x: String, _ y: String) throws {
        let rank = try shape(x, n).count
        let mode = n.string("mode") ?? "constant"
        guard ["constant", "reflect", "edge"].contains(mode) else { throw unsupportedForm(n, "mode '\(mode)'") }
        var pads: [Int]
        var value: Float = 0
        if opset < 11 {
            pads = n.ints("pads") ?? n.ints("paddings") ?? []
            value = n.float("value") ?? 0
        } else {
            guard let p = n.input(1) else { throw invalid(n, "pads input is required") }
            pads = try constantInts(p, n)
            if let v = n.input(2) { value = Float(try constantScalar(v, n)) }
            if let a = n.input(3) {
                let axes = try constantInts(a, n).map { try normalizeAxis($0, rank: rank, n) }
                guard pads.count == 2 * axes.count else { throw invalid(n, "pads \(pads) do not match axes \(axes)") }
                var full = Array(repeating: 0, count: 2 * rank)
                for (j, a) in axes.enumerated() {
                    full[a] = pads[j]
                    full[a + rank] = pads[j + axes.count]
                }
                pads = full
            }
        }
        guard pads.count == 2 * rank else { throw invalid(n, "pads has \(pads.count) values for rank \(rank)") }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw unsupportedForm(n, "negative pads (cropping)") }
        try emit(n, op: "Pad", inputs: [x], outputs: [y], attributes: ["pads": .ints(pads), "mode": .string(mode), "value": .float(value)])
    }

    func reduceMean(_ n: ONNXNode, _ x: String, _ y: String) throws {
        let rank = try shape(x, n).count
        var axes: [Int]?
        if opset < 18 { axes = n.ints("axes") } else if let a = n.input(1) { axes = try constantInts(a, n) }
        if (axes ?? []).isEmpty {
            if opset >= 18 && (n.int("noop_with_empty_axes") ?? 0) != 0 { try alias(y, to: x); return }
            axes = Array(0..<rank)
        }
        let resolved = try axes!.map { try normalizeAxis($0, rank: rank, n) }
        try emit(n, op: "ReduceMean", inputs: [x], outputs: [y],
                 attributes: ["axes": .ints(Array(Set(resolved)).sorted()), "keepdims": .int(n.int("keepdims") ?? 1)])
    }

    func split(_ n: ONNXNode, _ x: String) throws {
        let xs = try shape(x, n)
        let axis = try normalizeAxis(n.int("axis") ?? 0, rank: xs.count, n)
        let size = try known(xs[axis], n, "the split axis")
        let count = n.outputs.count
        var sizes: [Int]
        if opset < 13, let s = n.ints("split") {
            sizes = s
        } else if opset >= 13, let s = n.input(1) {
            sizes = try constantInts(s, n)
        } else if let parts = n.int("num_outputs") {
            guard parts > 0, parts == count else { throw invalid(n, "num_outputs \(parts) differs from \(count) outputs") }
            let chunk = (size + parts - 1) / parts
            sizes = (0..<parts).map { max(0, min(chunk, size - $0 * chunk)) }
        } else {
            guard count > 0, size % count == 0 else { throw invalid(n, "axis size \(size) does not split evenly into \(count) outputs") }
            sizes = Array(repeating: size / count, count: count)
        }
        try emit(n, op: "Split", inputs: [x], outputs: n.outputs, attributes: ["axis": .int(axis), "split": .ints(sizes)])
    }
}
