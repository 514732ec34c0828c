import CONNXProto
import Foundation
import ZooRuntime
import ZooCore
import ZooFormat

/// Options for `ONNXImporter.load`.
public struct ONNXImportOptions: Sendable {
    /// Model name for the card; defaults to the file name without extension.
    public var name: String?
    /// Whether to hash the source file for the card. Callers that hash it
    /// themselves, overlapped with writing (as `zoo convert` does), turn it off.
    public var hashSource: Bool
    public init(name: String? = nil, hashSource: Bool = true) {
        self.name = name
        self.hashSource = hashSource
    }
}

/// Reads ONNX files into the zoo IR.
///
/// Each op is normalised across opsets 1–28 into one canonical form (docs/IR.md):
/// static parameters become attributes, auto_pad becomes explicit pads, Clip
/// bounds, Softmax axes, Squeeze/Unsqueeze axes, Split sizes and Pad amounts are
/// resolved, and shape-computing subgraphs (Shape → Gather → Unsqueeze → Concat
/// → Reshape) are folded so the graph is static except for the batch dimension.
public enum ONNXImporter {
    /// ONNX ops the importer understands (before folding and canonicalisation),
    /// from the normaliser tables in `Ops/`.
    public static var supportedOps: Set<String> { Set(ONNXOps.table.keys) }
    /// Default-domain opsets whose semantics are implemented. Opsets 22–28 (onnx 1.23)
    /// change the ops zoo reads only by adding element types (bfloat16, 4- and 8-bit floats,
    /// int4) and attributes for them (Cast `saturate`/`round_mode`, Range `stash_type`),
    /// checked against the onnx schemas; they read as opset 21.
    public static let opsetRange = 1...28
    /// Protobuf's own 2 GiB message limit; larger models must use external data.
    public static let maxFileSize = Int(Int32.max)
    /// Most nodes a graph may have. A `.zoo` header (at most 64 MiB) describes
    /// each node in about 90 bytes or more, so a graph this size is near what the
    /// format can hold; refusing it before the import keeps a hostile file (a
    /// 35 MB chain of 10⁶ Relus) from costing gigabytes and seconds first. The
    /// largest published vision and language models have well under 100,000.
    public static let maxNodes = 500_000

    /// Imports the model at `path`. External data files are read from the
    /// model's directory only.
    public static func load(path: String, options: ONNXImportOptions = .init()) throws -> Model {
        try load(path: path, mapped: nil, options: options)
    }

    /// Imports from an existing mapping of `path` (callers that also hash or
    /// copy the file share one mapping instead of mapping it twice).
    public static func load(path: String, mapped: MappedFile?, options: ONNXImportOptions = .init()) throws -> Model {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ONNXError.io(path: path, operation: "open", errno: errno) }
        guard Int(st.st_size) <= maxFileSize else { throw ONNXError.tooLarge(path: path, size: Int(st.st_size), limit: maxFileSize) }

        // Weights stay in the memory map: the wire scanner lifts initializer
        // raw_data out before protobuf-c unpacks the (now small) rest, and
        // tensors view the mapping. The source hash for the card runs on
        // another core meanwhile.
        let file: MappedFile
        if let mapped {
            file = mapped
        } else {
            do { file = try MappedFile(path: path) } catch let ZooCoreError.io(p, op, e) { throw ONNXError.io(path: p, operation: op, errno: e) }
        }
        let digest = options.hashSource ? SourceDigest(file: file) : nil
        let parsed = Result { () throws -> (ProtoModel, [Int: Range<Int>]) in
            let scan: WireScanner.Result
            do { scan = try WireScanner.scan(file.bytes, nodeLimit: ONNXImporter.maxNodes) } catch { throw ONNXError.malformedProtobuf(path: path, size: file.bytes.count) }
            guard scan.nodes <= ONNXImporter.maxNodes else {
                throw ONNXError.tooManyNodes(path: path, count: scan.nodes, limit: ONNXImporter.maxNodes)
            }
            let proto = try scan.stripped.withUnsafeBytes { try ProtoModel(bytes: $0, path: path) }
            return (proto, scan.rawData)
        }
        let sha = try digest?.value()
        let size = file.bytes.count
        let (proto, rawData) = try parsed.get()
        let session = try ImportSession(path: path, proto: proto, file: file, rawData: rawData)
        var model = try session.run()
        let m = proto.message.pointee
        let base = (path as NSString).lastPathComponent
        let stem = ModelFileName.stem(base)
        let producer = [cstr(m.producer_name), cstr(m.producer_version)].filter { !$0.isEmpty }.joined(separator: " ")
        var metadata: [String: String] = [:]
        for e in messages(m.metadata_props, m.n_metadata_props) { metadata[cstr(e.pointee.key)] = cstr(e.pointee.value) }
        if let g = m.graph, !cstr(g.pointee.name).isEmpty { metadata["onnx.graph_name"] = cstr(g.pointee.name) }
        if m.has_model_version != 0 { metadata["onnx.model_version"] = String(m.model_version) }
        model.card = ModelCard(
            name: options.name ?? stem,
            source: .init(file: base, format: "onnx", byteSize: size, sha256: sha),
            framework: .init(name: "onnx", version: m.has_ir_version != 0 ? "IR \(m.ir_version)" : nil,
                             opset: session.opset, producer: producer.isEmpty ? nil : producer),
            inputs: model.graph.inputs.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape, layout: $0.shape.count == 4 ? "NCHW" : nil) },
            outputs: model.graph.outputs.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape, layout: nil) },
            metadata: metadata.isEmpty ? nil : metadata)
        return model
    }
}

/// What the importer knows about a value while walking the graph.
enum Value {
    /// Computed at run time by an emitted node or fed as a graph input.
    case runtime(DType, SymShape)
    /// Known at import (initializer, Constant, or folded).
    case constant(Tensor)
    /// An int64 value known up to the batch size (from Shape of a batched tensor).
    case symbolic([SymDim], shape: [Int])
}

/// One import: walks the nodes in order, folding what is static and emitting
/// canonical IR nodes for the rest.
final class ImportSession {
    let path: String
    let proto: ProtoModel
    let opset: Int
    let decoder: TensorDecoder
    var values: [String: Value] = [:]
    var aliases: [String: String] = [:]
    var nodes: [Node] = []
    var inputs: [ValueInfo] = []
    var nodeNames: Set<String> = []
    /// The ONNX node that produced each symbolic value, to compute it at run
    /// time if something other than a static consumer needs it.
    var producers: [String: ONNXNode] = [:]
    var materialized: Set<String> = []
    var materializing = false
    var currentNode: ONNXNode?
    /// Names sizes without a closed form (`?1`, `?2`, …) in import order.
    let unknowns = UnknownDims()

    init(path: String, proto: ProtoModel, file: MappedFile, rawData: [Int: Range<Int>]) throws {
        self.path = path
        self.proto = proto
        let m = proto.message.pointee
        guard let graph = m.graph else { throw ONNXError.missingGraph(path: path) }
        var found: Int?
        for o in messages(m.opset_import, m.n_opset_import) {
            let d = cstr(o.pointee.domain)
            if d.isEmpty || d == "ai.onnx" { found = Int(o.pointee.version) }
        }
        guard let opset = found else { throw ONNXError.missingOpset(path: path) }
        guard ONNXImporter.opsetRange.contains(opset) else {
            throw ONNXError.unsupportedOpset(path: path, opset: opset, supported: ONNXImporter.opsetRange)
        }
        self.opset = opset
        decoder = TensorDecoder(path: path, owner: proto, external: try ExternalDataResolver(modelPath: path), file: file, rawData: rawData)
    }

    func run() throws -> Model {
        let g = proto.message.pointee.graph!.pointee
        let onnxNodes = messages(g.node, g.n_node).enumerated().map { ONNXNode($1, index: $0) }

        // Report every unsupported op at once, before doing any work.
        var unsupported: [String: Int] = [:], first: [String: String] = [:]
        for n in onnxNodes where !(n.domain.isEmpty || n.domain == "ai.onnx") || !ONNXImporter.supportedOps.contains(n.op) {
            let key = n.domain.isEmpty || n.domain == "ai.onnx" ? n.op : "\(n.domain):\(n.op)"
            unsupported[key, default: 0] += 1
            if first[key] == nil { first[key] = n.name }
        }
        guard unsupported.isEmpty else { throw ONNXError.unsupportedOps(path: path, ops: unsupported, opset: opset, firstNodes: first) }

        for (i, t) in messages(g.initializer, g.n_initializer).enumerated() {
            let (name, tensor) = try decoder.decode(t, name: "initializer_\(i)", initializer: i)
            guard values[name] == nil else { throw ONNXError.duplicateValue(path: path, value: name) }
            values[name] = .constant(tensor)
        }
        for v in messages(g.input, g.n_input).map(ONNXValueInfo.init) where values[v.name] == nil {
            // IR < 4 lists initializers as inputs too; those stay constants.
            guard let code = v.elemType, let dtype = ONNXDataType.dtype(code) else {
                throw ONNXError.unsupportedDataType(path: path, tensor: v.name, dataType: v.elemType ?? 0)
            }
            guard let dims = v.dims else {
                throw ONNXError.invalidTensor(path: path, tensor: v.name, detail: "graph input has no shape (not even a rank); re-export the model with input shapes")
            }
            // dim_params become symbols (shared across inputs, so equal names must agree at run
            // time); an unnamed dimension gets a name of its own.
            let named = dims.map { d -> Dim in
                guard case .symbolic(let p) = d else { return d }
                return p.isEmpty ? unknowns.make().dim : .symbolic(SymDim.sanitizedSymbol(p))
            }
            let fixed = named.compactMap { if case .fixed(let d) = $0 { return d } else { return nil } }
            guard ShapeMath.elementCount(fixed) != nil else {
                throw ONNXError.invalidTensor(path: path, tensor: v.name, detail: "declared shape \(ShapeMath.describe(named)) is negative or overflows \(ShapeMath.maxElements) elements")
            }
            inputs.append(ValueInfo(name: v.name, dtype: dtype, shape: named))
            values[v.name] = .runtime(dtype, SymShape(named))
        }

        for n in onnxNodes {
            for v in n.inputs where !v.isEmpty && lookup(v) == nil {
                throw ONNXError.undefinedValue(path: path, node: n.name, value: v)
            }
            let n = try modernForm(n)
            currentNode = n
            if try fold(n) { continue }
            try canonicalizeOrEvaluate(n)
        }

        var outputs: [ValueInfo] = []
        for v in messages(g.output, g.n_output).map(ONNXValueInfo.init) {
            guard let value = lookup(v.name) else { throw ONNXError.undefinedValue(path: path, node: "<graph output>", value: v.name) }
            let resolved = resolve(v.name)
            switch value {
            case .runtime(let dtype, let shape):
                if resolved != v.name {
                    emitRaw(Node(name: uniqueName("output_\(v.name)"), op: "Identity", inputs: [resolved], outputs: [v.name]))
                }
                outputs.append(ValueInfo(name: v.name, dtype: dtype, shape: shape.dims))
            case .constant(let t):
                // A static output is stored as a tensor and copied out by Identity.
                let stored = "\(v.name):value"
                constantTensors[stored] = t
                emitRaw(Node(name: uniqueName("output_\(v.name)"), op: "Identity", inputs: [stored], outputs: [v.name]))
                outputs.append(ValueInfo(name: v.name, dtype: t.dtype, shape: t.shape.map { .fixed($0) }))
            case .symbolic(_, let shape):
                try materialize(resolved)
                if resolved != v.name {
                    emitRaw(Node(name: uniqueName("output_\(v.name)"), op: "Identity", inputs: [resolved], outputs: [v.name]))
                }
                outputs.append(ValueInfo(name: v.name, dtype: .i64, shape: shape.map { .fixed($0) }))
            }
        }
        return try finish(outputs: outputs)
    }

    /// Removes nodes whose results no output needs, then gathers the constants
    /// the remaining nodes read, in first-use order.
    func finish(outputs: [ValueInfo]) throws -> Model {
        var needed = Set(outputs.map(\.name))
        var kept: [Node] = []
        for n in nodes.reversed() where n.outputs.contains(where: needed.contains) {
            kept.append(n)
            needed.formUnion(n.inputs.filter { !$0.isEmpty })
        }
        kept.reverse()
        var tensors: [(name: String, tensor: Tensor)] = []
        var seen = Set<String>()
        let inputNames = Set(inputs.map(\.name))
        for n in kept {
            for i in n.inputs where !i.isEmpty && !inputNames.contains(i) && !seen.contains(i) {
                if let t = constantTensors[i] {
                    seen.insert(i)
                    tensors.append((i, t))
                }
            }
        }
        let graph = Graph(inputs: inputs, outputs: outputs, nodes: kept)
        do { try graph.validate(initializers: seen) } catch {
            throw ONNXError.invalidNode(path: path, node: "<graph>", op: "", detail: error.localizedDescription)
        }
        return Model(card: ModelCard(name: ""), graph: graph, tensors: tensors)
    }

    /// Constants referenced by emitted nodes, under the name nodes use.
    var constantTensors: [String: Tensor] = [:]

    func resolve(_ name: String) -> String {
        var n = name
        while let a = aliases[n] { n = a }
        return n
    }

    func lookup(_ name: String) -> Value? { values[resolve(name)] }

    /// Registers the constant behind `name` for the tensor table and returns the name to use.
    func constantName(_ name: String) -> String {
        let r = resolve(name)
        if case .constant(let t)? = values[r] { constantTensors[r] = t }
        return r
    }

    func uniqueName(_ base: String) -> String {
        var name = base
        var k = 1
        while nodeNames.contains(name) {
            name = "\(base)/\(k)"
            k += 1
        }
        return name
    }

    func emitRaw(_ node: Node) {
        nodeNames.insert(node.name)
        nodes.append(node)
    }
}
