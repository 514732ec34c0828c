import Dispatch
import Foundation
import ZooCore
import ZooRuntime
import ZooVision

/// Turns images into feature vectors with a frozen backbone.
///
/// The backbone is cut at the feature layer (anything the model computes:
/// a graph value, or a Keras layer name the card maps), a pooling over the
/// spatial axes is appended, and the result is one small graph whose output
/// `features` is what `zoo features` writes and what `zoo fit` trains on,
/// so a fitted model recomputes exactly the features it was trained on.
/// Images are decoded and preprocessed on worker threads while the model
/// runs the previous batch.
public final class FeatureExtractor: @unchecked Sendable {
    public enum Pooling: String, Sendable, CaseIterable {
        /// Mean over height and width (Keras `pooling="avg"`, GlobalAveragePooling2D).
        case avg
        /// Maximum over height and width (GlobalMaxPooling2D).
        case max
        /// The feature map itself, in the source framework's layout.
        case none
    }

    /// The backbone up to the feature layer plus the pooling; output `features`.
    public let featureModel: Model
    public let preprocessing: Preprocessing
    /// The value or layer the features come from.
    public let layer: String
    public let pooling: Pooling
    /// The shape of one image's features: [D], or the map's [C, H, W] / [H, W, C].
    public let featureShape: [Int]
    let session: InferenceSession

    /// The graph output name of the features.
    public static let outputName = "features"

    /// Prepares the backbone. `layer` nil means the model's (single) output;
    /// `pool` nil means `avg` for a feature map and nothing for a vector.
    public init(model: Model, layer: String? = nil, pool: Pooling? = nil, preprocessing: Preprocessing,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        self.preprocessing = preprocessing
        let name = model.card.name
        guard model.graph.inputs.count == 1, let input = model.graph.inputs.first else {
            throw TransferError.notAnImageModel(model: name, detail: "an image backbone has one input; this model has \(model.graph.inputs.count)")
        }
        guard input.dtype.isFloatingPoint else {
            throw TransferError.notAnImageModel(model: name, detail: "input '\(input.name)' is \(input.dtype.rawValue), not an image tensor")
        }
        // Which graph value, and the permutation to the source layout (Keras layers), if any.
        let chosen: String
        let value: String
        var perm: [Int]?
        var sourceLayout: String?
        if let layer {
            chosen = layer
            if let out = model.graph.outputs.first(where: { $0.name == layer }) {
                value = out.name
                sourceLayout = model.card.outputs.first { $0.name == out.name }?.layout
            } else if let l = model.card.layers?[layer] {
                value = l.value
                perm = l.perm
            } else if model.graph.nodes.contains(where: { $0.outputs.contains(layer) }) {
                value = layer
            } else {
                let some = (model.card.layers.map { Array($0.keys) } ?? model.graph.nodes.flatMap(\.outputs)).sorted().prefix(8)
                throw TransferError.unknownLayer(name: layer, model: name, hint: some.isEmpty ? "" : "; some it has: \(some.joined(separator: ", ")) (zoo inspect lists them)")
            }
        } else {
            guard model.graph.outputs.count == 1, let out = model.graph.outputs.first else {
                throw TransferError.unknownLayer(name: "", model: name, hint: "; the model has \(model.graph.outputs.count) outputs, choose one with --layer (\(model.graph.outputs.map(\.name).joined(separator: ", ")))")
            }
            chosen = out.name
            value = out.name
            sourceLayout = model.card.outputs.first { $0.name == out.name }?.layout ?? model.card.outputs.first?.layout
        }
        self.layer = chosen
        let trunk = try Self.truncated(model, to: value)

        // One probe run at batch 1 tells the feature value's rank and sizes.
        let probeShape = preprocessing.layout == .nhwc ? [1, preprocessing.height, preprocessing.width, 3] : [1, 3, preprocessing.height, preprocessing.width]
        let probe = try Tensor(floats: [Float](repeating: 0, count: probeShape.reduce(1, *)), shape: probeShape)
        let raw: Tensor
        do {
            // The raw graph value (a Keras layer name would be read back in Keras's layout).
            var bare = trunk
            bare.card.layers = nil
            let s = try InferenceSession(model: bare, threads: threads, outputs: [value])
            guard let t = try s.run([input.name: probe])[value] else { throw TransferError.runtime(model: name, detail: "no value '\(value)'") }
            raw = t
        } catch let e as RuntimeError {
            throw TransferError.runtime(model: name, detail: "\(e.localizedDescription) (at input size \(preprocessing.height)×\(preprocessing.width))")
        }
        guard raw.dtype.isFloatingPoint else { throw TransferError.unusableFeature(layer: chosen, detail: "it is \(raw.dtype.rawValue), not a float tensor") }
        let rank = raw.shape.count
        let pooling: Pooling
        switch (rank, pool) {
        case (4, let p): pooling = p ?? .avg
        case (2, nil), (2, .none?): pooling = .none
        case (2, let p?): throw TransferError.unusableFeature(layer: chosen, detail: "it is already a vector per image (shape \(raw.shape)); --pool \(p.rawValue) needs a feature map")
        default: throw TransferError.unusableFeature(layer: chosen, detail: "shape \(raw.shape): features must be a batch of vectors (N×D) or of feature maps (4-D)")
        }
        self.pooling = pooling
        // Axes of height and width in the graph value: NCHW inside the IR unless
        // the value is a public output in NHWC.
        let spatial = sourceLayout == "NHWC" ? [1, 2] : [2, 3]
        var nodes = trunk.graph.nodes
        var outShape: [Int]
        switch pooling {
        case .avg, .max:
            nodes.append(Node(name: "features/pool", op: pooling == .avg ? "ReduceMean" : "ReduceMax", inputs: [value], outputs: [Self.outputName],
                              attributes: ["axes": .ints(spatial), "keepdims": .int(0)]))
            outShape = [raw.shape[spatial[0] == 1 ? 3 : 1]]
        case .none:
            if rank == 4, let perm {
                nodes.append(Node(name: "features/layout", op: "Transpose", inputs: [value], outputs: [Self.outputName], attributes: ["perm": .ints(perm)]))
                outShape = perm.dropFirst().map { raw.shape[$0] }
            } else {
                nodes.append(Node(name: "features/identity", op: "Identity", inputs: [value], outputs: [Self.outputName]))
                outShape = Array(raw.shape.dropFirst())
            }
        }
        featureShape = outShape
        let batch = input.shape.first ?? .symbolic("N")
        var card = trunk.card
        let dims: [Dim] = [batch] + outShape.map { Dim.fixed($0) }
        card.outputs = [ModelCard.IOSpec(name: Self.outputName, dtype: .f32, shape: dims,
                                         layout: outShape.count == 1 ? "NC" : (perm != nil || sourceLayout == "NHWC" ? "NHWC" : "NCHW"))]
        let graph = Graph(inputs: trunk.graph.inputs, outputs: [ValueInfo(name: Self.outputName, dtype: .f32, shape: dims)], nodes: nodes)
        featureModel = Model(card: card, graph: graph, tensors: trunk.tensors)
        do { session = try InferenceSession(model: featureModel, threads: threads) } catch let e as RuntimeError {
            throw TransferError.runtime(model: name, detail: e.localizedDescription)
        }
    }

    /// `model` reduced to the nodes `value` depends on, with only the tensors they read.
    /// The card keeps only the layer entries whose values survive.
    static func truncated(_ model: Model, to value: String) throws -> Model {
        var producer: [String: Int] = [:]
        for (i, n) in model.graph.nodes.enumerated() { for o in n.outputs { producer[o] = i } }
        var needed = Set<Int>(), stack = [value], seen = Set<String>()
        while let v = stack.popLast() {
            guard seen.insert(v).inserted, let i = producer[v] else { continue }
            if needed.insert(i).inserted { stack += model.graph.nodes[i].inputs.filter { !$0.isEmpty } }
        }
        let nodes = model.graph.nodes.indices.filter { needed.contains($0) }.map { model.graph.nodes[$0] }
        let read = Set(nodes.flatMap(\.inputs))
        let produced = Set(nodes.flatMap(\.outputs))
        var card = model.card
        card.layers = card.layers?.filter { produced.contains($0.value.value) }
        if card.layers?.isEmpty == true { card.layers = nil }
        return Model(card: card, graph: Graph(inputs: model.graph.inputs, outputs: model.graph.outputs.filter { produced.contains($0.name) }, nodes: nodes),
                     tensors: model.tensors.filter { read.contains($0.name) })
    }

    /// How far extraction has got (for progress bars).
    public struct Progress: Sendable {
        public var done: Int
        public var total: Int
        public var seconds: Double
        public var imagesPerSecond: Double { seconds > 0 ? Double(done) / seconds : 0 }
        public var remainingSeconds: Double? { done > 0 ? seconds / Double(done) * Double(total - done) : nil }
    }

    /// Features of a list of files.
    public struct Features: Sendable {
        /// The files that gave features, in input order.
        public var paths: [String]
        /// Row-major, `paths.count` × `shape`.
        public var values: [Float]
        /// Shape of one file's features.
        public var shape: [Int]
        /// Files that could not be used (only with `skipBad`), with why.
        public var skipped: [(path: String, reason: String)]
        /// Indices into the input list of the files in `paths`.
        public var kept: [Int]

        public var width: Int { shape.reduce(1, *) }
    }

    /// Runs every file through the backbone, `batchSize` at a time. A file that
    /// cannot be decoded stops the run with an error naming it, unless
    /// `skipBad`, which skips and reports it instead.
    public func extract(_ files: [String], batchSize: Int = 32, skipBad: Bool = false,
                        progress: ((Progress) -> Void)? = nil) throws -> Features {
        guard batchSize >= 1 else { throw TransferError.invalidOptions(detail: "--batch must be at least 1") }
        let per = preprocessing.height * preprocessing.width * 3
        let width = featureShape.reduce(1, *)
        let batches = stride(from: 0, to: files.count, by: batchSize).map { $0..<min($0 + batchSize, files.count) }
        let prep = preprocessing
        let start = DispatchTime.now().uptimeNanoseconds

        /// One batch's network inputs, written by the decoding workers (disjoint slices).
        final class Prepared: @unchecked Sendable {
            let pixels: UnsafeMutablePointer<Float>
            let count: Int
            private var failures: [Int: String] = [:]
            private let lock = NSLock()
            init(_ n: Int, _ per: Int) {
                count = n * per
                pixels = .allocate(capacity: max(count, 1))
                pixels.initialize(repeating: 0, count: max(count, 1))
            }
            deinit { pixels.deallocate() }
            func fail(_ k: Int, _ reason: String) { lock.lock(); failures[k] = reason; lock.unlock() }
            func error(_ k: Int) -> String? { lock.lock(); defer { lock.unlock() }; return failures[k] }
        }
        @Sendable func prepare(_ range: Range<Int>) -> Prepared {
            let p = Prepared(range.count, per)
            DispatchQueue.concurrentPerform(iterations: range.count) { k in
                let path = files[range.lowerBound + k]
                do {
                    let image = try ImageLoader.load(path: path)
                    prep.write(prep.pixels(image), into: p.pixels + k * per)
                } catch {
                    p.fail(k, (error as? LocalizedError)?.errorDescription ?? "\(error)")
                }
            }
            return p
        }

        var out = Features(paths: [], values: [], shape: featureShape, skipped: [], kept: [])
        out.values.reserveCapacity(files.count * width)
        var pending: Prepared? = batches.isEmpty ? nil : prepare(batches[0])
        let inputName = featureModel.graph.inputs[0].name
        for (b, range) in batches.enumerated() {
            let current = pending!
            // Decode the next batch while this one runs.
            let next = DispatchGroup()
            final class Slot: @unchecked Sendable { var value: Prepared? }
            let slot = Slot()
            if b + 1 < batches.count {
                let r = batches[b + 1]
                DispatchQueue.global().async(group: next) { slot.value = prepare(r) }
            }
            var rows: [Int] = []
            for k in 0..<range.count {
                if let e = current.error(k) {
                    if !skipBad { next.wait(); throw TransferError.badInput(path: files[range.lowerBound + k], detail: e) }
                    out.skipped.append((files[range.lowerBound + k], e))
                } else {
                    rows.append(k)
                }
            }
            if !rows.isEmpty {
                var pixels = [Float](repeating: 0, count: rows.count * per)
                pixels.withUnsafeMutableBufferPointer { dst in
                    for (j, k) in rows.enumerated() { (dst.baseAddress! + j * per).update(from: current.pixels + k * per, count: per) }
                }
                let shape = prep.layout == .nhwc ? [rows.count, prep.height, prep.width, 3] : [rows.count, 3, prep.height, prep.width]
                let result: Tensor
                do {
                    guard let t = try session.run([inputName: try Tensor(floats: pixels, shape: shape)])[Self.outputName] else {
                        throw TransferError.runtime(model: featureModel.card.name, detail: "no features output")
                    }
                    result = t
                } catch let e as RuntimeError {
                    next.wait()
                    throw TransferError.runtime(model: featureModel.card.name, detail: e.localizedDescription)
                }
                out.values += result.floatValues()
                for k in rows {
                    out.paths.append(files[range.lowerBound + k])
                    out.kept.append(range.lowerBound + k)
                }
            }
            next.wait()
            pending = slot.value
            progress?(Progress(done: range.upperBound, total: files.count, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        }
        return out
    }
}

extension Tensor {
    /// The elements as Float (f32 read directly; other float types widened).
    func floatValues() -> [Float] {
        if dtype == .f32 { return scalars(as: Float.self) }
        return (doubleValues ?? []).map(Float.init)
    }
}
