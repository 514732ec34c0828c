import Foundation
import ZooCore

extension KerasGraphBuilder {
    /// Refuses Lambda and custom layers (naming them) and lists every layer
    /// class without a mapping, before any graph is built.
    static func validate(_ model: ModelSpec, path: String, prefix: [String] = []) throws {
        var unsupported: [String] = []
        func walk(_ m: ModelSpec, _ prefix: [String]) throws {
            for l in m.layers {
                let where_ = (prefix + [l.name]).joined(separator: "/")
                if l.className == "Lambda" || l.className == "TFOpLambda" || l.className == "SlicingOpLambda" {
                    throw KerasError.refusedLayer(path: path, layer: where_, className: l.className,
                                                  reason: "it holds Python code, and zoo never executes anything from a model file")
                }
                if let module = l.module, !["keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras"].contains(where: { module == $0 || module.hasPrefix($0 + ".") }) {
                    throw KerasError.refusedLayer(path: path, layer: where_, className: l.className, reason: "class from module '\(module)', outside Keras (custom layers are never executed)")
                }
                if l.className.contains(">") || l.className.hasPrefix("Custom") {
                    throw KerasError.refusedLayer(path: path, layer: where_, className: l.className, reason: "custom (registered) class; zoo only maps built-in Keras layers")
                }
                if let inner = l.model { try walk(inner, prefix + [l.name]); continue }
                if !supported.contains(l.className) { unsupported.append("\(where_) (\(l.className))") }
            }
        }
        try walk(model, prefix)
        guard unsupported.isEmpty else { throw KerasError.unsupportedLayers(path: path, layers: unsupported) }
    }

    /// The symbol for a Keras `None` dimension: N for the batch; H and W (T for
    /// sequences) for the first input, prefixed with the input's name for the
    /// others, since Keras lets each input have its own size.
    static func symbolName(axis j: Int, rank: Int, input: String, inputIndex: Int, channelsFirst: Bool) -> String {
        if j == 0 { return "N" }
        var base: String
        switch (rank, j) {
        case (4, _): base = channelsFirst ? ["", "C", "H", "W"][j] : ["", "H", "W", "C"][j]
        case (3, 1): base = "T"
        default: base = "d\(j)"
        }
        if inputIndex > 0 { base = SymDim.sanitizedSymbol(input) + "." + base }
        return base
    }

    /// Builds `model`; `bound` gives the values of its inputs when it is nested.
    func build(_ model: ModelSpec, prefix: [String], bound: [KValue]?, graphInputs: inout [ValueInfo]) throws -> [KValue] {
        var resolved: [TensorRef: KValue] = [:]
        let storagePrefix = storagePath(prefix)
        for l in model.layers { storageNames[prefix + [l.name]] = storagePrefix + [l.storageName] }
        for (i, ref) in model.inputs.enumerated() {
            if let bound {
                guard i < bound.count else { throw KerasError.invalidConfig(path: path, detail: "model '\(model.name)' called with \(bound.count) inputs, needs \(model.inputs.count)") }
                resolved[ref] = bound[i]
                continue
            }
            guard let spec = model.layers.first(where: { $0.name == ref.layer }) else {
                throw KerasError.invalidConfig(path: path, detail: "input layer '\(ref.layer)' is not among the layers")
            }
            let raw = (spec.config["batch_shape"] ?? spec.config["batch_input_shape"]) as? [Any]
            guard let raw else { throw KerasError.invalidConfig(path: path, detail: "input layer '\(spec.name)' has no shape") }
            var dims: [Dim] = []
            for (j, d) in raw.enumerated() {
                if let v = d as? Int {
                    guard v > 0, v <= 1 << 20 else { throw KerasError.invalidConfig(path: path, detail: "input layer '\(spec.name)' has dimension \(v)") }
                    dims.append(.fixed(v))
                } else if d is NSNull {
                    dims.append(.symbolic(Self.symbolName(axis: j, rank: raw.count, input: spec.name, inputIndex: i,
                                                          channelsFirst: channelsFirst)))
                } else {
                    throw KerasError.invalidConfig(path: path, detail: "input layer '\(spec.name)' dimension \(j) is neither a size nor null")
                }
            }
            graphInputs.append(ValueInfo(name: spec.name, dtype: .f32, shape: dims))
            names.insert(spec.name)
            shapes[spec.name] = SymShape(dims)
            resolved[ref] = try internalLayout(KValue(name: spec.name, shape: SymShape(dims), nhwc: false), layer: spec.name)
        }
        var done = Set<String>()
        var progress = true
        while progress {
            progress = false
            for layer in model.layers where layer.className != "InputLayer" {
                for (k, call) in layer.calls.enumerated() where !done.contains("\(layer.name)#\(k)") {
                    let ins = call.compactMap { resolved[$0] }
                    guard ins.count == call.count, !call.isEmpty else { continue }
                    let outs: [KValue]
                    if let inner = layer.model {
                        outs = try build(inner, prefix: prefix + [layer.name], bound: ins, graphInputs: &graphInputs)
                    } else {
                        outs = try apply(layer, ins, path: prefix + [layer.name])
                    }
                    let node = layer.model != nil && model.nestedNodesStartAtOne ? k + 1 : k
                    for (i, o) in outs.enumerated() { resolved[TensorRef(layer: layer.name, node: node, tensor: i)] = o }
                    let layerPath = (prefix + [layer.name]).joined(separator: "/")
                    if layerOutputs[layerPath] == nil, let first = outs.first { layerOutputs[layerPath] = first }
                    done.insert("\(layer.name)#\(k)")
                    progress = true
                }
            }
        }
        return try model.outputs.map { ref in
            guard let v = resolved[ref] else {
                throw KerasError.invalidConfig(path: path, detail: "output '\(ref.layer)' of model '\(model.name)' cannot be computed from its inputs")
            }
            return v
        }
    }
}
