import Foundation
import ZooCore

/// The concrete input-shape signature a plan is made for (plus the contents
/// of small integer inputs, which may decide shapes).
struct PlanKey: Hashable {
    var shapes: [[Int]]
    var intValues: [[Int64]?]
}

/// What is decided once per signature: each node's output shapes, and the
/// integer values (shape arithmetic) that depend only on the signature, which
/// the run then takes as they are instead of recomputing them.
final class Plan {
    /// Output shapes per step; nil where they depend on data computed at run time.
    var shapes: [[[Int]]?]
    /// Integer outputs already computed at planning, per step.
    var precomputed: [[RValue]?]
    /// Producers that write into their slice of a Concat's output, by step.
    var placements: [Int: Placement] = [:]
    init(count: Int) {
        shapes = Array(repeating: nil, count: count)
        precomputed = Array(repeating: nil, count: count)
    }
}

extension InferenceSession {
    /// Largest integer tensor that planning evaluates ahead of the run.
    static let maxPrecomputedElements = 4096

    /// The plan for the inputs in `env`, from the cache or made now.
    func plan(for env: [String: RValue]) throws -> Plan {
        let key = PlanKey(shapes: graph.inputs.map { env[$0.name]?.shape ?? [] }, intValues: graph.inputs.map { spec -> [Int64]? in
            if case .ints(let v, _)? = env[spec.name], v.count <= 64 { return v }
            return nil
        })
        if let i = plans.firstIndex(where: { $0.key == key }) {
            let hit = plans.remove(at: i)
            plans.insert(hit, at: 0)
            return hit.plan
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let plan = try makePlan(inputs: env, key: key)
        planStatistics = (planStatistics.count + 1, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        plans.insert((key, plan), at: 0)
        if plans.count > Self.planCacheSize { plans.removeLast() }
        return plan
    }

    /// Walks the graph with shapes only: derives every output shape with the
    /// shared shape rules and evaluates the small integer ops whose inputs
    /// are all known, so shape subgraphs cost nothing per run.
    func makePlan(inputs: [String: RValue], key: PlanKey) throws -> Plan {
        struct Known { var shape: [Int]?; var ints: [Int64]? }
        var known: [String: Known] = [:]
        for (i, spec) in graph.inputs.enumerated() {
            known[spec.name] = Known(shape: key.shapes[i], ints: key.intValues[i])
        }
        func lookup(_ name: String) -> Known? {
            if let k = known[name] { return k }
            switch constants[name] {
            case .floats(_, let s, _)?: return Known(shape: s, ints: nil)
            case .ints(let v, let s)?: return Known(shape: s, ints: v)
            case nil: return nil
            }
        }
        let plan = Plan(count: steps.count)
        for (i, step) in steps.enumerated() {
            let node = step.node
            let ins = node.inputs.map { $0.isEmpty ? nil : lookup($0) }
            // A shape that depends on data computed at run time: this node and its dependants are shaped per run.
            guard ins.allSatisfy({ $0 == nil || $0?.shape != nil }),
                  step.spec.valueInputs.allSatisfy({ $0 >= ins.count || ins[$0] == nil || ins[$0]?.ints != nil }) else {
                for o in node.outputs { known[o] = Known(shape: nil, ints: nil) }
                continue
            }
            let shapes = ins.map { $0.map { SymShape(concrete: $0.shape!) } }
            let values: [[SymDim]?] = ins.map { k in k?.ints.map { $0.map { SymDim(Int($0)) } } }
            let outShapes = try concreteShapes(step, inputs: shapes, values: values)
            // Sizes only the data decides: this node and its dependants are shaped per run.
            if outShapes.contains(where: { $0.contains(-1) }) {
                for o in node.outputs { known[o] = Known(shape: nil, ints: nil) }
                continue
            }
            plan.shapes[i] = outShapes
            for (o, s) in zip(node.outputs, outShapes) { known[o] = Known(shape: s, ints: nil) }

            // Shape arithmetic whose inputs are all known is evaluated now.
            let small = outShapes.allSatisfy { $0.reduce(1, *) <= Self.maxPrecomputedElements }
            let shapeOnly = node.op == "Shape" || node.op == "Size"
            let allInts = ins.allSatisfy { $0 == nil || $0?.ints != nil }
            guard small, shapeOnly || allInts else { continue }
            let rvalues: [RValue?] = ins.map { k in
                guard let k else { return nil }
                if let v = k.ints { return .ints(v, shape: k.shape!) }
                // Shape and Size read only the shape of a float input.
                return .floats(UnsafeMutablePointer(bitPattern: 64)!, shape: k.shape!, buffer: nil)
            }
            let call = KernelCall(session: self, step: step, index: i, ins: rvalues, outShapes: outShapes,
                                  attrs: OpAttributes(node: node, spec: step.spec))
            let results = try step.kernel.run(call)
            guard results.allSatisfy(\.isInt) else {
                for r in results { release(r) }
                continue
            }
            plan.precomputed[i] = results
            for (o, r) in zip(node.outputs, results) {
                if case .ints(let v, let s) = r { known[o] = Known(shape: s, ints: v) }
            }
        }
        plan.placements = placements(shapes: plan.shapes)
        return plan
    }

    /// Output shapes of one step for concrete inputs, checked against the allocation limit.
    func concreteShapes(_ step: Step, inputs: [SymShape?], values: [[SymDim]?]) throws -> [[Int]] {
        let node = step.node
        let out: [SymShape]
        do {
            out = try ShapeInference.outputShapes(of: node, inputs: inputs, values: values)
        } catch ZooCoreError.shapeInference(_, _, let detail) {
            // At most 8 input shapes: a Concat may have thousands of inputs.
            let shown = MessageText.list(inputs.map { $0?.rendered ?? "—" })
            throw RuntimeError.shape(node: node.name, op: node.op, detail: "\(detail) (input shapes \(shown))")
        }
        let shapes: [[Int]] = try out.map { s in
            // -1 marks a size the kernel decides (`OpSpec.shapeFromData`).
            if step.spec.shapeFromData, s.concrete == nil { return s.map { $0.value ?? -1 } }
            guard let c = s.concrete else {
                throw RuntimeError.shape(node: node.name, op: node.op, detail: "output shape \(s.rendered) could not be determined")
            }
            // A hostile or broken model must not make the runtime allocate without bound.
            guard let n = ShapeMath.elementCount(c), n <= InferenceSession.maxElementsPerValue else {
                throw RuntimeError.shape(node: node.name, op: node.op,
                                         detail: "output shape \(ShapeMath.describe(c)) is too large (limit \(InferenceSession.maxElementsPerValue) elements)")
            }
            return c
        }
        // What this node holds at once: its inputs and its outputs (4 bytes per element; integers are small).
        var bytes = 0
        for s in shapes where !s.contains(-1) { bytes = bytes.addingReportingOverflow((ShapeMath.elementCount(s) ?? Int.max / 8) * 4).partialValue }
        for case let s? in inputs { if let c = s.concrete, let n = ShapeMath.elementCount(c) { bytes += n * 4 } }
        if bytes > memoryLimit {
            throw RuntimeError.insufficientMemory(node: node.name, op: node.op, bytes: bytes, available: memoryLimit)
        }
        return shapes
    }
}
