import Foundation
import ZooCore

/// GridSample (opsets 16, 20, 22), AffineGrid (20), RoiAlign (10, 16, 22),
/// NonMaxSuppression (10, 11), Col2Im (18) and CenterCropPad (18), as the
/// IR ops of ZooCore `SamplingOps`.
///
/// Parameters ONNX passes as inputs become attributes when they are
/// constants; run-time (and shape-derived) ones stay inputs at their ONNX position.
enum SamplingNormalisers {
    static let table: [String: Normaliser] = [
        "GridSample": gridSample, "AffineGrid": affineGrid, "RoiAlign": roiAlign,
        "NonMaxSuppression": nonMaxSuppression, "Col2Im": col2Im, "CenterCropPad": centerCropPad,
    ]

    /// Input `i`'s constant tensor, nil when it is computed at run time; an error when it is absent.
    static func constant(_ s: ImportSession, _ n: ONNXNode, _ i: Int, _ what: String) throws -> Tensor? {
        guard let name = n.input(i) else { throw s.invalid(n, "needs \(what)") }
        switch s.lookup(name) {
        case .constant(let t)?: return t
        case .runtime?, .symbolic?: return nil
        case nil: throw ONNXError.undefinedValue(path: s.path, node: n.name, value: name)
        }
    }

    /// Input `i` as an ints attribute when constant (else it stays an input).
    static func intsParameter(_ s: ImportSession, _ n: ONNXNode, _ i: Int, _ what: String,
                              attrs: inout [String: Attribute], inputs: inout [String]) throws {
        guard let name = n.input(i) else { throw s.invalid(n, "needs \(what)") }
        guard !(try s.dtype(name, n).isFloatingPoint) else { throw s.invalid(n, "\(what) must be integers") }
        if let t = try constant(s, n, i, what) {
            guard t.shape.count == 1, let v = t.intValues else { throw s.invalid(n, "\(what) must be a 1-D integer tensor") }
            attrs[what] = .ints(v)
        } else {
            inputs[i] = name
        }
    }

    /// GridSample-16 is 4-D only and names its modes bilinear/bicubic; 20 and 22 are N-D with linear/cubic.
    static let gridSample: Normaliser = { s, n in
        guard let grid = n.input(1) else { throw s.invalid(n, "needs X and grid") }
        let legacy = s.opset < 20
        let names: [String: String] = legacy ? ["bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"]
                                             : ["linear": "linear", "nearest": "nearest", "cubic": "cubic"]
        let given = n.string("mode") ?? (legacy ? "bilinear" : "linear")
        guard let mode = names[given] else { throw s.unsupportedForm(n, "mode '\(given)'") }
        let padding = n.string("padding_mode") ?? "zeros"
        guard SamplingOps.paddingModes.contains(padding) else { throw s.unsupportedForm(n, "padding_mode '\(padding)'") }
        let rank = try s.shape(n.x, n).count
        if legacy, rank != 4 { throw s.invalid(n, "GridSample-\(s.opset) takes a 4-D input, got rank \(rank)") }
        let dtype = try s.dtype(n.x, n)
        if dtype == .bytes { throw s.unsupportedForm(n, "string data") }
        if mode != "nearest", !dtype.isFloatingPoint { throw s.unsupportedForm(n, "mode '\(given)' on integer data") }
        guard try s.dtype(grid, n).isFloatingPoint else { throw s.invalid(n, "grid must be floating point") }
        try s.emit(n, op: "GridSample", inputs: [n.x, grid], outputs: [try n.output(s)], attributes: [
            "mode": .string(mode), "padding_mode": .string(padding), "align_corners": .int(n.int("align_corners") ?? 0 != 0 ? 1 : 0),
        ])
    }

    static let affineGrid: Normaliser = { s, n in
        guard try s.dtype(n.x, n).isFloatingPoint else { throw s.invalid(n, "theta must be floating point") }
        var attrs: [String: Attribute] = ["align_corners": .int(n.int("align_corners") ?? 0 != 0 ? 1 : 0)]
        var inputs = [n.x, ""]
        try intsParameter(s, n, 1, "size", attrs: &attrs, inputs: &inputs)
        while inputs.last == "" { inputs.removeLast() }
        try s.emit(n, op: "AffineGrid", inputs: inputs, outputs: [try n.output(s)], attributes: attrs)
    }

    /// RoiAlign-10 has no coordinate_transformation_mode: it does not shift by half a pixel (output_half_pixel).
    static let roiAlign: Normaliser = { s, n in
        guard let rois = n.input(1), let batches = n.input(2) else { throw s.invalid(n, "needs X, rois and batch_indices") }
        let mode = n.string("mode") ?? "avg"
        guard SamplingOps.roiModes.contains(mode) else { throw s.unsupportedForm(n, "mode '\(mode)'") }
        let ctm = s.opset < 16 ? "output_half_pixel" : n.string("coordinate_transformation_mode") ?? "half_pixel"
        guard SamplingOps.roiCoordinateModes.contains(ctm) else { throw s.unsupportedForm(n, "coordinate_transformation_mode '\(ctm)'") }
        guard try s.dtype(n.x, n).isFloatingPoint, try s.dtype(rois, n).isFloatingPoint else { throw s.invalid(n, "X and rois must be floating point") }
        guard !(try s.dtype(batches, n).isFloatingPoint) else { throw s.invalid(n, "batch_indices must be int64") }
        var attrs = n.present(["output_height", "output_width", "sampling_ratio", "spatial_scale"])
        attrs["mode"] = .string(mode)
        attrs["coordinate_transformation_mode"] = .string(ctm)
        try s.emit(n, op: "RoiAlign", inputs: [n.x, rois, batches], outputs: [try n.output(s)], attributes: attrs)
    }

    /// Constant limits become attributes (an empty one is left out: absent); run-time ones stay inputs 2–4.
    static let nonMaxSuppression: Normaliser = { s, n in
        guard let scores = n.input(1) else { throw s.invalid(n, "needs boxes and scores") }
        let center = n.int("center_point_box") ?? 0
        guard center == 0 || center == 1 else { throw s.invalid(n, "center_point_box must be 0 or 1, got \(center)") }
        guard try s.dtype(n.x, n).isFloatingPoint, try s.dtype(scores, n).isFloatingPoint else { throw s.invalid(n, "boxes and scores must be floating point") }
        var attrs: [String: Attribute] = ["center_point_box": .int(center)]
        var inputs = [n.x, scores, "", "", ""]
        let limits = [(2, "max_output_boxes_per_class", false), (3, "iou_threshold", true), (4, "score_threshold", true)]
        for (i, name, isFloat) in limits {
            guard let value = n.input(i) else { continue }
            guard try s.dtype(value, n).isFloatingPoint == isFloat else { throw s.invalid(n, "\(name) must be \(isFloat ? "float" : "int64")") }
            guard let t = try constant(s, n, i, name) else {
                inputs[i] = value
                continue
            }
            guard t.elementCount <= 1, let v = t.doubleValues else { throw s.invalid(n, "\(name) must be a scalar") }
            guard let first = v.first else { continue }
            if isFloat {
                attrs[name] = .float(Float(first))
            } else {
                guard let k = t.intValues?.first else { throw s.invalid(n, "\(name) must be an integer") }
                attrs[name] = .int(k)
            }
        }
        while inputs.last == "" { inputs.removeLast() }
        try s.emit(n, op: "NonMaxSuppression", inputs: inputs, outputs: [try n.output(s)], attributes: attrs, dtype: .i64)
    }

    static let col2Im: Normaliser = { s, n in
        if try s.dtype(n.x, n) == .bytes { throw s.unsupportedForm(n, "string data") }
        var attrs = n.present(["strides", "pads", "dilations"])
        var inputs = [n.x, "", ""]
        try intsParameter(s, n, 1, "image_shape", attrs: &attrs, inputs: &inputs)
        try intsParameter(s, n, 2, "block_shape", attrs: &attrs, inputs: &inputs)
        while inputs.last == "" { inputs.removeLast() }
        try s.emit(n, op: "Col2Im", inputs: inputs, outputs: [try n.output(s)], attributes: attrs)
    }

    static let centerCropPad: Normaliser = { s, n in
        let rank = try s.shape(n.x, n).count
        if try s.dtype(n.x, n) == .bytes { throw s.unsupportedForm(n, "string data") }
        var attrs: [String: Attribute] = [:]
        if let given = n.ints("axes") {
            let axes = try given.map { try s.normalizeAxis($0, rank: rank, n) }
            guard Set(axes).count == axes.count else { throw s.invalid(n, "repeated axes \(given)") }
            attrs["axes"] = .ints(axes)
        }
        var inputs = [n.x, ""]
        try intsParameter(s, n, 1, "shape", attrs: &attrs, inputs: &inputs)
        while inputs.last == "" { inputs.removeLast() }
        try s.emit(n, op: "CenterCropPad", inputs: inputs, outputs: [try n.output(s)], attributes: attrs)
    }
}
