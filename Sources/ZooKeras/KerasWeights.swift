import Foundation
import ZooCore

/// Weights of each layer, found by the layer's path of names (outer model
/// first for nested models), in the order the file stores them.
protocol WeightSource {
    /// The key this source files a layer under: its names (legacy HDF5) or its
    /// storage names (Keras 3), outer model first.
    func key(names: [String], storage: [String]) -> [String]
    /// Variables of the layer with `key`, each with its name ("kernel", or "0"
    /// for Keras 3 positions), and the layer path they were found under (one
    /// of `allLayerPaths()`), so unused weights can be told apart exactly.
    func variables(of key: [String]) throws -> (path: [String], variables: [(name: String, tensor: Tensor)])?
    /// Every layer path that has weights, for reporting unused weights.
    func allLayerPaths() throws -> [[String]]
}

/// Legacy HDF5 layout (Keras 2, tf.keras, Keras 3's legacy .h5): a `layer_names`
/// attribute (possibly split into `layer_names0…N`), one group per layer with a
/// `weight_names` attribute whose entries are dataset paths inside that group.
struct LegacyH5Weights: WeightSource {
    let root: H5Group
    /// layer path → [(variable name, dataset path relative to the layer group, group)]
    private var index: [[String]: [(String, String, H5Group)]] = [:]
    private var order: [[String]] = []

    init(root: H5Group) throws {
        self.root = root
        for layer in try Self.chunkedAttribute(root, "layer_names") {
            let group = try root.group(layer)
            for weightPath in try Self.chunkedAttribute(group, "weight_names") {
                // "conv2d/kernel:0", "conv2d_1/conv2d_1_1/kernel:0" or, for nested
                // models, "inner_layer/kernel:0": the variable is the last part,
                // the layer it belongs to the part before it.
                // A layer name may itself contain "/" (tf_keras DenseNet: "conv1/conv", weight
                // "conv1/conv/kernel:0"): a weight path under the layer's own name belongs to it.
                let own = weightPath.hasPrefix(layer + "/") ? String(weightPath.dropFirst(layer.count + 1)) : weightPath
                let parts = own.split(separator: "/").map(String.init)
                guard let last = parts.last else { continue }
                let variable = String(last.split(separator: ":").first ?? Substring(last))
                let owner = parts.count >= 2 ? parts[parts.count - 2] : layer
                let key = owner == layer || parts.count < 2 ? [layer] : [layer, owner]
                if index[key] == nil { order.append(key) }
                index[key, default: []].append((variable, weightPath, group))
            }
        }
    }

    func key(names: [String], storage: [String]) -> [String] { names }

    /// An attribute h5py may have split into `name0`, `name1`, … when it exceeded 64 KB.
    static func chunkedAttribute(_ g: H5Group, _ name: String) throws -> [String] {
        if g.hasAttribute(name) { return try g.stringsAttribute(name) }
        var out: [String] = []
        var i = 0
        while g.hasAttribute("\(name)\(i)") {
            out += try g.stringsAttribute("\(name)\(i)")
            i += 1
        }
        return out
    }

    func variables(of path: [String]) throws -> (path: [String], variables: [(name: String, tensor: Tensor)])? {
        // Nested layers may be stored under the outer model's group ([outer, inner])
        // or under their own name at top level ([inner]).
        let candidates = [path, path.count > 1 ? [path[0], path.last!] : path, [path.last!]]
        for key in candidates {
            if let entries = index[key] {
                return (key, try entries.map { v, p, g in (v, try Self.read(g, p)) })
            }
        }
        return nil
    }

    static func read(_ g: H5Group, _ relative: String) throws -> Tensor {
        let parts = relative.split(separator: "/").map(String.init)
        let parent = parts.count > 1 ? try g.group(parts.dropLast().joined(separator: "/")) : g
        return try parent.readFloats(parts.last!)
    }

    func allLayerPaths() throws -> [[String]] { order }
}

/// Keras 3 `.weights.h5` layout: `layers/<name>/vars/<i>`, nested models as
/// `layers/<outer>/layers/<inner>/vars/<i>`; variables are positional.
struct V3Weights: WeightSource {
    let root: H5Group

    func key(names: [String], storage: [String]) -> [String] { storage }

    func variables(of path: [String]) throws -> (path: [String], variables: [(name: String, tensor: Tensor)])? {
        var g = root
        for name in path {
            guard try g.has("layers") else { return nil }
            let layers = try g.group("layers")
            guard try layers.has(name) else { return nil }
            g = try layers.group(name)
        }
        guard try g.has("vars") else { return (path, []) }
        let vars = try g.group("vars")
        let names = try vars.members().compactMap(Int.init).sorted()
        return (path, try names.map { ("\($0)", try vars.readFloats(String($0))) })
    }

    func allLayerPaths() throws -> [[String]] {
        var out: [[String]] = []
        func walk(_ g: H5Group, _ prefix: [String]) throws {
            guard try g.has("layers") else { return }
            let layers = try g.group("layers")
            for name in try layers.members() {
                let child = try layers.group(name)
                if try child.has("vars"), !(try child.group("vars").members().isEmpty) { out.append(prefix + [name]) }
                try walk(child, prefix + [name])
            }
        }
        try walk(root, [])
        return out
    }
}
