/// Output shapes of IR nodes, through the op registry (`OpRegistry`).
///
/// Shared by importers (which record symbolic shapes) and the runtime (which
/// plans with concrete ones): one shape rule per op, so the two cannot disagree.
public enum ShapeInference {
    /// Ops the IR defines; importers must only emit these.
    public static var canonicalOps: Set<String> { OpRegistry.names }

    /// Shapes of `node`'s outputs given its inputs' shapes (nil for an omitted optional input).
    ///
    /// `values` gives the contents of small integer inputs when known; the ops
    /// whose output shape depends on them (Reshape, Expand, ConstantOfShape,
    /// Range) leave dimensions unknown without them. Sizes without a closed
    /// form become fresh symbols from `unknowns`.
    public static func outputShapes(of node: Node, inputs: [SymShape?], values: [[SymDim]?] = [],
                                    unknowns: UnknownDims = UnknownDims()) throws -> [SymShape] {
        guard let spec = OpRegistry.spec(node.op) else {
            throw ZooCoreError.shapeInference(node: node.name, op: node.op, detail: "'\(node.op)' is not an IR operator")
        }
        var present = inputs.count
        while present > 0 && inputs[present - 1] == nil { present -= 1 }
        guard spec.inputs.contains(present) else {
            throw ZooCoreError.shapeInference(node: node.name, op: node.op,
                                              detail: "takes \(spec.inputs.lowerBound)…\(spec.inputs.upperBound) inputs, got \(present)")
        }
        let ctx = ShapeContext(node: node, attrs: OpAttributes(node: node, spec: spec), inputs: inputs, values: values, unknowns: unknowns)
        let out = try spec.rule(ctx)
        for s in out {
            for d in s { if let v = d.value, v < 0 || v > ShapeMath.maxElements { throw ctx.fail("output dimension \(v) is out of range") } }
            // The fixed sizes alone must stay within the element limit (a hostile shape overflows here).
            guard ShapeMath.elementCount(s.compactMap(\.value)) != nil else {
                throw ctx.fail("output shape \(s.rendered) has more than \(ShapeMath.maxElements) elements")
            }
        }
        return out
    }

    /// Numpy-style broadcast of two shapes; nil when they provably do not broadcast.
    /// A symbolic size against a fixed one takes the fixed size (the runtime
    /// checks the actual size); two different symbols give an unknown.
    public static func broadcast(_ a: SymShape, _ b: SymShape, unknowns: UnknownDims = UnknownDims()) -> SymShape? {
        let n = max(a.count, b.count)
        var out: SymShape = []
        let one = SymDim(1)
        for i in 0..<n {
            let x = i < n - a.count ? one : a[i - (n - a.count)]
            let y = i < n - b.count ? one : b[i - (n - b.count)]
            if x == y || y == one { out.append(x) } else if x == one { out.append(y) } else if x.isFixed && y.isFixed { return nil } else if let d = x.subtracting(y), d.isFixed, !x.isFixed {
                return nil
            } else if x.isFixed { out.append(x) } else if y.isFixed { out.append(y) } else { out.append(unknowns.make()) }
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
}
