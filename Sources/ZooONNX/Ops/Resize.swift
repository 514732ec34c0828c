import Foundation
import ZooCore

/// Resize (opsets 10–19) and Upsample (1–10), both as the IR's Resize (ZooCore `ResizeOps`).
///
/// Constant roi, scales and sizes become attributes; run-time ones stay
/// inputs. Run-time scales also get the sizes they give, computed by
/// Shape → Cast → Mul → Cast nodes (⌊in × scale⌋ in f32), because the shape
/// rule can read integer values only.
enum ResizeNormalisers {
    static let table: [String: Normaliser] = ["Resize": resize, "Upsample": upsample]

    /// Resize-10 and Upsample have no coordinate or nearest modes: onnxruntime
    /// maps x_resized / scale and takes ⌊x⌋ (⌈x⌉ on a shrinking axis), which the IR calls `simple`.
    static let legacyModes: [String: Attribute] = [
        "coordinate_transformation_mode": .string("asymmetric"), "nearest_mode": .string("simple"),
    ]

    /// Where an optional input's values come from.
    enum Source {
        case absent
        case constant(Tensor)
        case runtime(String)
    }

    /// Input `i` as a constant, a run-time value, or absent ("" or no elements, as ONNX allows for Resize).
    static func source(_ s: ImportSession, _ n: ONNXNode, _ i: Int) throws -> Source {
        guard let name = n.input(i) else { return .absent }
        switch s.lookup(name) {
        case .constant(let t)?: return t.elementCount == 0 ? .absent : .constant(t)
        case .symbolic(let d, _)?: return d.isEmpty ? .absent : .runtime(name)
        case .runtime(_, let shape)?: return shape.contains(SymDim(0)) ? .absent : .runtime(name)
        case nil: throw ONNXError.undefinedValue(path: s.path, node: n.name, value: name)
        }
    }

    static let resize: Normaliser = { s, n in
        let mode = n.string("mode") ?? "nearest"
        if s.opset < 11 {
            guard ["nearest", "linear"].contains(mode) else { throw s.unsupportedForm(n, "mode '\(mode)'") }
            try emit(s, n, mode: mode, attributes: legacyModes, axes: nil, roi: .absent, scales: try source(s, n, 1), sizes: .absent)
            return
        }
        guard ResizeOps.modes.contains(mode) else { throw s.unsupportedForm(n, "mode '\(mode)'") }
        let ctm = n.string("coordinate_transformation_mode") ?? "half_pixel"
        guard ResizeOps.coordinateModes.contains(ctm) else { throw s.unsupportedForm(n, "coordinate_transformation_mode '\(ctm)'") }
        let nearest = n.string("nearest_mode") ?? "round_prefer_floor"
        guard ResizeOps.nearestModes.contains(nearest), nearest != "simple" else { throw s.unsupportedForm(n, "nearest_mode '\(nearest)'") }
        var attrs = n.present(["coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside", "extrapolation_value"])
        var axes: [Int]?
        if s.opset >= 18 {
            let policy = n.string("keep_aspect_ratio_policy") ?? "stretch"
            guard ResizeOps.aspectPolicies.contains(policy) else { throw s.unsupportedForm(n, "keep_aspect_ratio_policy '\(policy)'") }
            attrs.merge(n.present(["antialias", "keep_aspect_ratio_policy"])) { $1 }
            if let given = n.ints("axes") {
                let rank = try s.shape(n.x, n).count
                let resolved = try given.map { try s.normalizeAxis($0, rank: rank, n) }
                guard Set(resolved).count == resolved.count else { throw s.invalid(n, "repeated axes \(given)") }
                if resolved != Array(0..<rank) { axes = resolved }
            }
        }
        try emit(s, n, mode: mode, attributes: attrs, axes: axes,
                 roi: try source(s, n, 1), scales: try source(s, n, 2), sizes: try source(s, n, 3))
    }

    /// Upsample-1 has height_scale/width_scale (4-D), Upsample-7 a scales
    /// attribute, Upsample-9 and -10 a scales input; 'bilinear' (opset 1) is linear.
    static let upsample: Normaliser = { s, n in
        let given = n.string("mode") ?? "nearest"
        let mode = given == "bilinear" ? "linear" : given
        guard ["nearest", "linear"].contains(mode) else { throw s.unsupportedForm(n, "mode '\(given)'") }
        let scales: Source
        if s.opset < 7 {
            guard let h = n.float("height_scale"), let w = n.float("width_scale") else { throw s.invalid(n, "height_scale and width_scale are required") }
            guard try s.shape(n.x, n).count == 4 else { throw s.invalid(n, "Upsample-1 needs a 4-D input") }
            scales = .constant(try Tensor(floats: [1, 1, h, w], shape: [4]))
        } else if s.opset < 9 {
            guard case .floats(let v)? = n.attributes["scales"] else { throw s.invalid(n, "attribute 'scales' is required") }
            scales = .constant(try Tensor(floats: v, shape: [v.count]))
        } else {
            scales = try source(s, n, 1)
        }
        try emit(s, n, mode: mode, attributes: legacyModes, axes: nil, roi: .absent, scales: scales, sizes: .absent)
    }

    /// Emits Resize(X, roi?, scales?, sizes?) with each known value as an attribute.
    static func emit(_ s: ImportSession, _ n: ONNXNode, mode: String, attributes: [String: Attribute], axes: [Int]?,
                     roi: Source, scales: Source, sizes: Source) throws {
        let x = n.x, y = try n.output(s)
        let rank = try s.shape(x, n).count
        let k = axes?.count ?? rank
        if mode != "nearest", !(try s.dtype(x, n).isFloatingPoint) { throw s.unsupportedForm(n, "mode '\(mode)' on integer data") }
        var attrs = attributes
        attrs["mode"] = .string(mode)
        if let axes { attrs["axes"] = .ints(axes) }
        var inputs = [x, "", "", ""]
        // roi means something only to tf_crop_and_resize.
        if attrs["coordinate_transformation_mode"] == .string("tf_crop_and_resize") {
            switch roi {
            case .absent: throw s.invalid(n, "coordinate_transformation_mode 'tf_crop_and_resize' needs roi")
            case .constant(let t):
                guard let v = t.doubleValues, v.count == 2 * k else { throw s.invalid(n, "roi must hold \(2 * k) values") }
                attrs["roi"] = .floats(v.map(Float.init))
            case .runtime(let name):
                guard try s.dtype(name, n).isFloatingPoint else { throw s.invalid(n, "roi must be floating point") }
                inputs[1] = name
            }
        }
        switch (scales, sizes) {
        case (.absent, .absent): throw s.invalid(n, "needs scales or sizes")
        case (.absent, _), (_, .absent): break
        default: throw s.invalid(n, "scales and sizes are both given")
        }
        switch sizes {
        case .constant(let t):
            guard let v = t.intValues, v.count == k, v.allSatisfy({ $0 >= 0 }) else { throw s.invalid(n, "sizes must hold \(k) non-negative integers") }
            attrs["sizes"] = .ints(v)
        case .runtime(let name):
            guard !(try s.dtype(name, n).isFloatingPoint) else { throw s.invalid(n, "sizes must be int64") }
            inputs[3] = name
        case .absent: break
        }
        switch scales {
        case .constant(let t):
            guard let v = t.doubleValues, v.count == k, v.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                throw s.invalid(n, "scales must hold \(k) positive values")
            }
            attrs["scales"] = .floats(v.map(Float.init))
        case .runtime(let name):
            guard try s.dtype(name, n).isFloatingPoint else { throw s.invalid(n, "scales must be floating point") }
            inputs[2] = name
            inputs[3] = try computedSizes(s, n, x: x, scales: name, axes: axes, output: y)
        case .absent: break
        }
        while inputs.last == "" { inputs.removeLast() }
        try s.emit(n, op: "Resize", inputs: inputs, outputs: [y], attributes: attrs)
    }

    /// The sizes run-time `scales` give: Cast(Cast(Shape(X)[axes], f32) × scales, i64),
    /// the f32 ⌊in × scale⌋ of `ResizeOps.scaledSize` (the Cast truncates a non-negative value).
    static func computedSizes(_ s: ImportSession, _ n: ONNXNode, x: String, scales: String, axes: [Int]?, output y: String) throws -> String {
        let base = "\(y)/resize"
        var dims = "\(base)/shape"
        try s.emit(n, op: "Shape", inputs: [x], outputs: [dims], dtype: .i64, suffix: "shape")
        if let axes {
            let picked = "\(base)/axes"
            try s.define(picked, .constant(try Tensor.int64(axes)))
            try s.emit(n, op: "Gather", inputs: [dims, picked], outputs: ["\(base)/dims"], attributes: ["axis": .int(0)], dtype: .i64, suffix: "dims")
            dims = "\(base)/dims"
        }
        try s.emit(n, op: "Cast", inputs: [dims], outputs: ["\(base)/dims_f32"], attributes: ["to": .string(DType.f32.rawValue)],
                   dtype: .f32, suffix: "dims_f32")
        try s.emit(n, op: "Mul", inputs: ["\(base)/dims_f32", scales], outputs: ["\(base)/scaled"], dtype: .f32, suffix: "scaled")
        try s.emit(n, op: "Cast", inputs: ["\(base)/scaled"], outputs: ["\(base)/sizes"], attributes: ["to": .string(DType.i64.rawValue)],
                   dtype: .i64, suffix: "sizes")
        return "\(base)/sizes"
    }
}
