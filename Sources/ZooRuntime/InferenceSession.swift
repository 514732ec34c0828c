import CBLAS
import Foundation
import ZooCore
import ZooFormat

/// Runs a zoo model on the CPU.
///
/// Load does the work that does not depend on input sizes once: tensors are
/// verified (lazily, on first use) and viewed in place, BatchNormalization is
/// folded into the preceding convolution, Relu/Clip/LeakyRelu into Conv, Gemm
/// and Add epilogues, and each value's last use is recorded so activation
/// buffers return to a pool the moment they die. Shapes are planned once per
/// concrete input-shape signature (a small LRU of plans), so a fixed-shape
/// model plans once and a model with symbolic batch, height or width serves
/// any size. A session runs one inference at a time (calls are serialised).
public final class InferenceSession: @unchecked Sendable {
    /// Largest value the runtime will allocate (2^32 floats = 16 GiB).
    public static let maxElementsPerValue = 1 << 32
    /// Plans kept per session (distinct input-shape signatures).
    public static let planCacheSize = 8

    /// Ops the runtime executes: every op of the registry that has a kernel.
    public static var supportedOps: Set<String> { OpRegistry.names.intersection(KernelRegistry.kernels.keys) }

    public let card: ModelCard
    public let graph: Graph
    public let threads: Int
    /// Convolution filters packed for the GEMM kernel at their first run, per step and group.
    private var packed: [Int: [PackedMatrix]] = [:]

    /// The packed filters of step `step` (one matrix per group), made on first use.
    /// Runs are serialised, so the table needs no lock of its own.
    func packedFilters(step: Int, weights: UnsafePointer<Float>, params p: ConvParams) -> [PackedMatrix]? {
        if let known = packed[step] { return known.isEmpty ? nil : known }
        let kSize = p.cg * p.kh * p.kw
        var groups: [PackedMatrix] = []
        for g in 0..<p.group {
            guard let m = PackedMatrix(m: p.mg, k: kSize, a: weights + g * p.mg * kSize, lda: kSize) else { break }
            groups.append(m)
        }
        if groups.count != p.group { groups = [] }
        packed[step] = groups
        return groups.isEmpty ? nil : groups
    }

    /// Values returned by `run`: the graph outputs, or those asked for.
    public let outputNames: [String]
    /// The graph value behind each output name, and the permutation back to the source layout
    /// (a Keras layer name means the layer's output in Keras's layout).
    let outputValues: [(value: String, perm: [Int]?)]

    struct Step {
        var node: Node
        var spec: OpSpec
        var kernel: Kernel
        var activation: Activation = .none
        /// A value added in the epilogue (fused residual Add); also the node's 4th input.
        var residual: String?
    }

    let steps: [Step]
    let constants: [String: Constant]
    let lastUse: [String: Int]
    /// Producers that may write straight into a Concat's output (`concatSlots`).
    let concatSlots: [Int: (concat: Int, input: Int)]
    /// During a run: the output buffer of each Concat whose producers have started writing into it.
    var concatBuffers: [Int: Buffer] = [:]
    /// The slice the running producer's output allocation takes.
    var pendingSlice: (pointer: UnsafeMutablePointer<Float>, buffer: Buffer, count: Int)?
    let pool = BufferPool()
    private let lock = NSLock()
    var plans: [(key: PlanKey, plan: Plan)] = []

    /// Bytes one node's inputs and outputs may take together (default: the machine's
    /// physical memory). A larger node is refused with `RuntimeError.insufficientMemory`
    /// before anything is allocated, instead of the process being killed mid-run.
    public var memoryLimit = Int(clamping: ProcessInfo.processInfo.physicalMemory)

    /// When set, `run` records wall time per op kind in `profile`.
    public var profiling = false
    /// Milliseconds and node counts per op kind ("Conv+relu" for fused nodes) of the last profiled run.
    public private(set) var profile: [String: (ms: Double, count: Int)] = [:]
    /// How many plans were made, and how long the last one took (seconds).
    public internal(set) var planStatistics: (count: Int, lastSeconds: Double) = (0, 0)

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
        var steps: [Step] = []
        for n in graph.nodes {
            guard let spec = OpRegistry.spec(n.op), let kernel = KernelRegistry.kernels[n.op] else { unsupported[n.op, default: 0] += 1; continue }
            steps.append(Step(node: n, spec: spec, kernel: kernel))
        }
        guard unsupported.isEmpty else { throw RuntimeError.unsupportedOps(unsupported) }

        var consts: [String: Constant] = [:]
        for (name, t) in model.tensors { consts[name] = Constant(t) }
        var known = Set(graph.inputs.map(\.name)).union(consts.keys)
        for n in graph.nodes { known.formUnion(n.outputs) }
        let wanted = outputs ?? graph.outputs.map(\.name)
        let graphOutputs = Set(graph.outputs.map(\.name))
        let resolved: [(value: String, perm: [Int]?)] = wanted.map { o in
            if graphOutputs.contains(o) { return (o, nil) }
            if let l = model.card.layers?[o] { return (l.value, l.perm) }
            return (o, nil)
        }
        for (o, r) in zip(wanted, resolved) where !known.contains(r.value) { throw RuntimeError.unknownOutput(name: o) }
        outputNames = wanted
        outputValues = resolved

        try Self.fuse(&steps, constants: &consts, keep: Set(resolved.map(\.value)))
        self.steps = steps
        constants = consts
        var last: [String: Int] = [:]
        for (i, s) in steps.enumerated() { for v in s.node.inputs where !v.isEmpty { last[v] = i } }
        for o in resolved { last[o.value] = Int.max }
        lastUse = last
        concatSlots = Self.concatSlots(steps, lastUse: last)
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
        for name in inputs.keys where !graph.inputs.contains(where: { $0.name == name }) {
            throw RuntimeError.unknownInput(name: name, known: graph.inputs.map(\.name))
        }
        var keepAlive: [AnyObject] = []
        var symbols: [String: (value: Int, input: String, axis: Int)] = [:]
        for spec in graph.inputs {
            guard let t = inputs[spec.name] else { throw RuntimeError.missingInput(name: spec.name, expected: spec.shape) }
            try check(t, against: spec, symbols: &symbols)
            // The converted input (and any widened copy) must outlive the run.
            let c = Constant(t)
            keepAlive.append(t.storage)
            if case .floats(_, _, let owner) = c { keepAlive.append(owner) }
            env[spec.name] = c.value
        }
        let plan = try self.plan(for: env)
        resetConcatBuffers()
        defer { resetConcatBuffers() }
        if profiling { profile = [:] }
        for (i, step) in steps.enumerated() {
            let t0 = profiling ? DispatchTime.now().uptimeNanoseconds : 0
            try execute(step, index: i, plan: plan, env: &env)
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
        for (name, out) in zip(outputNames, outputValues) {
            guard let v = env[out.value] ?? constants[out.value]?.value else { throw RuntimeError.unknownOutput(name: name) }
            let declared = graph.outputs.first { $0.name == out.value }?.dtype
            var t = try tensor(from: v, dtype: declared)
            if let perm = out.perm, t.shape.count == perm.count { t = try t.transposed(perm) }
            result[name] = t
        }
        for (_, v) in env { release(v) }
        withExtendedLifetime(keepAlive) {}
        return result
    }

    /// Checks an input against its declared shape: the rank, every fixed
    /// size, and every symbol (bound by the first input that has it).
    private func check(_ t: Tensor, against spec: ValueInfo, symbols: inout [String: (value: Int, input: String, axis: Int)]) throws {
        let compatible = spec.dtype == t.dtype || (!spec.dtype.isFloatingPoint && !t.dtype.isFloatingPoint && t.dtype != .bytes)
        guard compatible else { throw RuntimeError.inputDType(name: spec.name, expected: spec.dtype, actual: t.dtype) }
        guard t.shape.count == spec.shape.count else { throw RuntimeError.inputShape(name: spec.name, expected: spec.shape, actual: t.shape) }
        let dims = spec.shape.map(SymDim.init)
        // Plain symbols bind first; then sizes written as expressions are checked.
        for (axis, (s, actual)) in zip(dims, t.shape).enumerated() {
            if let v = s.value {
                guard v == actual else {
                    throw RuntimeError.inputDimension(name: spec.name, axis: axis, actual: actual, expected: v, reason: "a fixed size", declared: spec.shape)
                }
            } else if let sym = s.symbolName {
                if let b = symbols[sym], b.value != actual {
                    throw RuntimeError.inputDimension(name: spec.name, axis: axis, actual: actual, expected: b.value,
                                                      reason: "\(sym) = \(b.value) from input '\(b.input)' dimension \(b.axis)", declared: spec.shape)
                }
                symbols[sym] = symbols[sym] ?? (actual, spec.name, axis)
            }
        }
        let values = symbols.mapValues(\.value)
        for (axis, (s, actual)) in zip(dims, t.shape).enumerated() where s.symbolName == nil && !s.isFixed {
            if let v = s.evaluated(values), v != actual {
                throw RuntimeError.inputDimension(name: spec.name, axis: axis, actual: actual, expected: v, reason: "\(s) with \(values.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: ", "))", declared: spec.shape)
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
        if let slice = takeSlice(count) { return slice }
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
            case .bf16: storage = TensorStorage(count: n * 2, zeroed: false) { out in for i in 0..<n { out.storeBytes(of: BFloat16.bits(p[i]), toByteOffset: i * 2, as: UInt16.self) } }
            default: storage = TensorStorage(copying: UnsafeRawBufferPointer(start: p, count: n * 4))
            }
            return try Tensor(dtype: [.f64, .f16, .bf16].contains(to) ? to : .f32, shape: shape, storage: storage)
        case .ints(let values, let shape):
            switch dtype ?? .i64 {
            case .i32: return try Tensor(dtype: .i32, shape: shape, storage: values.map { Int32(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .i8: return try Tensor(dtype: .i8, shape: shape, storage: values.map { Int8(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .u8, .bool: return try Tensor(dtype: dtype!, shape: shape, storage: values.map { UInt8(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .i16: return try Tensor(dtype: .i16, shape: shape, storage: values.map { Int16(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .u16: return try Tensor(dtype: .u16, shape: shape, storage: values.map { UInt16(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .u32: return try Tensor(dtype: .u32, shape: shape, storage: values.map { UInt32(truncatingIfNeeded: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .u64: return try Tensor(dtype: .u64, shape: shape, storage: values.map { UInt64(bitPattern: $0) }.withUnsafeBytes { TensorStorage(copying: $0) })
            case .f32, .f16, .bf16, .f64: return try Tensor(floats: values.map(Float.init), shape: shape)
            default: return try Tensor(dtype: .i64, shape: shape, storage: values.withUnsafeBytes { TensorStorage(copying: $0) })
            }
        }
    }
}
