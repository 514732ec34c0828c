import Foundation
import ZooCore

/// The runtime's implementation of one IR op (`OpSpec` in ZooCore).
struct Kernel: Sendable {
    /// Computes the node's outputs; shapes were already derived by the plan.
    let run: @Sendable (KernelCall) throws -> [RValue]
    /// The epilogue activation this op becomes when fused into its producer.
    var fusedActivation: (@Sendable (OpAttributes) throws -> Activation)? = nil
    /// Whether this op's kernel applies a fused activation in its epilogue.
    var takesActivation = false
}

/// Kernels by op name, one table per op family; every op of `OpRegistry` has one.
enum KernelRegistry {
    static let families: [[String: Kernel]] = [
        ActivationKernels.table, BinaryKernels.table, ConvKernels.table, PoolKernels.table,
        NormalizationKernels.table, MatMulKernels.table, MovementKernels.table, ShapeKernels.table, ReduceKernels.table,
        MathKernels.table, IndexKernels.table, StatisticsKernels.table, ResizeKernels.table, AttentionKernels.table,
        QuantizationKernels.table, SamplingKernels.table, TensorKernels.table, RecurrentKernels.table,
        ConvNDKernels.table,
    ]
    static let kernels: [String: Kernel] = {
        var out: [String: Kernel] = [:]
        for f in families { for (k, v) in f { precondition(out[k] == nil, "kernel \(k) registered twice"); out[k] = v } }
        return out
    }()
}

/// One node's execution: its inputs, planned output shapes, attributes (with
/// the spec's defaults) and the session's buffers.
final class KernelCall {
    unowned let session: InferenceSession
    let step: InferenceSession.Step
    let index: Int
    let ins: [RValue?]
    let outShapes: [[Int]]
    let attrs: OpAttributes

    init(session: InferenceSession, step: InferenceSession.Step, index: Int, ins: [RValue?], outShapes: [[Int]], attrs: OpAttributes) {
        self.session = session
        self.step = step
        self.index = index
        self.ins = ins
        self.outShapes = outShapes
        self.attrs = attrs
    }

    var node: Node { step.node }
    var out: [Int] { outShapes[0] }
    var count: Int { outShapes[0].reduce(1, *) }
    var threads: Int { session.threads }

    func fail(_ d: String) -> RuntimeError { .shape(node: node.name, op: node.op, detail: d) }
    func unsupported(_ d: String) -> RuntimeError { .unsupportedForm(node: node.name, op: node.op, detail: d) }

    func has(_ i: Int) -> Bool { i < ins.count && ins[i] != nil }
    func input(_ i: Int) throws -> RValue {
        guard i < ins.count, let v = ins[i] else { throw fail("input \(i) is missing") }
        return v
    }
    func shape(_ i: Int) throws -> [Int] { try input(i).shape }
    func floats(_ i: Int) throws -> UnsafeMutablePointer<Float> {
        guard case .floats(let p, _, _) = try input(i) else { throw fail("input \(i) must be floating point") }
        return p
    }
    func optionalFloats(_ i: Int) throws -> UnsafeMutablePointer<Float>? { has(i) ? try floats(i) : nil }
    func ints(_ i: Int) throws -> [Int64] {
        guard case .ints(let v, _) = try input(i) else { throw fail("input \(i) must be an integer tensor") }
        return v
    }

    /// A fresh pooled output buffer of `count` floats.
    func allocate(_ n: Int) -> (UnsafeMutablePointer<Float>, Buffer) { session.allocate(n) }
    func scratch(_ n: Int) -> Buffer { session.pool.take(n) }
    func giveBack(_ b: Buffer) { session.pool.give(b) }

    /// The output buffer, reusing input 0's buffer when this node is its last reader.
    func output(inPlace: Bool) -> (UnsafeMutablePointer<Float>, Buffer) {
        let n = count
        if inPlace, case .floats(let p, let s, let b?)? = ins.first, b.users == 1,
           session.lastUse[node.inputs[0]] == index, s.reduce(1, *) == n, b.capacity >= n {
            b.users += 1
            return (p, b)
        }
        return allocate(n)
    }

    /// A float result of output shape `k`.
    func result(_ p: UnsafeMutablePointer<Float>, _ b: Buffer, output k: Int = 0) -> RValue {
        .floats(p, shape: outShapes[k], buffer: b)
    }

    /// Runs a data-movement op on floats (into a pooled buffer) or ints (into an array).
    func move(_ x: RValue, output k: Int = 0, _ op: DataMove) -> RValue {
        let shape = outShapes[k]
        let n = shape.reduce(1, *)
        switch x {
        case .floats(let p, _, _):
            let (y, b) = allocate(n)
            op.apply(p, y)
            return .floats(y, shape: shape, buffer: b)
        case .ints(let v, _):
            var y = [Int64](repeating: 0, count: n)
            v.withUnsafeBufferPointer { src in
                y.withUnsafeMutableBufferPointer { dst in
                    if let s = src.baseAddress, let d = dst.baseAddress { op.apply(s, d) }
                }
            }
            return .ints(y, shape: shape)
        }
    }

    /// The same elements under the output shape (Reshape, Flatten, Squeeze, …): no copy.
    func view(_ x: RValue) -> RValue {
        switch x {
        case .floats(let p, _, let b):
            b?.users += 1
            return .floats(p, shape: out, buffer: b)
        case .ints(let v, _):
            return .ints(v, shape: out)
        }
    }
}
