import Foundation
import ZooCore

/// Kernels of the Activation and Binary families (ZooCore `ActivationOps`, `BinaryOps`).
enum ActivationKernels {
    /// An elementwise function, in place when its input dies here.
    static func unary(_ f: @escaping @Sendable (OpAttributes) throws -> Elementwise.Unary, fused: (@Sendable (OpAttributes) throws -> Activation)? = nil) -> Kernel {
        Kernel(run: { c in
            let op = try f(c.attrs)
            switch try c.input(0) {
            case .ints(let v, _):
                // Identity on integer tensors (graph outputs of shape values).
                return [.ints(v, shape: c.out)]
            case .floats(let x, _, _):
                let (y, b) = c.output(inPlace: true)
                Elementwise.unary(op, x, y, count: c.count, threads: c.threads)
                return [c.result(y, b)]
            }
        }, fusedActivation: fused)
    }

    /// A function along one axis: `f(x, y, outer, axis size, inner, threads)`.
    static func axisKernel(_ f: @escaping @Sendable (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int, Int) -> Void) -> Kernel {
        Kernel(run: { c in
            let x = try c.shape(0)
            let a = try c.axis(try c.attrs.int("axis"), rank: x.count)
            let (y, b) = c.allocate(c.count)
            f(try c.floats(0), y, x[0..<a].reduce(1, *), x[a], x[(a + 1)...].reduce(1, *), c.threads)
            return [c.result(y, b)]
        })
    }

    static let table: [String: Kernel] = [
        "Relu": unary({ _ in .relu }, fused: { _ in .relu }),
        "LeakyRelu": unary({ .leaky(try $0.float("alpha")) }, fused: { .leaky(try $0.float("alpha")) }),
        "ThresholdedRelu": unary { .thresholded(try $0.float("alpha")) },
        "Elu": unary { .elu(try $0.float("alpha")) },
        "Selu": unary { .selu(try $0.float("alpha"), try $0.float("gamma")) },
        "Gelu": unary { try $0.string("approximate") == "tanh" ? .geluTanh : .gelu },
        "Softplus": unary { _ in .softplus },
        "Softsign": unary { _ in .softsign },
        // Bounds from attributes or, when known only per run, inputs 1 and 2; integers clip as integers.
        "Clip": Kernel(run: { c in
            let x = MathKernels.Values(try c.input(0))
            func bound(_ i: Int, _ name: String) throws -> MathKernels.Values? {
                guard c.has(i) else { return nil }
                guard try c.input(i).shape.reduce(1, *) == 1 else { throw c.fail("bound \(i) must be a scalar") }
                return MathKernels.Values(try c.input(i))
            }
            let lo = try bound(1, "min"), hi = try bound(2, "max")
            if x.isInt {
                func attr(_ name: String, _ d: Int64) throws -> Int64 {
                    let f = try c.attrs.float(name)
                    return f.isFinite ? Int64(Swift.max(Swift.min(f, 9.2e18), -9.2e18)) : d
                }
                let l = try lo?.int(0) ?? attr("min", .min), h = try hi?.int(0) ?? attr("max", .max)
                return [.ints((0..<c.count).map { Swift.min(Swift.max(x.int($0), l), h) }, shape: c.out)]
            }
            let l = try lo?.float(0) ?? c.attrs.float("min"), h = try hi?.float(0) ?? c.attrs.float("max")
            let p = try c.floats(0)
            let (y, b) = c.output(inPlace: true)
            Elementwise.unary(.clip(l, h), p, y, count: c.count, threads: c.threads)
            return [c.result(y, b)]
        }, fusedActivation: { .clip(try $0.float("min"), try $0.float("max")) }),
        "Sigmoid": unary { _ in .sigmoid },
        "HardSigmoid": unary { .hardSigmoid(try $0.float("alpha"), try $0.float("beta")) },
        "HardSwish": unary { _ in .hardSwish },
        "Tanh": unary { _ in .tanh },
        "Identity": Kernel(run: { c in [c.view(try c.input(0))] }),
        "Celu": unary { .celu(try $0.float("alpha")) },
        "Mish": unary { _ in .mish },
        "Swish": unary { .swish(try $0.float("alpha")) },
        "Shrink": unary { .shrink(bias: try $0.float("bias"), lambda: try $0.float("lambd")) },
        "Softmax": axisKernel { x, y, o, n, i, t in Elementwise.softmax(x, y, outer: o, axis: n, inner: i, threads: t) },
        "LogSoftmax": axisKernel { x, y, o, n, i, _ in
            for oi in 0..<(o * i) {
                let base = (oi / i) * n * i + oi % i
                var m = -Float.infinity
                for k in 0..<n { m = max(m, x[base + k * i]) }
                var s: Double = 0
                for k in 0..<n { s += Double(expf(x[base + k * i] - m)) }
                let l = Float(Foundation.log(s))
                for k in 0..<n { y[base + k * i] = x[base + k * i] - m - l }
            }
        },
        // One-hot of the first maximum along the axis.
        "Hardmax": axisKernel { x, y, o, n, i, _ in
            for oi in 0..<(o * i) {
                let base = (oi / i) * n * i + oi % i
                var best = 0
                for k in 0..<n where x[base + k * i] > x[base + best * i] { best = k }
                for k in 0..<n { y[base + k * i] = k == best ? 1 : 0 }
            }
        },
    ]
}

enum BinaryKernels {
    static func binary(_ op: String) -> Kernel {
        Kernel(run: { c in
            let a = try c.input(0), b = try c.input(1)
            if a.isInt || b.isInt { return [try IntKernels.arithmetic(op, a, b, out: c.out, fail: c.fail)] }
            let (y, buf) = c.output(inPlace: a.shape == c.out)
            Elementwise.binary(op, a: try c.floats(0), aShape: a.shape, b: try c.floats(1), bShape: b.shape, y: y, outShape: c.out, threads: c.threads)
            let act = c.step.activation
            if act != .none {
                parallelFor(c.count, threads: c.threads, grain: 1 << 15) { r in Activations.apply(act, y + r.lowerBound, count: r.count) }
            }
            return [c.result(y, buf)]
        }, takesActivation: op == "Add")
    }
    static let table: [String: Kernel] = Dictionary(uniqueKeysWithValues: ["Add", "Sub", "Mul", "Div"].map { ($0, binary($0)) })
}

/// Integer tensors (shapes, indices) at run time.
enum IntKernels {
    /// Broadcasting integer arithmetic; Div truncates toward zero like ONNX int64 Div.
    static func arithmetic(_ op: String, _ a: RValue, _ b: RValue, out: [Int], fail: (String) -> RuntimeError) throws -> RValue {
        guard case .ints(let x, let xs) = a, case .ints(let y, let ys) = b else { throw fail("mixed integer and float operands") }
        let n = out.reduce(1, *)
        let oa = MathKernels.offsets(xs, to: out), ob = MathKernels.offsets(ys, to: out)
        var result = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            let ia = oa[i], ib = ob[i]
            let l = x[ia], r = y[ib]
            switch op {
            case "Add": result[i] = l &+ r
            case "Sub": result[i] = l &- r
            case "Mul": result[i] = l &* r
            default:
                guard r != 0 else { throw fail("integer division by zero") }
                result[i] = l == Int64.min && r == -1 ? Int64.min : l / r
            }
        }
        return .ints(result, shape: out)
    }
}
