import Foundation
import ZooCore

/// Data movement: concatenation, reshapes, transposes, selection, padding, splitting, broadcasting.
enum MovementNormalisers {
    static let table: [String: Normaliser] = [
        "Concat": { s, n in
            let xs = try s.shape(n.x, n)
            try s.emit(n, op: "Concat", inputs: n.inputs.filter { !$0.isEmpty }, outputs: [try n.output(s)],
                       attributes: ["axis": .int(try s.normalizeAxis(n.int("axis") ?? 1, rank: xs.count, n))])
        },
        "Flatten": { s, n in
            let rank = try s.shape(n.x, n).count
            var a = n.int("axis") ?? 1
            if a < 0 { a += rank }
            guard a >= 0, a <= rank else { throw s.invalid(n, "axis \(n.int("axis") ?? 1) out of range for rank \(rank)") }
            try s.emit(n, op: "Flatten", inputs: [n.x], outputs: [try n.output(s)], attributes: ["axis": .int(a)])
        },
        "Reshape": reshape,
        "Transpose": { s, n in
            let rank = try s.shape(n.x, n).count
            let perm = try (n.ints("perm") ?? Array((0..<rank).reversed())).map { try s.normalizeAxis($0, rank: rank, n) }
            try s.emit(n, op: "Transpose", inputs: [n.x], outputs: [try n.output(s)], attributes: ["perm": .ints(perm)])
        },
        "Squeeze": squeeze, "Unsqueeze": squeeze,
        // At inference Dropout is the identity; its mask (opset ≥ 7 output 1) is all true.
        "Dropout": { s, n in
            if let t = n.input(2), try s.constantScalar(t, n) != 0 { throw s.unsupportedForm(n, "training_mode=1") }
            try s.alias(try n.output(s), to: n.x)
            if n.outputs.count > 1, !n.outputs[1].isEmpty {
                let mask = n.outputs[1], shape = "\(mask)/shape"
                let dtype: DType = s.opset >= 12 ? .bool : try s.dtype(n.x, n)
                try s.emit(n, op: "Shape", inputs: [n.x], outputs: [shape], dtype: .i64, suffix: "mask_shape")
                try s.emit(n, op: "ConstantOfShape", inputs: [shape], outputs: [mask],
                           attributes: ["value": .float(1), "dtype": .string(dtype.rawValue)], dtype: dtype, suffix: "mask")
            }
        },
        "Identity": { s, n in try s.alias(try n.output(s), to: n.x) },
        "Gather": { s, n in
            guard let idx = n.input(1) else { throw s.invalid(n, "needs data and indices") }
            let xs = try s.shape(n.x, n)
            let a = try s.normalizeAxis(n.int("axis") ?? 0, rank: xs.count, n)
            guard [.i64, .i32].contains(try s.dtype(idx, n)) else { throw s.invalid(n, "indices must be int32 or int64") }
            try s.emit(n, op: "Gather", inputs: [n.x, idx], outputs: [try n.output(s)], attributes: ["axis": .int(a)])
        },
        // One entry per sliced axis; starts/ends keep ONNX's meaning and are clamped per run.
        "Slice": { s, n in
            // Parameters known only at run time stay inputs (clamped per run like static ones).
            if s.opset >= 10, n.inputs.dropFirst().contains(where: { !$0.isEmpty && !s.isStatic($0) }) {
                try s.emit(n, op: "Slice", inputs: n.inputs, outputs: [try n.output(s)])
                return
            }
            let p = try s.sliceParameters(n, input: try s.shape(n.x, n))
            try s.emit(n, op: "Slice", inputs: [n.x], outputs: [try n.output(s)], attributes: [
                "starts": .ints(p.starts), "ends": .ints(p.ends), "axes": .ints(p.axes), "steps": .ints(p.steps),
            ])
        },
        "Pad": pad,
        "Split": split,
        "Expand": { s, n in
            guard let shape = n.input(1) else { throw s.invalid(n, "needs a shape input") }
            try s.emit(n, op: "Expand", inputs: [n.x, shape], outputs: [try n.output(s)])
        },
    ]

    static let reshape: Normaliser = { s, n in
        let x = n.x, y = try n.output(s)
        let allowzero = s.opset >= 14 ? (n.int("allowzero") ?? 0) : 0
        if s.opset < 5, let t = n.ints("shape") {
            try s.emit(n, op: "Reshape", inputs: [x], outputs: [y], attributes: ["shape": .ints(t), "allowzero": .int(allowzero)])
            return
        }
        guard let target = n.input(1) else { throw s.invalid(n, "needs a shape input") }
        switch s.lookup(target) {
        case .constant(let t)?:
            guard let v = t.intValues else { throw s.invalid(n, "shape must be int64") }
            try s.emit(n, op: "Reshape", inputs: [x], outputs: [y], attributes: ["shape": .ints(v), "allowzero": .int(allowzero)])
        case .symbolic(let dims, _)? where allowzero == 0:
            // A computed target: 0 / -1 where possible, else the shape value itself at run time.
            let xs = try s.shape(x, n)
            if let t = s.reshapeAttribute(dims, from: xs, onnxLiterals: true) {
                try s.emit(n, op: "Reshape", inputs: [x], outputs: [y], attributes: ["shape": .ints(t), "allowzero": .int(0)])
            } else {
                try s.emit(n, op: "Reshape", inputs: [x, target], outputs: [y], attributes: ["allowzero": .int(0)])
            }
        case .symbolic?, .runtime?:
            try s.emit(n, op: "Reshape", inputs: [x, target], outputs: [y], attributes: ["allowzero": .int(allowzero)])
        case nil: throw ONNXError.undefinedValue(path: s.path, node: n.name, value: target)
        }
    }

    static let squeeze: Normaliser = { s, n in
        let x = n.x, y = try n.output(s)
        let xs = try s.shape(x, n)
        var axes: [Int]?
        if s.opset < 13 {
            axes = n.ints("axes")
        } else if let a = n.input(1) {
            guard case .constant? = s.lookup(a) else {
                // Axes known only at run time stay an input.
                try s.emit(n, op: n.op, inputs: [x, a], outputs: [y])
                return
            }
            axes = try s.constantInts(a, n)
        }
        if n.op == "Squeeze" {
            guard let a = axes else {
                // Without axes every size-1 axis goes; a symbolic size is only known per run.
                if xs.allSatisfy(\.isFixed) {
                    try s.emit(n, op: "Squeeze", inputs: [x], outputs: [y], attributes: ["axes": .ints(xs.indices.filter { xs[$0] == SymDim(1) })])
                } else {
                    try s.emit(n, op: "Squeeze", inputs: [x], outputs: [y])
                }
                return
            }
            let resolved = try a.map { try s.normalizeAxis($0, rank: xs.count, n) }
            try s.emit(n, op: "Squeeze", inputs: [x], outputs: [y], attributes: ["axes": .ints(Array(Set(resolved)).sorted())])
        } else {
            guard let a = axes else { throw s.invalid(n, "axes are required") }
            let rank = xs.count + a.count
            let resolved = try a.map { try s.normalizeAxis($0, rank: rank, n) }
            guard Set(resolved).count == resolved.count else { throw s.invalid(n, "repeated axes \(a)") }
            try s.emit(n, op: "Unsqueeze", inputs: [x], outputs: [y], attributes: ["axes": .ints(resolved.sorted())])
        }
    }

    static let pad: Normaliser = { s, n in
        let x = n.x, y = try n.output(s)
        let rank = try s.shape(x, n).count
        let mode = n.string("mode") ?? "constant"
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else { throw s.unsupportedForm(n, "mode '\(mode)'") }
        var pads: [Int]
        var value: Float = 0
        if s.opset >= 11, n.inputs.dropFirst().contains(where: { !$0.isEmpty && !s.isStatic($0) }) {
            // Pads, value or axes known only at run time stay inputs.
            try s.emit(n, op: "Pad", inputs: n.inputs, outputs: [y], attributes: ["mode": .string(mode)])
            return
        }
        if s.opset < 11 {
            pads = n.ints("pads") ?? n.ints("paddings") ?? []
            value = n.float("value") ?? 0
        } else {
            guard let p = n.input(1) else { throw s.invalid(n, "pads input is required") }
            pads = try s.constantInts(p, n)
            if let v = n.input(2) { value = Float(try s.constantScalar(v, n)) }
            if let a = n.input(3) {
                pads = try MovementOps.fullPads(pads, axes: try s.constantInts(a, n), rank: rank, fail: { s.invalid(n, $0) })
            }
        }
        guard pads.count == 2 * rank else { throw s.invalid(n, "pads has \(pads.count) values for rank \(rank)") }
        try s.emit(n, op: "Pad", inputs: [x], outputs: [y], attributes: ["pads": .ints(pads), "mode": .string(mode), "value": .float(value)])
    }

    static let split: Normaliser = { s, n in
        let x = n.x
        let xs = try s.shape(x, n)
        let axis = try s.normalizeAxis(n.int("axis") ?? 0, rank: xs.count, n)
        let count = n.outputs.count
        var sizes: [Int]?
        if s.opset < 13, let v = n.ints("split") {
            sizes = v
        } else if s.opset >= 13, let v = n.input(1) {
            guard s.isStatic(v) else {
                // Sizes known only at run time stay an input.
                try s.emit(n, op: "Split", inputs: [x, v], outputs: n.outputs, attributes: ["axis": .int(axis)])
                return
            }
            sizes = try s.constantInts(v, n)
        } else if let parts = n.int("num_outputs") {
            guard parts > 0, parts == count else { throw s.invalid(n, "num_outputs \(parts) differs from \(count) outputs") }
        } else if let size = xs[axis].value {
            guard count > 0, size % count == 0 else { throw s.invalid(n, "axis size \(size) does not split evenly into \(count) outputs") }
        }
        // Without sizes the IR splits into chunks of ⌈size/outputs⌉ per run.
        var attrs: [String: Attribute] = ["axis": .int(axis)]
        if let sizes { attrs["split"] = .ints(sizes) } else if let size = xs[axis].value { attrs["split"] = .ints(MovementOps.splitSizes(size, parts: count)) }
        try s.emit(n, op: "Split", inputs: [x], outputs: n.outputs, attributes: attrs)
    }
}

extension ImportSession {
    /// Whether `name` is known at import (a constant or a symbolic shape value).
    func isStatic(_ name: String) -> Bool {
        switch lookup(name) {
        case .constant?, .symbolic?: return true
        default: return false
        }
    }

    /// Slice parameters in either opset form; axes normalised, bounds as
    /// written (saturated to ±2^62). A bound computed from the sliced axis's
    /// own size (`Shape(x)[a] - k`) becomes a bound counted from the end.
    func sliceParameters(_ n: ONNXNode, input xs: SymShape) throws -> (starts: [Int], ends: [Int], axes: [Int], steps: [Int]) {
        let rank = xs.count
        var startsRaw: [SymDim], endsRaw: [SymDim], axes: [Int]?, steps: [Int]?
        if opset < 10 {
            guard let s = n.ints("starts"), let e = n.ints("ends") else { throw invalid(n, "starts and ends are required") }
            startsRaw = s.map(SymDim.init); endsRaw = e.map(SymDim.init); axes = n.ints("axes")
        } else {
            guard let s = n.input(1), let e = n.input(2) else { throw invalid(n, "starts and ends inputs are required") }
            startsRaw = try shapeElements(s, n); endsRaw = try shapeElements(e, n)
            axes = try n.input(3).map { try constantInts($0, n) }
            steps = try n.input(4).map { try constantInts($0, n) }
        }
        let ax = try (axes ?? Array(0..<startsRaw.count)).map { try normalizeAxis($0, rank: rank, n) }
        let st = steps ?? Array(repeating: 1, count: startsRaw.count)
        guard endsRaw.count == startsRaw.count, ax.count == startsRaw.count, st.count == startsRaw.count, Set(ax).count == ax.count else {
            throw invalid(n, "starts, ends, axes and steps must have equal lengths and distinct axes")
        }
        for (j, step) in st.enumerated() where step == 0 { throw invalid(n, "step 0 on axis \(ax[j])") }
        let limit = 1 << 62
        func bound(_ v: SymDim, axis: Int) throws -> Int {
            if let c = v.value { return min(max(c, -limit), limit) }
            // Relative to the axis's own size: n + c with c ≤ 0 counts from the end.
            if let d = v.subtracting(xs[axis]), let c = d.value { return c >= 0 ? limit : c }
            throw unsupportedForm(n, "slice bound \(v) on an axis of size \(xs[axis]) is not known until run time")
        }
        let starts = try startsRaw.indices.map { try bound(startsRaw[$0], axis: ax[$0]) }
        let ends = try endsRaw.indices.map { try bound(endsRaw[$0], axis: ax[$0]) }
        return (starts, ends, ax, st.map { min(max($0, -limit), limit) })
    }

    /// Elements of a static integer value (constant or symbolic shape value).
    func shapeElements(_ name: String, _ n: ONNXNode) throws -> [SymDim] {
        switch lookup(name) {
        case .symbolic(let d, _)?: return d
        case .constant(let t)?:
            guard let v = t.intValues else { throw invalid(n, "input '\(name)' must hold integers") }
            return v.map(SymDim.init)
        default: throw ONNXError.notStatic(path: path, node: n.name, value: name)
        }
    }
}
