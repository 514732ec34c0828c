import Foundation
import ZooCore

extension InferenceSession {
    /// Load-time rewrites: a zero Pad folded into the Conv after it,
    /// BatchNormalization folded into the Conv before it,
    /// residual Adds folded into the Conv that feeds them, then Relu / Clip /
    /// LeakyRelu folded into the Conv, Gemm, Add or BatchNormalization before them, and x · Sigmoid(x)
    /// (SiLU) folded into the producer of x.
    /// A value that is read twice, is a requested output, or has non-constant
    /// parameters is left alone.
    static func fuse(_ steps: inout [Step], constants: inout [String: Constant], keep: Set<String>) throws {
        func readers() -> [String: Int] {
            var r: [String: Int] = [:]
            for s in steps { for v in s.node.inputs where !v.isEmpty { r[v, default: 0] += 1 } }
            return r
        }
        func producer(of v: String) -> Int? { steps.firstIndex { $0.node.outputs.contains(v) } }
        func floats(_ name: String) -> (UnsafeMutablePointer<Float>, [Int])? {
            if case .floats(let p, let s, _)? = constants[name] { return (p, s) }
            return nil
        }

        var r = readers()
        // Zero padding before a convolution (Keras's ZeroPadding2D → Conv2D) becomes the convolution's own pads.
        var i = 0
        while i < steps.count {
            let pad = steps[i].node
            guard pad.op == "Pad", let x = pad.inputs.first, let y = pad.outputs.first, pad.outputs.count == 1,
                  r[y] == 1, !keep.contains(y), let j = steps.firstIndex(where: { $0.node.op == "Conv" && $0.node.inputs.first == y }),
                  let extra = try zeroSpatialPads(steps[i], constants: constants),
                  let merged = try mergedConvPads(steps[j], adding: extra) else {
                i += 1
                continue
            }
            steps[j].node.inputs[0] = x
            steps[j].node.attributes["pads"] = .ints(merged)
            steps.remove(at: i)
            r = readers()
        }

        i = 0
        while i < steps.count {
            let bn = steps[i].node
            guard bn.op == "BatchNormalization", let x = bn.inputs.first, r[x] == 1, !keep.contains(x),
                  let p = producer(of: x), steps[p].node.op == "Conv", steps[p].activation == .none,
                  let (w, ws) = floats(steps[p].node.inputs[1]),
                  let (gamma, _) = floats(bn.inputs[1]), let (beta, _) = floats(bn.inputs[2]),
                  let (mean, _) = floats(bn.inputs[3]), let (variance, _) = floats(bn.inputs[4]) else {
                i += 1
                continue
            }
            let eps = try OpAttributes(node: bn, spec: steps[i].spec).float("epsilon")
            let m = ws[0], per = ws.dropFirst().reduce(1, *)
            let bias = steps[p].node.inputs.count > 2 && !steps[p].node.inputs[2].isEmpty ? floats(steps[p].node.inputs[2])?.0 : nil
            let newW = Floats(count: m * per), newB = Floats(count: m)
            for o in 0..<m {
                let s = gamma[o] / (variance[o] + eps).squareRoot()
                for k in 0..<per { newW.pointer[o * per + k] = w[o * per + k] * s }
                newB.pointer[o] = ((bias?[o] ?? 0) - mean[o]) * s + beta[o]
            }
            // The unfolded weights are not read again: drop their pages from memory.
            if case .floats(_, _, let owner)? = constants[steps[p].node.inputs[1]], let storage = owner as? TensorStorage {
                storage.releaseResidentPages()
            }
            let wName = "\(steps[p].node.name)#bn_folded.weight", bName = "\(steps[p].node.name)#bn_folded.bias"
            constants[wName] = .floats(newW.pointer, shape: ws, owner: newW)
            constants[bName] = .floats(newB.pointer, shape: [m], owner: newB)
            steps[p].node.inputs = [steps[p].node.inputs[0], wName, bName]
            steps[p].node.outputs = bn.outputs
            steps.remove(at: i)
            r = readers()
        }

        // Residual shortcut: Add(conv(x), shortcut) becomes the conv with the
        // shortcut added in its epilogue, executed where the Add was (both
        // operands are ready there; the conv's own inputs were ready earlier).
        i = 0
        while i < steps.count {
            let add = steps[i].node
            guard add.op == "Add", add.inputs.count == 2 else { i += 1; continue }
            var fused = false
            for (c, other) in [(add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])] where !fused {
                guard r[c] == 1, !keep.contains(c), c != other, let p = producer(of: c), p < i,
                      steps[p].node.op == "Conv", steps[p].activation == .none, steps[p].residual == nil else { continue }
                var conv = steps[p]
                var inputs = conv.node.inputs
                while inputs.count < 3 { inputs.append("") }
                conv.node.inputs = inputs + [other]
                conv.node.outputs = add.outputs
                conv.residual = other
                steps[i] = conv
                steps.remove(at: p)
                fused = true
            }
            if fused { r = readers() } else { i += 1 }
        }

        i = 0
        while i < steps.count {
            let a = steps[i].node
            let act = try steps[i].kernel.fusedActivation.map { try $0(OpAttributes(node: a, spec: steps[i].spec)) }
            // Only one-input activations fuse (a Clip with run-time bounds stays a node).
            guard let activation = act, let x = a.inputs.first, a.inputs.dropFirst().allSatisfy(\.isEmpty), r[x] == 1, !keep.contains(x),
                  let p = producer(of: x), steps[p].kernel.takesActivation, steps[p].activation == .none,
                  steps[p].node.outputs.count == 1 else {
                i += 1
                continue
            }
            steps[p].activation = activation
            steps[p].node.outputs = a.outputs
            steps.remove(at: i)
            r = readers()
        }

        // SiLU: Mul(x, Sigmoid(x)) with x read only by those two and the Sigmoid's
        // output only by the Mul becomes the producer of x with a fused x·sigmoid(x).
        i = 0
        while i < steps.count {
            let sig = steps[i].node
            guard sig.op == "Sigmoid", let x = sig.inputs.first, let u = sig.outputs.first, r[x] == 2, r[u] == 1,
                  !keep.contains(x), !keep.contains(u), let p = producer(of: x), p < i,
                  steps[p].kernel.takesActivation, steps[p].activation == .none,
                  let j = steps.firstIndex(where: { $0.node.op == "Mul" && Set($0.node.inputs) == [x, u] && $0.node.inputs.count == 2 }), j > i else {
                i += 1
                continue
            }
            steps[p].activation = .silu
            steps[p].node.outputs = steps[j].node.outputs
            steps.remove(at: j)
            steps.remove(at: i)
            r = readers()
        }
    }

    /// The spatial pads of a constant-zero Pad of a 4-D (or other rank ≥ 3) tensor
    /// whose batch and channel pads are 0 and all pads are constant and ≥ 0, as
    /// [begin…, end…] over the spatial axes; nil for any other Pad.
    static func zeroSpatialPads(_ step: Step, constants: [String: Constant]) throws -> [Int]? {
        let node = step.node
        let attrs = OpAttributes(node: node, spec: step.spec)
        guard try attrs.string("mode") == "constant" else { return nil }
        func ints(_ k: Int) -> [Int64]? {
            guard k < node.inputs.count, !node.inputs[k].isEmpty else { return nil }
            if case .ints(let v, _)? = constants[node.inputs[k]] { return v }
            return nil
        }
        let pads: [Int]
        if node.inputs.count > 1, !node.inputs[1].isEmpty {
            guard let v = ints(1) else { return nil }
            pads = v.map { Int($0) }
        } else {
            pads = try attrs.optionalInts("pads") ?? []
        }
        // An axes input (opset 18) or a non-zero value keeps the Pad.
        if node.inputs.count > 3, !node.inputs[3].isEmpty { return nil }
        if node.inputs.count > 2, !node.inputs[2].isEmpty {
            switch constants[node.inputs[2]] {
            case .floats(let p, let s, _)? where s.reduce(1, *) == 1: if p[0] != 0 || p[0].sign == .minus { return nil }
            case .ints(let v, _)? where v.count == 1: if v[0] != 0 { return nil }
            default: return nil
            }
        } else if try attrs.float("value") != 0 {
            return nil
        }
        let rank = pads.count / 2
        guard pads.count % 2 == 0, rank >= 3, pads.allSatisfy({ $0 >= 0 }),
              pads[0] == 0, pads[1] == 0, pads[rank] == 0, pads[rank + 1] == 0 else { return nil }
        return Array(pads[2..<rank]) + Array(pads[(rank + 2)...])
    }

    /// The Conv's explicit pads plus `extra`; nil when the Conv pads automatically or the ranks differ.
    static func mergedConvPads(_ step: Step, adding extra: [Int]) throws -> [Int]? {
        let attrs = OpAttributes(node: step.node, spec: step.spec)
        guard (try attrs.optionalString("auto_pad") ?? "NOTSET") == "NOTSET" else { return nil }
        let spatial = extra.count / 2
        let own = try attrs.optionalInts("pads") ?? Array(repeating: 0, count: 2 * spatial)
        guard own.count == extra.count else { return nil }
        return zip(own, extra).map { $0 + $1 }
    }
}
