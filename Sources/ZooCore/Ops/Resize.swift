import Foundation

/// Resize (ONNX Resize 10–19 and Upsample 7–10, as one op).
///
/// IR form: `Resize(X, roi?, scales?, sizes?)` with ONNX Resize-19 semantics.
/// `axes` (default every axis, in order) names the axes that `scales`,
/// `sizes` and `roi` describe, one entry each (`roi`: all starts, then all
/// ends); other axes keep their size. Each of them is an attribute when the
/// importer knows it, or the input at the same position as in ONNX when it
/// is only known at run time; an input with no elements counts as absent.
///
/// The output shape comes from `sizes` (attribute or int64 input 3, a value
/// input) or from a `scales` attribute: ⌊in × scale⌋ in f32, as onnx's
/// shape inference and onnxruntime compute it. Because a shape rule sees
/// integer values only, run-time float `scales` must come with the `sizes`
/// they give (the importer computes them with Shape/Cast/Mul nodes); when
/// both are present `sizes` gives the shape and `scales` the coordinate
/// mapping, as ONNX does when scales are given.
public enum ResizeOps {
    public static let modes: Set<String> = ["nearest", "linear", "cubic"]
    /// `tf_half_pixel_for_nn` exists in Resize-11 only; it is kept for those files.
    public static let coordinateModes: Set<String> = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                                      "asymmetric", "tf_crop_and_resize", "tf_half_pixel_for_nn"]
    /// `simple` is the nearest pixel of Resize-10 and Upsample, which have no
    /// `nearest_mode`: ⌈x⌉ when the axis shrinks, ⌊x⌋ otherwise (onnxruntime's rule).
    public static let nearestModes: Set<String> = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple"]
    public static let aspectPolicies: Set<String> = ["stretch", "not_larger", "not_smaller"]

    /// A float-list attribute without a default (`AttributeSpec` has no `.floats` helper).
    static func floats(_ name: String) -> AttributeSpec {
        AttributeSpec(name: name, kind: .floats, defaultValue: nil, required: false)
    }

    /// The validated attributes of one Resize node, shared by the shape rule and the kernel.
    public struct Parameters: Sendable {
        public let mode: String, coordinates: String, nearest: String, policy: String
        public let cubicA: Double, excludeOutside: Bool, antialias: Bool, extrapolation: Float
        /// Normalised, distinct axes that scales, sizes and roi describe.
        public let axes: [Int]
        public let scales: [Float]?, sizes: [Int]?, roi: [Float]?
    }

    /// Reads and checks the attributes of a Resize node over an input of rank `rank`.
    public static func parameters(_ a: OpAttributes, rank: Int) throws -> Parameters {
        func list(_ name: String) throws -> [Float]? {
            guard let v = try a.raw(name) else { return nil }
            if let f = v.floatsValue { return f }
            if let i = v.intsValue { return i.map(Float.init) }
            throw a.fail("attribute '\(name)' must be a list of floats")
        }
        func choice(_ name: String, _ allowed: Set<String>) throws -> String {
            let v = try a.string(name)
            guard allowed.contains(v) else { throw a.fail("unknown \(name) '\(v)'") }
            return v
        }
        let mode = try choice("mode", modes), coordinates = try choice("coordinate_transformation_mode", coordinateModes)
        let nearest = try choice("nearest_mode", nearestModes), policy = try choice("keep_aspect_ratio_policy", aspectPolicies)
        var axes = Array(0..<rank)
        if let given = try a.optionalInts("axes") {
            axes = try given.map { v in
                let r = v < 0 ? v + rank : v
                guard r >= 0, r < rank else { throw a.fail("axis \(v) out of range for rank \(rank)") }
                return r
            }
            guard Set(axes).count == axes.count else { throw a.fail("repeated axes \(given)") }
        }
        let scales = try list("scales"), sizes = try a.optionalInts("sizes"), roi = try list("roi")
        if let scales {
            guard scales.count == axes.count else { throw a.fail("\(scales.count) scales for \(axes.count) axes") }
            guard scales.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw a.fail("scales \(scales) must be positive") }
        }
        if let sizes {
            guard sizes.count == axes.count else { throw a.fail("\(sizes.count) sizes for \(axes.count) axes") }
            guard sizes.allSatisfy({ $0 >= 0 }) else { throw a.fail("negative sizes \(sizes)") }
        }
        if let roi, coordinates == "tf_crop_and_resize", roi.count != 2 * axes.count {
            throw a.fail("roi has \(roi.count) values for \(axes.count) axes")
        }
        return Parameters(mode: mode, coordinates: coordinates, nearest: nearest, policy: policy,
                          cubicA: Double(try a.float("cubic_coeff_a")), excludeOutside: try a.int("exclude_outside") != 0,
                          antialias: try a.int("antialias") != 0, extrapolation: try a.float("extrapolation_value"),
                          axes: axes, scales: scales, sizes: sizes, roi: roi)
    }

    /// ⌊in × scale⌋ in f32 (onnx shape inference and onnxruntime); nil when absurd.
    public static func scaledSize(_ n: Int, _ scale: Float) -> Int? {
        let v = (Float(n) * scale).rounded(.down)
        guard v.isFinite, v >= 0, v <= Float(ShapeMath.maxElements) else { return nil }
        return Int(v)
    }

    /// The one scale of `keep_aspect_ratio_policy` not_larger (smallest
    /// sizes[i] / in[i]) or not_smaller (largest); nil for stretch or an empty input axis.
    public static func policyScale(_ policy: String, sizes: [Int], inputs: [Int]) -> Double? {
        guard policy != "stretch", !sizes.isEmpty, inputs.allSatisfy({ $0 > 0 }) else { return nil }
        let ratios = zip(sizes, inputs).map { Double($0) / Double($1) }
        return policy == "not_larger" ? ratios.min() : ratios.max()
    }

    /// round_int(scale × in), halves up (the spec's keep-aspect-ratio size).
    public static func policySize(_ scale: Double, _ n: Int) -> Int? {
        let v = (scale * Double(n) + 0.5).rounded(.down)
        guard v.isFinite, v >= 0, v <= Double(ShapeMath.maxElements) else { return nil }
        return Int(v)
    }

    /// Whether an input of shape `s` holds elements (an empty one stands for an absent input).
    static func present(_ s: SymShape?) -> Bool {
        guard let s else { return false }
        return !s.contains(SymDim(0))
    }

    public static let specs: [OpSpec] = [
        OpSpec("Resize", family: "Resize", inputs: 1...4, attributes: [
            .string("mode", "nearest"), .string("coordinate_transformation_mode", "half_pixel"),
            .string("nearest_mode", "round_prefer_floor"), .float("cubic_coeff_a", -0.75), .int("exclude_outside", 0),
            .float("extrapolation_value", 0), .int("antialias", 0), .string("keep_aspect_ratio_policy", "stretch"),
            .ints("axes"), floats("scales"), .ints("sizes"), floats("roi"),
        ], valueInputs: [3]) { c in
            let x = try c.input(0)
            let p = try parameters(c.attrs, rank: x.count)
            let scalesGiven = p.scales != nil || present(c.optionalInput(2))
            guard p.coordinates != "tf_crop_and_resize" || p.roi != nil || present(c.optionalInput(1)) else {
                throw c.fail("tf_crop_and_resize needs roi")
            }
            var out = x
            var sizes: [SymDim]? = p.sizes.map { $0.map(SymDim.init) }
            if sizes == nil, present(c.optionalInput(3)) {
                if let v = c.value(3) {
                    sizes = v
                } else {
                    for a in p.axes { out[a] = c.unknown() }
                    return [out]
                }
            }
            if let sizes {
                guard sizes.count == p.axes.count else { throw c.fail("\(sizes.count) sizes for \(p.axes.count) axes") }
                for d in sizes { if let v = d.value, v < 0 { throw c.fail("negative size \(v)") } }
                if p.policy != "stretch" && !scalesGiven {
                    let fixed = sizes.compactMap(\.value), ins = p.axes.compactMap { x[$0].value }
                    guard fixed.count == sizes.count, ins.count == sizes.count else {
                        for a in p.axes { out[a] = c.unknown() }
                        return [out]
                    }
                    guard let scale = policyScale(p.policy, sizes: fixed, inputs: ins) else {
                        throw c.fail("keep_aspect_ratio_policy \(p.policy) needs non-empty input axes")
                    }
                    for (j, a) in p.axes.enumerated() {
                        guard let v = policySize(scale, ins[j]) else { throw c.fail("output size overflows") }
                        out[a] = SymDim(v)
                    }
                } else {
                    for (j, a) in p.axes.enumerated() { out[a] = sizes[j] }
                }
            } else if let scales = p.scales {
                for (j, a) in p.axes.enumerated() {
                    let s = scales[j]
                    if let v = x[a].value {
                        guard let o = scaledSize(v, s) else { throw c.fail("output size \(v) × \(s) overflows") }
                        out[a] = SymDim(o)
                    } else if s == 1 {
                        continue
                    } else if s == s.rounded(), s <= Float(1 << 20), let d = x[a].times(SymDim(Int(s))) {
                        out[a] = d
                    } else {
                        out[a] = c.unknown()
                    }
                }
            } else if scalesGiven {
                throw c.fail("run-time scales need the sizes they give as input 3")
            } else {
                throw c.fail("needs scales or sizes")
            }
            _ = try c.product(out)
            return [out]
        },
    ]
}
