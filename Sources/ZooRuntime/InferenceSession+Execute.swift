import Foundation
import ZooCore

extension InferenceSession {
    /// Runs one node: derives output shapes, takes buffers, calls the kernel,
    /// and releases every input this node was the last reader of.
    func execute(_ step: Step, index: Int, env: inout [String: RValue]) throws {
        let node = step.node
        func fail(_ d: String) -> RuntimeError { .shape(node: node.name, op: node.op, detail: d) }
        var ins: [RValue?] = []
        for name in node.inputs {
            if name.isEmpty { ins.append(nil); continue }
            guard let v = value(name, env) else { throw RuntimeError.invalidModel(detail: "node '\(node.name)' reads '\(name)' before it is computed") }
            ins.append(v)
        }
        let shapes = ins.map { $0.map { SymShape(concrete: $0.shape) } }
        let known: [[SymDim]?] = ins.map { v in
            if case .ints(let values, _)? = v { return values.map { SymDim(Int($0)) } }
            return nil
        }
        let outShapes: [[Int]]
        do {
            outShapes = try ShapeInference.outputShapes(of: node, inputs: shapes, values: known).map { $0.concrete! }
        } catch let e as ZooCoreError {
            throw fail(e.localizedDescription)
        }
        func input(_ i: Int) -> RValue { ins[i]! }
        func floatsIn(_ i: Int) throws -> UnsafeMutablePointer<Float> {
            guard case .floats(let p, _, _) = input(i) else { throw fail("input \(i) must be floating point") }
            return p
        }
        func intsIn(_ i: Int) throws -> [Int64] {
            guard case .ints(let v, _) = input(i) else { throw fail("input \(i) must be an integer tensor") }
            return v
        }
        // A hostile or broken model must not make the runtime allocate without bound.
        for o in outShapes {
            guard let n = ShapeMath.elementCount(o), n <= InferenceSession.maxElementsPerValue else {
                throw fail("output shape \(ShapeMath.describe(o)) is too large (limit \(InferenceSession.maxElementsPerValue) elements)")
            }
        }
        let out = outShapes[0]
        let count = out.reduce(1, *)
        var results: [RValue] = []

        /// Output buffer, reusing input 0's buffer when this node is its last reader.
        func output(inPlace: Bool = false) -> (UnsafeMutablePointer<Float>, Buffer) {
            if inPlace, case .floats(let p, let s, let b?)? = ins.first, b.users == 1,
               lastUse[node.inputs[0]] == index, s.reduce(1, *) == count, b.capacity >= count {
                b.users += 1
                return (p, b)
            }
            return allocate(count)
        }
        func emitUnary(_ op: Elementwise.Unary) throws {
            let x = try floatsIn(0)
            let (y, b) = output(inPlace: true)
            Elementwise.unary(op, x, y, count: count, threads: threads)
            results = [.floats(y, shape: out, buffer: b)]
        }
        let attrs = node.attributes
        func ints(_ k: String) -> [Int] { attrs[k]?.intsValue ?? [] }
        func int(_ k: String, _ d: Int = 0) -> Int { attrs[k]?.intValue ?? d }
        func float(_ k: String, _ d: Float) -> Float { attrs[k]?.floatValue ?? d }

        switch node.op {
        case "Conv":
            let x = input(0).shape, w = input(1).shape
            guard x.count == 4 || x.count == 3 else { throw RuntimeError.unsupportedForm(node: node.name, op: node.op, detail: "\(x.count - 2)-D convolution") }
            let is1D = x.count == 3
            let k = ints("kernel_shape"), s = ints("strides"), d = ints("dilations"), p = ints("pads")
            let params = ConvParams(
                n: x[0], c: x[1], h: is1D ? 1 : x[2], w: x.last!, m: w[0], kh: is1D ? 1 : k[0], kw: k.last!,
                oh: is1D ? 1 : out[2], ow: out.last!, strideH: is1D ? 1 : s[0], strideW: s.last!,
                dilH: is1D ? 1 : d[0], dilW: d.last!, padTop: is1D ? 0 : p[0], padLeft: is1D ? p[0] : p[1],
                group: int("group", 1), activation: step.activation)
            let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? try floatsIn(2) : nil
            var residual: UnsafeMutablePointer<Float>?
            var residualNeedsBroadcast = false
            if step.residual != nil {
                if input(3).shape == out { residual = try floatsIn(3) } else { residualNeedsBroadcast = true }
            }
            var conv = params
            if residualNeedsBroadcast { conv.activation = .none }
            let (y, b) = allocate(count)
            var scratch: Buffer?
            let need = ConvKernel.scratchFloats(conv, threads: threads)
            if need > 0 { scratch = pool.take(need) }
            ConvKernel.run(conv, x: try floatsIn(0), w: try floatsIn(1), bias: bias, residual: residual, y: y, scratch: scratch?.pointer, threads: threads)
            if let scratch { pool.give(scratch) }
            if residualNeedsBroadcast {
                // The shortcut broadcasts: add it in a separate pass, then the activation.
                Elementwise.binary("Add", a: y, aShape: out, b: try floatsIn(3), bShape: input(3).shape, y: y, outShape: out, threads: threads)
                parallelFor(count, threads: threads, grain: 1 << 15) { r in Activations.apply(step.activation, y + r.lowerBound, count: r.count) }
            }
            results = [.floats(y, shape: out, buffer: b)]
        case "MaxPool", "AveragePool":
            let x = input(0).shape
            guard x.count == 4 || x.count == 3 else { throw RuntimeError.unsupportedForm(node: node.name, op: node.op, detail: "\(x.count - 2)-D pooling") }
            let is1D = x.count == 3, r = x.count - 2
            let k = ints("kernel_shape"), s = ints("strides"), d = ints("dilations"), p = ints("pads")
            let params = PoolParams(
                n: x[0], c: x[1], h: is1D ? 1 : x[2], w: x.last!, kh: is1D ? 1 : k[0], kw: k.last!,
                oh: is1D ? 1 : out[2], ow: out.last!, strideH: is1D ? 1 : s[0], strideW: s.last!,
                dilH: is1D ? 1 : d[0], dilW: d.last!, padTop: is1D ? 0 : p[0], padLeft: p[r - 1],
                padBottom: is1D ? 0 : p[r], padRight: p[2 * r - 1], countIncludePad: int("count_include_pad") != 0)
            let (y, b) = allocate(count)
            if node.op == "MaxPool" {
                PoolKernel.maxPool(params, x: try floatsIn(0), y: y, threads: threads)
            } else {
                PoolKernel.averagePool(params, x: try floatsIn(0), y: y, threads: threads)
            }
            results = [.floats(y, shape: out, buffer: b)]
        case "GlobalAveragePool", "GlobalMaxPool":
            let x = input(0).shape
            let (y, b) = allocate(count)
            PoolKernel.global(max: node.op == "GlobalMaxPool", x: try floatsIn(0), y: y, planes: x[0] * x[1],
                              size: x.dropFirst(2).reduce(1, *), threads: threads)
            results = [.floats(y, shape: out, buffer: b)]
        case "Gemm":
            let a = input(0).shape
            let transA = int("transA") != 0, transB = int("transB") != 0
            let (y, buf) = allocate(count)
            let c = node.inputs.count > 2 && !node.inputs[2].isEmpty ? try floatsIn(2) : nil
            GemmKernel.gemm(a: try floatsIn(0), b: try floatsIn(1), c: c, cShape: c == nil ? [] : input(2).shape, y: y,
                            m: out[0], n: out[1], k: transA ? a[0] : a[1], transA: transA, transB: transB,
                            alpha: float("alpha", 1), beta: float("beta", 1), activation: step.activation, threads: threads)
            results = [.floats(y, shape: out, buffer: buf)]
        case "MatMul":
            let (y, b) = allocate(count)
            GemmKernel.matmul(a: try floatsIn(0), aShape: input(0).shape, b: try floatsIn(1), bShape: input(1).shape, y: y, outShape: out)
            results = [.floats(y, shape: out, buffer: b)]
        case "Add", "Sub", "Mul", "Div":
            if input(0).isInt || input(1).isInt {
                results = [try intArithmetic(node.op, input(0), input(1), out: out, fail: fail)]
            } else {
                let (y, b) = output(inPlace: input(0).shape == out)
                Elementwise.binary(node.op, a: try floatsIn(0), aShape: input(0).shape, b: try floatsIn(1), bShape: input(1).shape,
                                   y: y, outShape: out, threads: threads)
                if step.activation != .none {
                    parallelFor(count, threads: threads, grain: 1 << 15) { r in Activations.apply(step.activation, y + r.lowerBound, count: r.count) }
                }
                results = [.floats(y, shape: out, buffer: b)]
            }
        case "Relu": try emitUnary(.relu)
        case "LeakyRelu": try emitUnary(.leaky(float("alpha", 0.01)))
        case "ThresholdedRelu": try emitUnary(.thresholded(float("alpha", 1)))
        case "Elu": try emitUnary(.elu(float("alpha", 1)))
        case "Selu": try emitUnary(.selu(float("alpha", 1.67326319), float("gamma", 1.05070102)))
        case "Gelu": try emitUnary(attrs["approximate"]?.stringValue == "tanh" ? .geluTanh : .gelu)
        case "Softplus": try emitUnary(.softplus)
        case "Softsign": try emitUnary(.softsign)
        case "Clip": try emitUnary(.clip(float("min", -.infinity), float("max", .infinity)))
        case "Sigmoid": try emitUnary(.sigmoid)
        case "HardSigmoid": try emitUnary(.hardSigmoid(float("alpha", 0.2), float("beta", 0.5)))
        case "HardSwish": try emitUnary(.hardSwish)
        case "Tanh": try emitUnary(.tanh)
        case "Softmax":
            let x = input(0).shape, a = int("axis")
            let (y, b) = allocate(count)
            Elementwise.softmax(try floatsIn(0), y, outer: x[0..<a].reduce(1, *), axis: x[a], inner: x[(a + 1)...].reduce(1, *), threads: threads)
            results = [.floats(y, shape: out, buffer: b)]
        case "BatchNormalization":
            let x = input(0).shape
            let c = x[1], eps = float("epsilon", 1e-5)
            let g = try floatsIn(1), be = try floatsIn(2), mu = try floatsIn(3), va = try floatsIn(4)
            let scale = (0..<c).map { g[$0] / (va[$0] + eps).squareRoot() }
            let shift = (0..<c).map { be[$0] - mu[$0] * scale[$0] }
            let (y, b) = output(inPlace: true)
            Elementwise.channelAffine(try floatsIn(0), y, n: x[0], c: c, plane: x.dropFirst(2).reduce(1, *), scale: scale, shift: shift, threads: threads)
            results = [.floats(y, shape: out, buffer: b)]
        case "LRN":
            let x = input(0).shape
            let (y, b) = allocate(count)
            Elementwise.lrn(try floatsIn(0), y, n: x[0], c: x[1], plane: x.dropFirst(2).reduce(1, *), size: int("size", 1),
                            alpha: float("alpha", 1e-4), beta: float("beta", 0.75), bias: float("bias", 1), threads: threads)
            results = [.floats(y, shape: out, buffer: b)]
        case "ReduceMean":
            let (y, b) = allocate(count)
            Elementwise.reduceMean(try floatsIn(0), shape: input(0).shape, axes: Set(ints("axes")), y: y, outCount: count)
            results = [.floats(y, shape: out, buffer: b)]
        case "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity":
            switch input(0) {
            case .floats(let p, _, let b):
                b?.users += 1
                results = [.floats(p, shape: out, buffer: b)]
            case .ints(let v, _):
                results = [.ints(v, shape: out)]
            }
        case "Transpose":
            let shape = input(0).shape, perm = ints("perm")
            results = [move(input(0), count: count, out: out, .transpose(shape: shape, perm: perm))]
        case "Slice":
            let shape = input(0).shape
            var starts = Array(repeating: 0, count: shape.count), steps = Array(repeating: 1, count: shape.count)
            for (j, a) in ints("axes").enumerated() {
                starts[a] = ints("starts")[j]
                steps[a] = ints("steps")[j]
            }
            results = [move(input(0), count: count, out: out, .slice(shape: shape, starts: starts, steps: steps, outShape: out))]
        case "Gather":
            let shape = input(0).shape, axis = int("axis")
            let idx = try intsIn(1).map { Int($0) < 0 ? Int($0) + shape[axis] : Int($0) }
            guard idx.allSatisfy({ $0 >= 0 && $0 < shape[axis] }) else { throw fail("index out of range for axis size \(shape[axis])") }
            results = [move(input(0), count: count, out: out, .gather(shape: shape, axis: axis, indices: idx))]
        case "Concat":
            let axis = int("axis")
            let shapes = ins.map { $0!.shape }
            if ins.allSatisfy({ $0!.isInt }) {
                // Integer tensors (shape-sized) go through the same generic kernel.
                let all = try ins.indices.map { try intsIn($0) }
                let flat = all.flatMap { $0 }
                let starts = all.reduce(into: [0]) { $0.append($0.last! + $1.count) }
                let y = [Int64](unsafeUninitializedCapacity: count) { buffer, initialized in
                    flat.withUnsafeBufferPointer { src in
                        if let base = src.baseAddress, let dst = buffer.baseAddress {
                            DataKernel.concat(all.indices.map { base + starts[$0] }, shapes: shapes, axis: axis, to: dst)
                        }
                    }
                    initialized = count
                }
                results = [.ints(y, shape: out)]
            } else {
                var ptrs: [UnsafePointer<Float>] = []
                for i in ins.indices { ptrs.append(UnsafePointer(try floatsIn(i))) }
                let (y, b) = allocate(count)
                DataKernel.concat(ptrs, shapes: shapes, axis: axis, to: y)
                results = [.floats(y, shape: out, buffer: b)]
            }
        case "Split":
            let shape = input(0).shape, axis = int("axis")
            var start = 0
            for (k, size) in ints("split").enumerated() {
                let o = outShapes[k]
                results.append(move(input(0), count: o.reduce(1, *), out: o, .split(shape: shape, axis: axis, start: start, size: size)))
                start += size
            }
        case "Pad":
            let (y, b) = allocate(count)
            DataKernel.pad(try floatsIn(0), shape: input(0).shape, pads: ints("pads"), mode: attrs["mode"]?.stringValue ?? "constant",
                           value: float("value", 0), outShape: out, to: y)
            results = [.floats(y, shape: out, buffer: b)]
        case "Cast":
            let to = DType(rawValue: attrs["to"]?.stringValue ?? "f32") ?? .f32
            results = [try cast(input(0), to: to, count: count, out: out)]
        case "Shape":
            let s = input(0).shape
            results = [.ints(s[int("start")..<int("end", s.count)].map(Int64.init), shape: out)]
        case "ConstantOfShape":
            let v = float("value", 0)
            let dtype = DType(rawValue: attrs["dtype"]?.stringValue ?? "f32") ?? .f32
            if dtype.isFloatingPoint {
                let (y, b) = allocate(count)
                y.update(repeating: v, count: count)
                results = [.floats(y, shape: out, buffer: b)]
            } else {
                results = [.ints([Int64](repeating: Int64(v), count: count), shape: out)]
            }
        default:
            throw RuntimeError.unsupportedOps([node.op: 1])
        }

        for (name, v) in zip(node.outputs, results) where !name.isEmpty {
            env[name] = v
            if lastUse[name] == nil { release(v); env[name] = nil }
        }
        for name in Set(node.inputs) where !name.isEmpty && lastUse[name] == index {
            if let v = env.removeValue(forKey: name) { release(v) }
        }
    }

    /// Runs a data-movement op on floats (into a pooled buffer) or ints (into an array).
    private func move(_ x: RValue, count: Int, out: [Int], _ op: DataMove) -> RValue {
        switch x {
        case .floats(let p, _, _):
            let (y, b) = allocate(count)
            op.apply(p, y)
            return .floats(y, shape: out, buffer: b)
        case .ints(let v, _):
            var y = [Int64](repeating: 0, count: count)
            v.withUnsafeBufferPointer { src in
                y.withUnsafeMutableBufferPointer { dst in
                    if let s = src.baseAddress, let d = dst.baseAddress { op.apply(s, d) }
                }
            }
            return .ints(y, shape: out)
        }
    }

    private func cast(_ x: RValue, to: DType, count: Int, out: [Int]) throws -> RValue {
        switch (x, to.isFloatingPoint) {
        case (.floats(let p, _, _), true):
            let (y, b) = allocate(count)
            for i in 0..<count {
                switch to {
                case .f16: y[i] = Float(Float16(p[i]))
                case .bf16: y[i] = BFloat16.float(BFloat16.bits(p[i]))
                default: y[i] = p[i]
                }
            }
            return .floats(y, shape: out, buffer: b)
        case (.floats(let p, _, _), false):
            return .ints((0..<count).map { i in
                let v = p[i]
                if to == .bool { return v != 0 ? 1 : 0 }
                guard v.isFinite else { return 0 }
                let t = Int64(max(min(v.rounded(.towardZero), 9.2e18), -9.2e18))
                switch to {
                case .i32: return Int64(Int32(truncatingIfNeeded: t))
                case .i8: return Int64(Int8(truncatingIfNeeded: t))
                case .u8: return Int64(UInt8(truncatingIfNeeded: t))
                default: return t
                }
            }, shape: out)
        case (.ints(let v, _), true):
            let (y, b) = allocate(count)
            for i in 0..<count { y[i] = Float(v[i]) }
            return .floats(y, shape: out, buffer: b)
        case (.ints(let v, _), false):
            return .ints(v.map { to == .bool ? ($0 != 0 ? 1 : 0) : $0 }, shape: out)
        }
    }

    private func intArithmetic(_ op: String, _ a: RValue, _ b: RValue, out: [Int], fail: (String) -> RuntimeError) throws -> RValue {
        guard case .ints(let x, _) = a, case .ints(let y, _) = b else { throw fail("mixed integer and float operands") }
        let n = out.reduce(1, *)
        guard x.count == n || x.count == 1, y.count == n || y.count == 1 else { throw fail("integer broadcasting beyond scalars is not supported") }
        return .ints((0..<n).map { i in
            let l = x[x.count == 1 ? 0 : i], r = y[y.count == 1 ? 0 : i]
            switch op {
            case "Add": return l &+ r
            case "Sub": return l &- r
            case "Mul": return l &* r
            default: return r == 0 ? 0 : l / r
            }
        }, shape: out)
    }
}
