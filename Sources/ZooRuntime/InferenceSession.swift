import CBLAS
import Foundation
import ZooCore
import ZooFormat

/// Runs a zoo model on the CPU.
///
/// Load does the work once: tensors are verified (lazily, on first use) and
/// viewed in place, BatchNormalization is folded into the preceding
/// convolution and Relu/Clip/LeakyRelu into Conv and Gemm epilogues, and each
/// value's last use is recorded so activation buffers return to a pool the
/// moment they die. Shapes are re-derived per run, so one session serves any
/// batch size. A session runs one inference at a time (calls are serialised).
public final class InferenceSession: @unchecked Sendable {
    /// Largest value the runtime will allocate (2^32 floats = 16 GiB).
    public static let maxElementsPerValue = 1 << 32

    /// Ops the runtime executes: exactly the IR's canonical set.
    public static let supportedOps = ShapeInference.canonicalOps

    public let card: ModelCard
    public let graph: Graph
    public let threads: Int
    /// Values returned by `run`: the graph outputs, or those asked for.
    public let outputNames: [String]

    struct Step {
        var node: Node
        var activation: Activation = .none
        /// A value added in the epilogue (fused residual Add); also the node's 4th input.
        var residual: String?
    }

    let steps: [Step]
    let constants: [String: Constant]
    let lastUse: [String: Int]
    let pool = BufferPool()
    private let lock = NSLock()

    /// When set, `run` records wall time per op kind in `profile`.
    public var profiling = false
    /// Milliseconds and node counts per op kind ("Conv+relu" for fused nodes) of the last profiled run.
    public private(set) var profile: [String: (ms: Double, count: Int)] = [:]

    /// Opens a `.zoo` file; each weight is checked against its SHA-256 as it is loaded.
    public convenience init(file: ZooFile, threads: Int = ProcessInfo.processInfo.activeProcessorCount, outputs: [String]? = nil) throws {
        try self.init(model: try file.model(verify: true), threads: threads, outputs: outputs)
    }

    /// Prepares `model` for execution. `outputs` may name any intermediate
    /// value (feature extraction); fusions never hide a requested value.
    public init(model: Model, threads: Int = ProcessInfo.processInfo.activeProcessorCount, outputs: [String]? = nil) throws {
        card = model.card
        graph = model.graph
        self.threads = max(1, threads)
        var unsupported: [String: Int] = [:]
        for n in graph.nodes where !Self.supportedOps.contains(n.op) { unsupported[n.op, default: 0] += 1 }
        guard unsupported.isEmpty else { throw RuntimeError.unsupportedOps(unsupported) }

        var consts: [String: Constant] = [:]
        for (name, t) in model.tensors { consts[name] = Constant(t) }
        var known = Set(graph.inputs.map(\.name)).union(consts.keys)
        for n in graph.nodes { known.formUnion(n.outputs) }
        let wanted = outputs ?? graph.outputs.map(\.name)
        for o in wanted where !known.contains(o) { throw RuntimeError.unknownOutput(name: o) }
        outputNames = wanted

        var steps = graph.nodes.map { Step(node: $0) }
        Self.fuse(&steps, constants: &consts, keep: Set(wanted))
        self.steps = steps
        constants = consts
        var last: [String: Int] = [:]
        for (i, s) in steps.enumerated() { for v in s.node.inputs where !v.isEmpty { last[v] = i } }
        for o in wanted { last[o] = Int.max }
        lastUse = last
        // BLAS runs single-threaded inside our own workers (one level of threads).
        openblas_set_num_threads(1)
    }

    /// Bytes of activation buffers held by the pool (peak live set of the runs so far).
    public var activationBytes: Int { pool.allocatedFloats * 4 }

    /// Runs the model. Inputs are checked by name, dtype and shape (symbolic
    /// dimensions bind to the sizes given, consistently across inputs).
    public func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        lock.lock()
        defer { lock.unlock() }
        var env: [String: RValue] = [:]
        var bindings: [String: Int] = [:]
        for name in inputs.keys where !graph.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError.unknownInput(name: name, known: graph.inputs.map(\.name))
        }
        var keepAlive: [AnyObject] = []
        for spec in graph.inputs {
            guard let t = inputs[spec.name] else { throw RuntimeError.missingInput(name: spec.name, expected: spec.shape) }
            try check(t, against: spec, bindings: &bindings)
            // The converted input (and any widened copy) must outlive the run.
            let c = Constant(t)
            keepAlive.append(t.storage)
            if case .floats(_, _, let owner) = c { keepAlive.append(owner) }
            env[spec.name] = c.value
        }
        if profiling { profile = [:] }
        for (i, step) in steps.enumerated() {
            let t0 = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            try execute(step, index: i, env: &env)
            if profiling {
                var key = step.node.op
                if step.residual != nil { key += "+Add" }
                if step.activation != .none { key += "+\(step.activation)" }
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                profile[key, default: (0, 0)].ms += ms
                profile[key, default: (0, 0)].count += 1
            }
        }
        var result: [String: Tensor] = [:]
        for name in outputNames {
            guard let v = env[name] ?? constants[name]?.value else { throw RuntimeError.unknownOutput(name: name) }
            let declared = graph.outputs.first { $0.name == name }?.dtype
            result[name] = try tensor(from: v, dtype: declared)
        }
        for (_, v) in env { release(v) }
        withExtendedLifetime(keepAlive) {}
        return result
    }

    private func check(_ t: Tensor, against spec: ValueInfo, bindings: inout [String: Int]) throws {
        let compatible = spec.dtype == t.dtype || (!spec.dtype.isFloatingPoint && !t.dtype.isFloatingPoint && t.dtype != .bytes)
        guard compatible else { throw RuntimeError.inputDType(name: spec.name, expected: spec.dtype, actual: t.dtype) }
        guard t.shape.count == spec.shape.count else { throw RuntimeError.inputShape(name: spec.name, expected: spec.shape, actual: t.shape) }
        for (d, actual) in zip(spec.shape, t.shape) {
            let s = SymDim(d)
            if let v = s.value {
                guard v == actual else { throw RuntimeError.inputShape(name: spec.name, expected: spec.shape, actual: t.shape) }
            } else if let sym = s.symbol {
                guard s.coeff > 0, actual % s.coeff == 0 else { throw RuntimeError.inputShape(name: spec.name, expected: spec.shape, actual: t.shape) }
                let v = actual / s.coeff
                if let b = bindings[sym], b != v { throw RuntimeError.inputShape(name: spec.name, expected: spec.shape, actual: t.shape) }
                bindings[sym] = v
            }
        }
    }

    func value(_ name: String, _ env: [String: RValue]) -> RValue? {
        env[name] ?? constants[name]?.value
    }

    func release(_ v: RValue) {
        if case .floats(_, _, let b?) = v {
            b.users -= 1
            if b.users == 0 { pool.give(b) }
        }
    }

    /// A fresh output buffer of `count` floats.
    func allocate(_ count: Int) -> (UnsafeMutablePointer<Float>, Buffer) {
        let b = pool.take(count)
        b.users = 1
        return (b.pointer, b)
    }

    private func tensor(from v: RValue, dtype: DType?) throws -> Tensor {
        switch v {
        case .floats(let p, let shape, _):
            // One copy out of the pooled buffer, converting as it goes.
            let n = shape.reduce(1, *)
            let to = dtype ?? .f32
            let storage: TensorStorage
            switch to {
            case .f64: storage = TensorStorage(count: n * 8, zeroed: false) { out in for i in 0..<n { out.storeBytes(of: Double(p[i]), toByteOffset: i * 8, as: Double.self) } }
            case .f16: storage = TensorStorage(count: n * 2, zeroed: false) { out in for i in 0..<n { out.storeBytes(of: Float16(p[i]).bitPattern, toByteOffset: i * 2, as: UInt16.self) } }
            default: storage = TensorStorage(copying: UnsafeRawBufferPointer(start: p, count: n * 4))
            }
            return try Tensor(dtype: to == .f64 || to == .f16 ? to : .f32, shape: shape, storage: storage)
        case .ints(let values, let shape):
            switch dtype ?? .i64 {
            case .i32: return try Tensor(dtype: .i32, shape: shape, storage: values.map { Int32(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .i8: return try Tensor(dtype: .i8, shape: shape, storage: values.map { Int8(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .u8, .bool: return try Tensor(dtype: dtype!, shape: shape, storage: values.map { UInt8(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .f32, .f16, .bf16, .f64: return try Tensor(floats: values.map(Float.init), shape: shape)
            default: return try Tensor(dtype: .i64, shape: shape, storage: values.withUnsafeBytes { TensorStorage(copying: $0) })
            }
        }
    }
}
