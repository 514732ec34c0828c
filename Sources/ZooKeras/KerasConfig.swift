import Foundation

/// A reference to one output of one call of a layer: Keras's (layer, node, tensor) triple.
struct TensorRef: Hashable {
    var layer: String
    var node: Int
    var tensor: Int
}

/// A layer as described in a model config (Keras 2 or Keras 3 syntax).
struct LayerSpec {
    var name: String
    var className: String
    var module: String?
    var config: [String: Any]
    /// Inputs of each call of the layer (shared layers are called more than once).
    var calls: [[TensorRef]]
    /// For nested models: the inner model.
    var model: ModelSpec?
    /// The group Keras 3's weights file uses for this layer: the snake-cased
    /// class name, numbered among same-class siblings ("conv2d", "conv2d_1").
    var storageName: String = ""
}

/// A Functional or Sequential model, normalised to the Functional form.
struct ModelSpec {
    var name: String
    var layers: [LayerSpec]
    var inputs: [TensorRef]
    var outputs: [TensorRef]
    /// Keras 2 configs count a nested model's own construction as its node 0,
    /// so its first call in the outer model is node 1.
    var nestedNodesStartAtOne = false
}

/// Parses `model.to_json()` / `config.json` / the `model_config` attribute.
enum KerasConfigParser {
    static let modelClasses: Set<String> = ["Functional", "Model", "Sequential"]

    static func parse(_ json: String, path: String) throws -> (model: ModelSpec, kerasVersion: String?, backend: String?) {
        guard let data = json.data(using: .utf8),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw KerasError.invalidConfig(path: path, detail: "not a JSON object")
        }
        let model = try parseModel(root, path: path)
        return (model, root["keras_version"] as? String, root["backend"] as? String)
    }

    static func parseModel(_ obj: [String: Any], path: String) throws -> ModelSpec {
        guard let cls = obj["class_name"] as? String, modelClasses.contains(cls) else {
            throw KerasError.invalidConfig(path: path, detail: "top level is '\(obj["class_name"] as? String ?? "?")', expected a Sequential or Functional model")
        }
        // Keras 2.0–2.2.2 saved a Sequential model's config as the bare list of its layers.
        if cls == "Sequential", let layers = obj["config"] as? [[String: Any]] {
            return try sequential(["layers": layers], path: path)
        }
        guard let config = obj["config"] as? [String: Any] else { throw KerasError.invalidConfig(path: path, detail: "model has no config") }
        return cls == "Sequential" ? try sequential(config, path: path) : try functional(config, path: path)
    }

    static func layer(_ obj: [String: Any], path: String) throws -> LayerSpec {
        guard let cls = obj["class_name"] as? String else { throw KerasError.invalidConfig(path: path, detail: "a layer has no class_name") }
        let config = obj["config"] as? [String: Any] ?? [:]
        guard let name = (obj["name"] as? String) ?? (config["name"] as? String) else {
            throw KerasError.invalidConfig(path: path, detail: "a \(cls) layer has no name")
        }
        var spec = LayerSpec(name: name, className: cls, module: obj["module"] as? String, config: config, calls: [], model: nil)
        if modelClasses.contains(cls) { spec.model = try parseModel(obj, path: path) }
        spec.calls = try inbound(obj["inbound_nodes"], layer: name, path: path)
        return spec
    }

    /// Keras 2: [[[name, node, tensor, kwargs], …], …]; Keras 3: [{"args": […], "kwargs": {…}}, …].
    static func inbound(_ raw: Any?, layer: String, path: String) throws -> [[TensorRef]] {
        guard let nodes = raw as? [Any] else { return [] }
        return try nodes.map { node in
            if let dict = node as? [String: Any] {
                var refs: [TensorRef] = []
                collectKerasTensors(dict["args"] as Any, into: &refs)
                return refs
            }
            guard let list = node as? [Any] else { throw KerasError.invalidConfig(path: path, detail: "layer '\(layer)': unreadable inbound node") }
            return try list.map { item in
                guard let t = item as? [Any], t.count >= 3, let n = t[0] as? String, let a = t[1] as? Int, let b = t[2] as? Int else {
                    throw KerasError.invalidConfig(path: path, detail: "layer '\(layer)': unreadable inbound tensor")
                }
                return TensorRef(layer: n, node: a, tensor: b)
            }
        }
    }

    /// Finds every `__keras_tensor__` in call arguments, in order.
    static func collectKerasTensors(_ value: Any, into refs: inout [TensorRef]) {
        if let dict = value as? [String: Any] {
            if dict["class_name"] as? String == "__keras_tensor__", let cfg = dict["config"] as? [String: Any],
               let h = cfg["keras_history"] as? [Any], h.count >= 3, let n = h[0] as? String, let a = h[1] as? Int, let b = h[2] as? Int {
                refs.append(TensorRef(layer: n, node: a, tensor: b))
            } else {
                for key in dict.keys.sorted() { collectKerasTensors(dict[key]!, into: &refs) }
            }
        } else if let list = value as? [Any] {
            for v in list { collectKerasTensors(v, into: &refs) }
        }
    }

    /// [[name, node, tensor], …] or a single [name, node, tensor].
    static func refs(_ raw: Any?, path: String, what: String) throws -> [TensorRef] {
        guard let list = raw as? [Any] else { throw KerasError.invalidConfig(path: path, detail: "missing \(what)") }
        if list.count >= 3, let n = list[0] as? String, let a = list[1] as? Int, let b = list[2] as? Int {
            return [TensorRef(layer: n, node: a, tensor: b)]
        }
        return try list.map { item in
            guard let t = item as? [Any], t.count >= 3, let n = t[0] as? String, let a = t[1] as? Int, let b = t[2] as? Int else {
                throw KerasError.invalidConfig(path: path, detail: "unreadable \(what)")
            }
            return TensorRef(layer: n, node: a, tensor: b)
        }
    }

    /// Keras's `to_snake_case` of a class name.
    static func snakeCase(_ name: String) -> String {
        var s = name.filter { $0.isLetter || $0.isNumber || $0 == "_" }
        s = s.replacingOccurrences(of: "(.)([A-Z][a-z]+)", with: "$1_$2", options: .regularExpression)
        s = s.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression)
        return s.lowercased()
    }

    static func assignStorageNames(_ layers: inout [LayerSpec]) {
        var used: [String: Int] = [:]
        for i in layers.indices {
            let base = snakeCase(layers[i].className)
            if let n = used[base] {
                used[base] = n + 1
                layers[i].storageName = "\(base)_\(n + 1)"
            } else {
                used[base] = 0
                layers[i].storageName = base
            }
        }
    }

    static func functional(_ config: [String: Any], path: String) throws -> ModelSpec {
        guard let layers = config["layers"] as? [[String: Any]] else { throw KerasError.invalidConfig(path: path, detail: "functional model without layers") }
        var specs = try layers.map { try layer($0, path: path) }
        assignStorageNames(&specs)
        // Keras 2 writes inbound nodes as nested lists, Keras 3 as {"args", "kwargs"} objects.
        let keras2 = layers.contains { ($0["inbound_nodes"] as? [Any])?.first is [Any] }
        return ModelSpec(name: config["name"] as? String ?? "model",
                         layers: specs,
                         inputs: try refs(config["input_layers"], path: path, what: "input_layers"),
                         outputs: try refs(config["output_layers"], path: path, what: "output_layers"),
                         nestedNodesStartAtOne: keras2)
    }

    /// A Sequential model as a chain, with an explicit input layer.
    static func sequential(_ config: [String: Any], path: String) throws -> ModelSpec {
        guard let raw = config["layers"] as? [[String: Any]] else {
            throw KerasError.invalidConfig(path: path, detail: "sequential model without layers")
        }
        let name = config["name"] as? String ?? "sequential"
        var specs = try raw.map { try layer($0, path: path) }
        if specs.first?.className != "InputLayer" {
            // Keras 2 puts the input shape on the first layer; Keras 3 on build_input_shape.
            let shape = specs.first?.config["batch_input_shape"] ?? specs.first?.config["batch_shape"]
                ?? (config["build_input_shape"] as Any?)
            guard let shape else { throw KerasError.invalidConfig(path: path, detail: "sequential model '\(name)' has no input shape; build the model before saving") }
            specs.insert(LayerSpec(name: "\(name)_input", className: "InputLayer", module: nil,
                                   config: ["batch_shape": shape, "dtype": specs.first?.config["dtype"] ?? "float32"], calls: [], model: nil), at: 0)
        }
        assignStorageNames(&specs)
        for i in specs.indices where i > 0 {
            specs[i].calls = [[TensorRef(layer: specs[i - 1].name, node: 0, tensor: 0)]]
        }
        specs[0].calls = []
        return ModelSpec(name: name, layers: specs, inputs: [TensorRef(layer: specs[0].name, node: 0, tensor: 0)],
                         outputs: [TensorRef(layer: specs.last!.name, node: 0, tensor: 0)])
    }
}
