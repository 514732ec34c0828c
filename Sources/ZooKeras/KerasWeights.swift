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
///
/// Keras's own rule (`load_weights_from_hdf5_group`): a layer's weights are the
/// datasets its group's `weight_names` lists, **in that order**, assigned by
/// position; the dataset names are not matched. So a Keras 2.0-era group
/// `conv2d_1` holding `conv2d_1_1/kernel:0` is conv2d_1's kernel. The one place
/// names inside a group matter is a nested model stored as one layer, whose
/// entries `inner/kernel:0` say which inner layer each belongs to.
struct LegacyH5Weights: WeightSource {
    struct Entry {
        var owner: String
        var variable: String
        var path: String
    }
    let root: H5Group
    /// Layer group name → its weight entries in `weight_names` order.
    private var groups: [String: (group: H5Group, entries: [Entry])] = [:]
    private var order: [String] = []
    /// Layer names with "/" → "_" (Keras 3 names DenseNet's `conv1/conv` `conv1_conv`).
    private var normalized: [String: String] = [:]

    init(root: H5Group) throws {
        self.root = root
        for layer in try Self.chunkedAttribute(root, "layer_names") {
            let group = try root.group(layer)
            var entries: [Entry] = []
            for weightPath in try Self.chunkedAttribute(group, "weight_names") {
                // A layer name may itself contain "/" (tf_keras DenseNet: "conv1/conv"): a path
                // under the layer's own name belongs to it. Otherwise the part before the
                // variable names the scope: the layer itself, a renamed copy of it (Keras 2.0:
                // "conv2d_1_1"), or an inner layer of a nested model.
                let own = weightPath.hasPrefix(layer + "/") ? String(weightPath.dropFirst(layer.count + 1)) : weightPath
                let parts = own.split(separator: "/").map(String.init)
                guard let last = parts.last else { continue }
                let variable = String(last.split(separator: ":").first ?? Substring(last))
                let owner = parts.count >= 2 ? parts[parts.count - 2] : layer
                entries.append(Entry(owner: owner, variable: variable, path: weightPath))
            }
            guard !entries.isEmpty else { continue }
            groups[layer] = (group, entries)
            order.append(layer)
            normalized[layer.replacingOccurrences(of: "/", with: "_")] = layer
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

    func group(_ name: String) -> (String, (group: H5Group, entries: [Entry]))? {
        if let g = groups[name] { return (name, g) }
        if let n = normalized[name.replacingOccurrences(of: "/", with: "_")], let g = groups[n] { return (n, g) }
        return nil
    }

    /// Whether a group's entries belong to several inner layers (a nested model stored as one layer).
    static func isNested(_ entries: [Entry]) -> Bool { Set(entries.map(\.owner)).count > 1 }

    func variables(of path: [String]) throws -> (path: [String], variables: [(name: String, tensor: Tensor)])? {
        func read(_ g: H5Group, _ entries: [Entry]) throws -> [(name: String, tensor: Tensor)] {
            try entries.map { ($0.variable, try Self.read(g, $0.path)) }
        }
        if path.count == 1 {
            // A top-level layer: every dataset of its group, in order.
            guard let (name, g) = group(path[0]) else { return nil }
            return ([name], try read(g.group, g.entries))
        }
        // An inner layer of a nested model: stored under the outer model's group
        // (entries scoped by the inner name), or under its own name at top level.
        let inner = path.last!
        if let (outer, g) = group(path[0]) {
            let mine = g.entries.filter { $0.owner == inner }
            if !mine.isEmpty { return (Self.isNested(g.entries) ? [outer, inner] : [outer], try read(g.group, mine)) }
        }
        if let (name, g) = group(inner) { return ([name], try read(g.group, g.entries)) }
        return nil
    }

    static func read(_ g: H5Group, _ relative: String) throws -> Tensor {
        let (parent, name) = try locate(g, relative)
        return try parent.readFloats(name)
    }

    /// The group holding a dataset path relative to `g`, and the dataset's own name.
    static func locate(_ g: H5Group, _ relative: String) throws -> (H5Group, String) {
        let parts = relative.split(separator: "/").map(String.init)
        return (parts.count > 1 ? try g.group(parts.dropLast().joined(separator: "/")) : g, parts.last ?? relative)
    }

    /// The file's weights per layer group, in file order, by shape only (for
    /// recognising a Keras Applications file).
    func signature() throws -> [KerasApplications.Architecture.Layer] {
        try order.map { layer in
            let g = groups[layer]!
            return KerasApplications.Architecture.Layer(name: layer, shapes: try g.entries.map { e in
                let (parent, name) = try Self.locate(g.group, e.path)
                return try parent.datasetShape(name)
            })
        }
    }

    func allLayerPaths() throws -> [[String]] {
        order.flatMap { layer -> [[String]] in
            let entries = groups[layer]!.entries
            guard Self.isNested(entries) else { return [[layer]] }
            var owners: [String] = []
            for e in entries where !owners.contains(e.owner) { owners.append(e.owner) }
            return owners.map { [layer, $0] }
        }
    }
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
