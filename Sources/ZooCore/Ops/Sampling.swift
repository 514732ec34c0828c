/// Sampling ops: resampling at computed positions (GridSample, AffineGrid,
/// RoiAlign), box selection (NonMaxSuppression), block folding (Col2Im) and
/// centred cropping/padding (CenterCropPad). ONNX semantics throughout.
///
/// Parameters that ONNX passes as inputs (AffineGrid's size, Col2Im's
/// image/block shapes, CenterCropPad's shape, NonMaxSuppression's limits)
/// are attributes when static at import and stay inputs, at the ONNX
/// position, when known only at run time.
public enum SamplingOps {
    /// GridSample modes with the names of ONNX GridSample-20 (16's bilinear/bicubic are linear/cubic).
    public static let gridModes: Set<String> = ["linear", "nearest", "cubic"]
    public static let paddingModes: Set<String> = ["zeros", "border", "reflection"]
    public static let roiModes: Set<String> = ["avg", "max"]
    /// `output_half_pixel` is RoiAlign-10's behaviour (no −0.5 shift of the input coordinates).
    public static let roiCoordinateModes: Set<String> = ["half_pixel", "output_half_pixel"]

    /// A string attribute that must be one of `allowed`.
    public static func choice(_ a: OpAttributes, _ name: String, _ allowed: Set<String>) throws -> String {
        let v = try a.string(name)
        guard allowed.contains(v) else { throw a.fail("unknown \(name) '\(v)'") }
        return v
    }

    /// Col2Im's window geometry over `k` spatial axes: strides, dilations (default 1)
    /// and pads (begins then ends, default 0), checked.
    public static func window(_ a: OpAttributes, spatial k: Int) throws -> (strides: [Int], dilations: [Int], pads: [Int]) {
        let strides = try a.optionalInts("strides") ?? Array(repeating: 1, count: k)
        let dilations = try a.optionalInts("dilations") ?? Array(repeating: 1, count: k)
        let pads = try a.optionalInts("pads") ?? Array(repeating: 0, count: 2 * k)
        let sane = { (v: Int, low: Int) in v >= low && v <= 1 << 20 }
        guard strides.count == k, dilations.count == k, pads.count == 2 * k,
              strides.allSatisfy({ sane($0, 1) }), dilations.allSatisfy({ sane($0, 1) }), pads.allSatisfy({ sane($0, 0) }) else {
            throw a.fail("strides \(strides), dilations \(dilations) and pads \(pads) do not fit \(k) spatial axes")
        }
        return (strides, dilations, pads)
    }

    /// Blocks along each axis of a Col2Im image (nil when a block does not fit).
    public static func blockCounts(image: [Int], block: [Int], strides: [Int], dilations: [Int], pads: [Int]) -> [Int]? {
        let k = image.count
        var out: [Int] = []
        for i in 0..<k {
            guard let n = ShapeInference.windowOutput(input: image[i], kernel: block[i], stride: strides[i], dilation: dilations[i],
                                                      padBegin: pads[i], padEnd: pads[i + k], ceil: false) else { return nil }
            out.append(n)
        }
        return out
    }

    /// The axes CenterCropPad resizes, normalised: `axes`, or every axis.
    public static func cropAxes(_ a: OpAttributes, rank: Int) throws -> [Int] {
        guard let given = try a.optionalInts("axes") else { return Array(0..<rank) }
        let axes = try given.map { v -> Int in
            let r = v < 0 ? v + rank : v
            guard r >= 0, r < rank else { throw a.fail("axis \(v) out of range for rank \(rank)") }
            return r
        }
        guard Set(axes).count == axes.count else { throw a.fail("repeated axes \(given)") }
        return axes
    }

    public static let specs: [OpSpec] = [
        // GridSample(X [N, C, d1…dr], grid [N, o1…or, r]) → [N, C, o1…or]; grid's
        // last axis lists coordinates innermost axis first (x, y, z…).
        OpSpec("GridSample", family: "Sampling", inputs: 2...2, attributes: [
            .string("mode", "linear"), .string("padding_mode", "zeros"), .int("align_corners", 0),
        ]) { c in
            let x = try c.input(0), g = try c.input(1)
            _ = try choice(c.attrs, "mode", gridModes)
            _ = try choice(c.attrs, "padding_mode", paddingModes)
            guard x.count >= 3, g.count == x.count else { throw c.fail("input \(x.rendered) and grid \(g.rendered) do not fit (ranks r+2, grid [N, …, r])") }
            if let r = g[g.count - 1].value, r != x.count - 2 { throw c.fail("grid \(g.rendered) must end in \(x.count - 2) coordinates") }
            let out = [try c.same(x[0], g[0], "batch sizes"), x[1]] + g[1..<(g.count - 1)]
            _ = try c.product(out)
            return [out]
        },
        // AffineGrid(theta [N, 2, 3] or [N, 3, 4], size?) → [N, H, W, 2] or [N, D, H, W, 3];
        // `size` (N, C, spatial…) is an attribute or int64 input 1.
        OpSpec("AffineGrid", family: "Sampling", inputs: 1...2, attributes: [.int("align_corners", 0), .ints("size")],
               valueInputs: [1]) { c in
            let theta = try c.input(0)
            guard theta.count == 3, let r = theta[1].value, r == 2 || r == 3 else { throw c.fail("theta \(theta.rendered) must be [N, 2, 3] or [N, 3, 4]") }
            if let k = theta[2].value, k != r + 1 { throw c.fail("theta \(theta.rendered) must be [N, \(r), \(r + 1)]") }
            let size: [SymDim]? = try c.attrs.optionalInts("size").map { $0.map(SymDim.init) } ?? c.value(1)
            if size == nil, c.optionalInput(1) == nil { throw c.fail("needs size") }
            if let n = c.length(1), n != r + 2 { throw c.fail("size has \(n) values; theta \(theta.rendered) needs \(r + 2)") }
            guard let size else { return [[theta[0]] + (0..<r).map { _ in c.unknown() } + [SymDim(r)]] }
            guard size.count == r + 2 else { throw c.fail("size has \(size.count) values; theta \(theta.rendered) needs \(r + 2)") }
            for d in size { if let v = d.value, v < 0 { throw c.fail("negative size \(v)") } }
            let out = [try c.same(theta[0], size[0], "batch sizes")] + size[2...] + [SymDim(r)]
            _ = try c.product(out)
            return [out]
        },
        // RoiAlign(X [N, C, H, W], rois [R, 4] as x1 y1 x2 y2, batch_indices [R]) → [R, C, oh, ow].
        OpSpec("RoiAlign", family: "Sampling", inputs: 3...3, attributes: [
            .string("mode", "avg"), .int("output_height", 1), .int("output_width", 1), .int("sampling_ratio", 0),
            .float("spatial_scale", 1), .string("coordinate_transformation_mode", "half_pixel"),
        ]) { c in
            let x = try c.input(0), rois = try c.input(1), b = try c.input(2)
            _ = try choice(c.attrs, "mode", roiModes)
            _ = try choice(c.attrs, "coordinate_transformation_mode", roiCoordinateModes)
            guard x.count == 4 else { throw c.fail("X must be 4-D, got \(x.rendered)") }
            guard rois.count == 2, rois[1].value ?? 4 == 4 else { throw c.fail("rois must be [num_rois, 4], got \(rois.rendered)") }
            guard b.count == 1 else { throw c.fail("batch_indices must be 1-D, got \(b.rendered)") }
            let oh = try c.int("output_height"), ow = try c.int("output_width"), ratio = try c.int("sampling_ratio")
            guard oh >= 1, ow >= 1, ratio >= 0, ratio <= 1 << 12 else {
                throw c.fail("output \(oh)×\(ow) must be positive and sampling_ratio \(ratio) in 0…4096")
            }
            let out = [try c.same(rois[0], b[0], "roi counts"), x[1], SymDim(oh), SymDim(ow)]
            _ = try c.product(out)
            return [out]
        },
        // NonMaxSuppression(boxes [B, n, 4], scores [B, classes, n], max_output_boxes_per_class?,
        // iou_threshold?, score_threshold?) → int64 [selected, 3] of (batch, class, box).
        // Each limit is an attribute when static at import, else a scalar input (2, 3, 4);
        // without a score threshold every box is a candidate. How many boxes are
        // selected depends on the data: the kernel decides the first dimension.
        OpSpec("NonMaxSuppression", family: "Sampling", inputs: 2...5, attributes: [
            .int("center_point_box", 0), .int("max_output_boxes_per_class"), .float("iou_threshold"), .float("score_threshold"),
        ], shapeFromData: true) { c in
            let boxes = try c.input(0), scores = try c.input(1)
            guard [0, 1].contains(try c.int("center_point_box")) else { throw c.fail("center_point_box must be 0 or 1") }
            guard boxes.count == 3, boxes[2].value ?? 4 == 4, scores.count == 3 else {
                throw c.fail("boxes \(boxes.rendered) must be [batches, boxes, 4] and scores \(scores.rendered) [batches, classes, boxes]")
            }
            _ = try c.same(boxes[0], scores[0], "batch counts")
            _ = try c.same(boxes[1], scores[2], "box counts")
            for i in 2..<5 {
                if let s = c.optionalInput(i), let n = try c.product(s).value, n > 1 { throw c.fail("input \(i) must be a scalar, got \(s.rendered)") }
            }
            return [[c.unknown(), SymDim(3)]]
        },
        // Col2Im(input [N, C·∏block, L], image_shape?, block_shape?) → [N, C, image…]: sums
        // each column block back into the image (PyTorch's fold). image_shape and block_shape
        // are attributes or int64 inputs 1 and 2.
        OpSpec("Col2Im", family: "Sampling", inputs: 1...3, attributes: [
            .ints("image_shape"), .ints("block_shape"), .ints("strides"), .ints("pads"), .ints("dilations"),
        ], valueInputs: [1, 2]) { c in
            let x = try c.input(0)
            guard x.count == 3 else { throw c.fail("input must be [N, C·∏block, L], got \(x.rendered)") }
            let image = try c.parameter("image_shape", input: 1), block = try c.parameter("block_shape", input: 2)
            if image == nil && c.optionalInput(1) == nil || block == nil && c.optionalInput(2) == nil {
                throw c.fail("needs image_shape and block_shape")
            }
            guard let k = image?.count ?? block?.count ?? c.length(1) ?? c.length(2) else {
                throw c.fail("the number of spatial axes must be fixed")
            }
            guard k >= 1, k <= 16 else { throw c.fail("\(k) spatial axes") }
            if let image { guard image.count == k, image.allSatisfy({ $0 >= 0 }) else { throw c.fail("image_shape \(image) must be \(k) sizes") } }
            if let block { guard block.count == k, block.allSatisfy({ $0 >= 1 }) else { throw c.fail("block_shape \(block) must be \(k) positive sizes") } }
            let (s, d, p) = try window(c.attrs, spatial: k)
            var channels = c.unknown()
            if let block {
                let kernel = try c.product(block.map(SymDim.init))
                guard let kv = kernel.value else { throw c.fail("block_shape \(block) is too large") }
                if let v = x[1].value {
                    guard v % kv == 0 else { throw c.fail("input channels \(v) are not a multiple of the block size \(kv)") }
                    channels = SymDim(v / kv)
                } else if let q = x[1].floorDivided(by: kv), q.times(SymDim(kv)) == x[1] {
                    channels = q
                }
            }
            if let image, let block {
                guard let n = blockCounts(image: image, block: block, strides: s, dilations: d, pads: p) else {
                    throw c.fail("block \(block) does not fit image \(image) with pads \(p), dilations \(d)")
                }
                let total = try c.product(n.map(SymDim.init))
                _ = try c.same(x[2], total, "block counts (L) and image blocks \(n)")
            }
            let out = [x[0], channels] + (image.map { $0.map(SymDim.init) } ?? (0..<k).map { _ in c.unknown() })
            _ = try c.product(out)
            return [out]
        },
        // CenterCropPad(input, shape?) → the input with each of `axes` (default all) cropped or
        // zero-padded to `shape` around the centre (an odd remainder goes to the end);
        // `shape` is an attribute or input 1.
        OpSpec("CenterCropPad", family: "Sampling", inputs: 1...2, attributes: [.ints("axes"), .ints("shape")], valueInputs: [1]) { c in
            var x = try c.input(0)
            let axes = try cropAxes(c.attrs, rank: x.count)
            let target: [SymDim]? = try c.attrs.optionalInts("shape").map { $0.map(SymDim.init) } ?? c.value(1)
            if target == nil, c.optionalInput(1) == nil { throw c.fail("needs shape") }
            if let n = c.length(1), n != axes.count { throw c.fail("shape has \(n) values for \(axes.count) axes") }
            guard let target else {
                for a in axes { x[a] = c.unknown() }
                return [x]
            }
            guard target.count == axes.count else { throw c.fail("shape has \(target.count) values for \(axes.count) axes") }
            for (j, a) in axes.enumerated() {
                if let v = target[j].value, v < 0 { throw c.fail("negative size \(v)") }
                x[a] = target[j]
            }
            _ = try c.product(x)
            return [x]
        },
    ]
}
