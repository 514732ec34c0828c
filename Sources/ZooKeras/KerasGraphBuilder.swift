import Foundation
import ZooCore

/// A Keras tensor while building: its IR value, IR shape, and whether it is an
/// image tensor Keras sees as NHWC but the IR holds as NCHW.
struct KValue {
    var name: String
    var shape: SymShape
    var nhwc: Bool
}

/// Builds the NCHW IR graph from a parsed Keras model and its weights.
final class KerasGraphBuilder {
    let path: String
    let weights: WeightSource
    let keras3: Bool
    let channelsFirst: Bool
    var nodes: [Node] = []
    var tensors: [(name: String, tensor: Tensor)] = []
    var shapes: [String: SymShape] = [:]
    var names: Set<String> = []
    /// Expected weights bound to stored ones; every problem of the file, collected.
    var binding = WeightBinding()
    var layerWeights: [[String]: [String: String]] = [:]
    /// Name path → Keras 3 storage path, filled while models are walked.
    var storageNames: [[String]: [String]] = [:]

    func storagePath(_ names: [String]) -> [String] { storageNames[names] ?? names }

    /// Each layer's first output, by layer path ("outer/inner" inside nested models).
    var layerOutputs: [String: KValue] = [:]

    /// Names sizes without a closed form, in build order.
    let unknowns = UnknownDims()

    static let identityLayers: Set<String> = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "ActivityRegularization", "AlphaDropout"]
    static let supported: Set<String> = identityLayers.union([
        "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense", "BatchNormalization", "Activation", "ReLU",
        "LeakyReLU", "Softmax", "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "GlobalMaxPooling2D", "Flatten", "Add", "Subtract", "Multiply", "Average", "Concatenate", "Reshape", "Rescaling",
        "Normalization", "Functional", "Model", "Sequential", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
    ])

    init(path: String, weights: WeightSource, keras3: Bool, channelsFirst: Bool) {
        self.path = path
        self.weights = weights
        self.keras3 = keras3
        self.channelsFirst = channelsFirst
    }

    // MARK: emission

    func unique(_ base: String) -> String {
        var n = base, k = 1
        while names.contains(n) { n = "\(base)_\(k)"; k += 1 }
        names.insert(n)
        return n
    }

    func fail(_ layer: String, _ detail: String) -> KerasError { .unsupportedForm(path: path, layer: layer, detail: detail) }

    @discardableResult
    func emit(_ op: String, _ inputs: [String], _ attrs: [String: Attribute] = [:], name: String, layer: String) throws -> String {
        let out = unique(name)
        let node = Node(name: out, op: op, inputs: inputs, outputs: [out], attributes: attrs)
        let inShapes = inputs.map { $0.isEmpty ? nil : shapes[$0] }
        do {
            shapes[out] = try ShapeInference.outputShapes(of: node, inputs: inShapes, unknowns: unknowns)[0]
        } catch let e as ZooCoreError {
            throw KerasError.unsupportedForm(path: path, layer: layer, detail: "\(node.op): \(e.detail)")
        }
        nodes.append(node)
        return out
    }

    func constant(_ name: String, _ t: Tensor) -> String {
        let n = unique(name)
        tensors.append((n, t))
        shapes[n] = SymShape(concrete: t.shape)
        return n
    }

    func scalar(_ name: String, _ v: Float) throws -> String { constant(name, try Tensor(floats: [v], shape: [])) }

    // MARK: layout

    /// The value as Keras sees it (NHWC for image tensors).
    func kerasLayout(_ v: KValue, layer: String) throws -> KValue {
        guard v.nhwc else { return v }
        let n = try emit("Transpose", [v.name], ["perm": .ints([0, 2, 3, 1])], name: "\(layer)/to_nhwc", layer: layer)
        return KValue(name: n, shape: shapes[n]!, nhwc: false)
    }

    /// A Keras-layout value of rank 4 turned into the internal NCHW form.
    func internalLayout(_ v: KValue, layer: String) throws -> KValue {
        guard !channelsFirst, !v.nhwc, v.shape.count == 4 else { return v }
        let n = try emit("Transpose", [v.name], ["perm": .ints([0, 3, 1, 2])], name: "\(layer)/to_nchw", layer: layer)
        return KValue(name: n, shape: shapes[n]!, nhwc: true)
    }

    /// IR axis for a Keras axis of `v`.
    func axis(_ a: Int, of v: KValue, layer: String) throws -> Int {
        let r = v.shape.count
        let k = a < 0 ? a + r : a
        guard k >= 0, k < r else { throw fail(layer, "axis \(a) out of range for rank \(r)") }
        guard v.nhwc else { return k }
        return [0, 2, 3, 1][k]
    }

    // MARK: weights

    /// Variables of a layer, bound by position to the expected weights through
    /// the shared `WeightBinding` (missing / mismatched / unused all collected,
    /// zeros substituted, so one error lists them all).
    ///
    /// `layout` converts a weight from Keras's layout (HWIO kernels) to the
    /// IR's before it is cached, so a shared layer called again reuses the
    /// converted tensor instead of converting it a second time.
    func variables(_ layerPath: [String], _ spec: LayerSpec, expected: [(name: String, shape: [Int])],
                   layout: [String: (Tensor) throws -> Tensor] = [:]) throws -> [String: String] {
        if let cached = layerWeights[layerPath] { return cached }
        let label = layerPath.joined(separator: "/")
        let key = weights.key(names: layerPath, storage: storagePath(layerPath))
        let stored = try weights.variables(of: key)
        let bound: [Tensor]
        do {
            bound = try binding.bind(layer: label, expected: expected, found: stored?.variables, path: stored?.path)
        } catch {
            throw KerasError.invalidConfig(path: path, detail: "layer '\(label)': \(error.localizedDescription)")
        }
        var result: [String: String] = [:]
        for (exp, tensor) in zip(expected, bound) {
            var value = tensor
            if let convert = layout[exp.name] { value = try convert(value) }
            result[exp.name] = constant("\(label)/\(exp.name)", value)
        }
        layerWeights[layerPath] = result
        return result
    }

    /// Makes value `v` available under `target` (renaming whatever held that
    /// name inside the graph); copies through Identity when `v` is not a node output.
    func expose(_ v: String, as target: String) throws -> String {
        if v == target { return v }
        if names.contains(target) { rename(target, to: unique("\(target)/internal")) }
        if nodes.contains(where: { $0.outputs.contains(v) }) && !tensors.contains(where: { $0.name == v }) {
            rename(v, to: target)
            names.insert(target)
            return target
        }
        names.insert(target)
        let node = Node(name: target, op: "Identity", inputs: [v], outputs: [target])
        shapes[target] = shapes[v]
        nodes.append(node)
        return target
    }

    func rename(_ old: String, to new: String) {
        for i in nodes.indices {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
            nodes[i].outputs = nodes[i].outputs.map { $0 == old ? new : $0 }
            if nodes[i].name == old { nodes[i].name = new }
        }
        if let i = tensors.firstIndex(where: { $0.name == old }) { tensors[i].name = new }
        shapes[new] = shapes[old]
        names.insert(new)
    }

}

// MARK: config helpers

extension LayerSpec {
    func int(_ k: String) -> Int? { config[k] as? Int }
    func double(_ k: String) -> Double? { (config[k] as? Double) ?? (config[k] as? Int).map(Double.init) }
    func bool(_ k: String, _ d: Bool) -> Bool { config[k] as? Bool ?? d }
    func string(_ k: String) -> String? { config[k] as? String }

    /// An int or an int pair ("kernel_size": 3 or [3, 3]).
    func pair(_ k: String, _ d: [Int]? = nil) -> [Int]? {
        if let v = config[k] as? Int { return [v, v] }
        if let v = config[k] as? [Int], v.count == 2 { return v }
        return d
    }

    /// The activation's name, or nil for a custom (serialised function) activation.
    var activation: String? {
        let a = config["activation"]
        if a == nil || a is NSNull { return "linear" }
        if let s = a as? String { return s }
        if let d = a as? [String: Any], let s = d["config"] as? String, (d["module"] as? String ?? "keras.activations").hasPrefix("keras") { return s }
        return nil
    }
}
