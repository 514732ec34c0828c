import Foundation
import ZooCore

extension InferenceSession {
    /// Runs one node: takes its planned output shapes (or derives them now
    /// when they depend on data), calls the kernel, and releases every input
    /// this node was the last reader of.
    func execute(_ step: Step, index: Int, plan: Plan, env: inout [String: RValue]) throws {
        let node = step.node
        let results: [RValue]
        if let pre = plan.precomputed[index] {
            results = pre
        } else {
            var ins: [RValue?] = []
            for name in node.inputs {
                if name.isEmpty { ins.append(nil); continue }
                guard let v = value(name, env) else { throw RuntimeError.invalidModel(detail: "node '\(node.name)' reads '\(name)' before it is computed") }
                ins.append(v)
            }
            let outShapes: [[Int]]
            if let planned = plan.shapes[index] {
                outShapes = planned
            } else {
                let values: [[SymDim]?] = ins.map { v in
                    if case .ints(let values, _)? = v { return values.map { SymDim(Int($0)) } }
                    return nil
                }
                outShapes = try concreteShapes(step, inputs: ins.map { $0.map { SymShape(concrete: $0.shape) } }, values: values)
            }
            let call = KernelCall(session: self, step: step, index: index, ins: ins, outShapes: outShapes,
                                  attrs: OpAttributes(node: node, spec: step.spec))
            if let placement = plan.placements[index] { prepare(placement) }
            defer { pendingSlice = nil }
            do {
                results = try step.kernel.run(call)
            } catch ZooCoreError.shapeInference(_, _, let detail) {
                throw RuntimeError.shape(node: node.name, op: node.op, detail: detail)
            }
        }
        for (name, v) in zip(node.outputs, results) where !name.isEmpty {
            env[name] = v
            if lastUse[name] == nil { release(v); env[name] = nil }
        }
        for name in Set(node.inputs) where !name.isEmpty && lastUse[name] == index {
            if let v = env.removeValue(forKey: name) { release(v) }
        }
    }
}
