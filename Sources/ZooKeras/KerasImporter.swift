import Foundation
import ZooCore
import ZooFormat

/// Options for `KerasImporter.load`.
public struct KerasImportOptions: Sendable {
    /// Architecture for weights-only files: a path to `model.to_json()` output or
    /// a Keras 3 `config.json`, or a built-in architecture (`keras-vgg16:notop`,
    /// see `KerasApplications`). Without one, a Keras Applications weights file
    /// is recognised by its weights.
    public var architecture: String?
    /// Global pooling of a built-in notop architecture: `none` (default), `avg` or `max`.
    public var pooling: String?
    public var name: String?
    /// Whether to hash the source file for the card (callers that hash it
    /// alongside writing, as `zoo convert` does, turn it off).
    public var hashSource: Bool
    public init(architecture: String? = nil, pooling: String? = nil, name: String? = nil, hashSource: Bool = true) {
        self.architecture = architecture
        self.pooling = pooling
        self.name = name
        self.hashSource = hashSource
    }
}

/// Reads Keras models in every file format in circulation into the NCHW IR:
/// legacy full-model `.h5` (Keras 2.x, tf.keras, Keras 3's legacy save),
/// legacy weights-only `.h5` + architecture JSON, Keras 3 `.weights.h5` +
/// `config.json`, and `.keras` archives. The converted model keeps Keras's
/// NHWC input and output layout; the graph is NCHW inside.
public enum KerasImporter {
    /// Largest member accepted from a `.keras` archive.
    static let maxArchiveMember = 8 << 30

    public static func load(path: String, options: KerasImportOptions = .init()) throws -> Model {
        try load(path: path, mapped: nil, options: options)
    }

    /// Imports from an existing mapping of `path` (shared with a caller that
    /// also hashes the file, instead of reading it twice).
    public static func load(path: String, mapped: MappedFile?, options: KerasImportOptions = .init()) throws -> Model {
        var cleanup: URL?
        defer { if let c = cleanup { try? FileManager.default.removeItem(at: c) } }

        var configJSON: String?
        var kerasVersion: String?
        var backend: String?
        var format: String
        let weights: WeightSource
        let h5: H5File
        // By content, not by name: a `.keras` archive is a zip, every other Keras file HDF5.
        if try isZipArchive(path: path, mapped: mapped) {
            let (config, metadata, weightsPath, dir) = try unpackArchive(path)
            cleanup = dir
            configJSON = config
            if let m = metadata, let obj = try? JSONSerialization.jsonObject(with: Data(m.utf8)) as? [String: Any] {
                kerasVersion = obj["keras_version"] as? String
            }
            h5 = try H5File(path: weightsPath, displayPath: "\(path):model.weights.h5")
            weights = V3Weights(root: h5.root)
            format = "keras-v3"
        } else {
            h5 = try H5File(path: path, mapped: mapped)
            let root = h5.root
            if root.hasAttribute("model_config") {
                configJSON = try root.stringAttribute("model_config")
                kerasVersion = root.hasAttribute("keras_version") ? try root.stringAttribute("keras_version") : nil
                backend = root.hasAttribute("backend") ? try root.stringAttribute("backend") : nil
                weights = try LegacyH5Weights(root: try root.group("model_weights"))
                format = "keras-h5"
            } else if root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") {
                kerasVersion = root.hasAttribute("keras_version") ? try root.stringAttribute("keras_version") : nil
                backend = root.hasAttribute("backend") ? try root.stringAttribute("backend") : nil
                weights = try LegacyH5Weights(root: root)
                format = "keras-h5-weights"
            } else if try root.has("layers") || root.has("vars") {
                weights = V3Weights(root: root)
                kerasVersion = kerasVersion ?? "3"
                format = "keras-v3-weights"
            } else {
                throw KerasError.notKeras(path: path, detail: "no model_config, layer_names or layers group")
            }
        }
        var application: KerasApplications.Architecture?
        if let arch = options.architecture {
            if FileManager.default.fileExists(atPath: arch) {
                do { configJSON = try String(contentsOfFile: arch, encoding: .utf8) } catch {
                    throw KerasError.io(path: arch, detail: "cannot read the architecture file")
                }
            } else if let a = KerasApplications.architecture(arch, pooling: options.pooling) {
                application = a
            } else {
                throw KerasError.unknownArchitectureReference(reference: arch)
            }
        } else if configJSON == nil, let legacy = weights as? LegacyH5Weights {
            switch KerasApplications.identify(try legacy.signature()) {
            case .matches(let found):
                // notop variants differ only in pooling, which holds no weights.
                let pool = options.pooling ?? "none"
                application = found.first { $0.pooling == pool && $0.catalogModel != nil } ?? found.first { $0.pooling == pool } ?? found[0]
            case .none(let closest, let difference):
                throw KerasError.unknownArchitecture(path: path, closest: closest?.reference, difference: difference)
            }
        }
        if let a = application { configJSON = a.configJSON }
        guard let json = configJSON else { throw KerasError.missingArchitecture(path: path) }
        let parsed = try KerasConfigParser.parse(json, path: application.map { "built-in \($0.id)" } ?? options.architecture ?? path)
        kerasVersion = kerasVersion ?? parsed.kerasVersion
        backend = backend ?? parsed.backend
        let keras3 = (kerasVersion ?? "").hasPrefix("3") || format.hasPrefix("keras-v3")

        try KerasGraphBuilder.validate(parsed.model, path: path)
        let channelsFirst = containsChannelsFirst(parsed.model)
        let builder = KerasGraphBuilder(path: path, weights: weights, keras3: keras3, channelsFirst: channelsFirst)
        var inputs: [ValueInfo] = []
        let outs = try builder.build(parsed.model, prefix: [], bound: nil, graphInputs: &inputs)

        builder.binding.reportUnused(try weights.allLayerPaths())
        guard builder.binding.problems.isEmpty else {
            throw KerasError.weightMismatch(path: path, problems: builder.binding.problems.map(\.description))
        }

        // Public outputs carry the Keras output layers' names, in Keras layout.
        var outputs: [ValueInfo] = []
        for (ref, v) in zip(parsed.model.outputs, outs) {
            let publicValue = try builder.kerasLayout(v, layer: ref.layer)
            var target = ref.layer
            if inputs.contains(where: { $0.name == target }) || outputs.contains(where: { $0.name == target }) { target += "_output" }
            let name = try builder.expose(publicValue.name, as: target)
            outputs.append(ValueInfo(name: name, dtype: .f32, shape: builder.shapes[name]!.dims))
        }
        var graph = Graph(inputs: inputs, outputs: outputs, nodes: builder.nodes)
        graph = removeDeadNodes(graph)
        // Layer names as Keras means them: the layer's output, in Keras's layout (NHWC values
        // are transposed back on the way out). Values the graph no longer computes are left out.
        var produced = Set(graph.nodes.flatMap(\.outputs)).union(inputs.map(\.name))
        produced.formUnion(builder.tensors.map(\.name))
        var layers: [String: ModelCard.LayerValue] = [:]
        for (name, v) in builder.layerOutputs where produced.contains(v.name) {
            layers[name] = ModelCard.LayerValue(value: v.name, perm: v.nhwc ? [0, 2, 3, 1] : nil)
        }
        let used = Set(graph.nodes.flatMap(\.inputs))
        let tensors = builder.tensors.filter { used.contains($0.name) }

        let size = fileSize(path)
        let sha = options.hashSource ? try SourceDigest(file: mapped ?? MappedFile(path: path)).value() : nil
        let base = (path as NSString).lastPathComponent
        let stem = ModelFileName.stem(base)
        let card = ModelCard(
            name: options.name ?? stem,
            source: .init(file: base, format: format, byteSize: size, sha256: sha),
            framework: .init(name: "keras", version: kerasVersion, backend: backend),
            inputs: inputs.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape, layout: $0.shape.count == 4 ? (channelsFirst ? "NCHW" : "NHWC") : nil) },
            outputs: outputs.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape, layout: $0.shape.count == 4 ? (channelsFirst ? "NCHW" : "NHWC") : nil) },
            layers: layers.isEmpty ? nil : layers,
            metadata: application.map { a in
                var m = ["keras.application": a.id, "keras.application.version": a.kerasVersion, "keras.pooling": a.pooling]
                if let c = a.catalogModel { m["catalog.model"] = c; m["catalog.variant"] = a.variant }
                return m
            })
        return Model(card: card, graph: graph, tensors: tensors)
    }

    /// Whether the file starts with a zip local-file header (a `.keras` archive).
    static func isZipArchive(path: String, mapped: MappedFile?) throws -> Bool {
        if let m = mapped { return m.bytes.count >= 4 && Array(m.bytes.prefix(4)) == [0x50, 0x4B, 0x03, 0x04] }
        guard let h = FileHandle(forReadingAtPath: path) else { throw KerasError.io(path: path, detail: "cannot open the file") }
        defer { try? h.close() }
        return Array((try? h.read(upToCount: 4)) ?? Data()) == [0x50, 0x4B, 0x03, 0x04]
    }

    static func containsChannelsFirst(_ m: ModelSpec) -> Bool {
        m.layers.contains { ($0.config["data_format"] as? String) == "channels_first" || ($0.model.map(containsChannelsFirst) ?? false) }
    }

    /// Drops nodes no output needs (e.g. a transpose made for a layer that was folded away).
    static func removeDeadNodes(_ g: Graph) -> Graph {
        var needed = Set(g.outputs.map(\.name))
        var kept: [Node] = []
        for n in g.nodes.reversed() where n.outputs.contains(where: needed.contains) {
            kept.append(n)
            needed.formUnion(n.inputs)
        }
        return Graph(inputs: g.inputs, outputs: g.outputs, nodes: kept.reversed())
    }

    static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// config.json, metadata.json and model.weights.h5 from a `.keras` zip,
    /// the weights extracted into a private temporary directory (HDF5 reads paths).
    ///
    /// Every member is bounded by the size it declares and a cap (`ZipArchive`).
    /// The weights are streamed to disk chunk by chunk, so peak memory does not
    /// grow with them; on any error the directory is removed.
    static func unpackArchive(_ path: String) throws -> (String, String?, String, URL) {
        let archive: ZipArchive
        do { archive = try ZipArchive(path) } catch let e as ZipArchive.Failure {
            throw KerasError.archive(path: path, detail: "\(e.description); not a readable .keras archive")
        }
        func extract(_ member: String, limit: Int, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
            guard let entry = archive[member] else { return false }
            do { try archive.stream(entry, limit: limit, into: sink) } catch let e as ZipArchive.Failure {
                throw KerasError.archive(path: path, detail: e.description)
            }
            return true
        }
        func read(_ member: String, limit: Int) throws -> Data? {
            var data = Data()
            return try extract(member, limit: limit) { data.append(contentsOf: $0) } ? data : nil
        }
        guard let config = try read("config.json", limit: 64 << 20) else { throw KerasError.archive(path: path, detail: "no config.json in the archive") }
        let metadata = try read("metadata.json", limit: 1 << 20)
        let dir: URL
        do { dir = try TemporaryFiles.makeScratchDirectory(purpose: "keras") } catch {
            throw KerasError.io(path: FileManager.default.temporaryDirectory.path, detail: "cannot create a directory for the weights: \(error.localizedDescription)")
        }
        let weightsURL = dir.appendingPathComponent("model.weights.h5")
        do {
            guard FileManager.default.createFile(atPath: weightsURL.path, contents: nil, attributes: [.posixPermissions: 0o600]),
                  let out = FileHandle(forWritingAtPath: weightsURL.path) else {
                throw KerasError.io(path: weightsURL.path, detail: "cannot create the extracted weights file")
            }
            defer { try? out.close() }
            let found = try extract("model.weights.h5", limit: maxArchiveMember) { chunk in
                do { try out.write(contentsOf: chunk) } catch {
                    throw KerasError.io(path: weightsURL.path, detail: "cannot extract the weights: \(error.localizedDescription)")
                }
            }
            guard found else { throw KerasError.archive(path: path, detail: "no model.weights.h5 in the archive") }
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        return (String(decoding: config, as: UTF8.self), metadata.map { String(decoding: $0, as: UTF8.self) }, weightsURL.path, dir)
    }
}
