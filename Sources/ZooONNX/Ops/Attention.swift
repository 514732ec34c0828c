import Foundation
import ZooCore

/// Attention (opsets 23, 24 with nonpad_kv_seqlen, 25 with sliding windows).
enum AttentionNormalisers {
    static let table: [String: Normaliser] = [
        "Attention": { s, n in
            guard s.opset >= 23 else { throw s.invalid(n, "the default-domain Attention is defined from opset 23 (this file is opset \(s.opset))") }
            let arity = s.opset >= 24 ? 7 : 6
            guard n.inputs.count <= arity else { throw s.invalid(n, "takes at most \(arity) inputs at opset \(s.opset)") }
            guard let q = n.input(0), n.input(1) != nil, let v = n.input(2) else { throw s.invalid(n, "needs Q, K and V") }
            guard (n.input(4) == nil) == (n.input(5) == nil) else { throw s.invalid(n, "past_key and past_value must be given together") }
            if n.input(6) != nil, n.input(4) != nil { throw s.invalid(n, "nonpad_kv_seqlen cannot be combined with past_key/past_value") }
            var names = ["is_causal", "kv_num_heads", "q_num_heads", "qk_matmul_output_mode", "scale", "softcap", "softmax_precision"]
            if s.opset >= 25 {
                names += ["left_window_size", "right_window_size"]
                // Opset 25 forbids the head attributes on 4-D inputs (earlier opsets tolerate them).
                if try s.shape(q, n).count == 4, n.int("q_num_heads") != nil || n.int("kv_num_heads") != nil {
                    throw s.invalid(n, "q_num_heads and kv_num_heads must not be given with 4-D inputs")
                }
            }
            // The softmax runs in Float with Double sums whatever the precision asked for.
            if let p = n.int("softmax_precision"), ![1, 10, 11, 16].contains(p) {
                throw s.unsupportedForm(n, "softmax_precision \(ONNXDataType.name(p))")
            }
            var attributes = n.present(names)
            // Booleans and integers both reach the kernel as Int64: say which rule applies
            // (bool: false masks the key; any other type is added to the scores).
            if let m = n.input(3), try s.dtype(m, n) == .bool { attributes["boolean_mask"] = .int(1) }
            var inputs = (0..<arity).map { n.input($0) ?? "" }
            while inputs.last == "" { inputs.removeLast() }
            let qt = try s.dtype(q, n), vt = try s.dtype(v, n)
            try s.emit(n, op: "Attention", inputs: inputs, outputs: try n.optionalOutputs(s), attributes: attributes,
                       outputTypes: [qt, qt, vt, qt])
        },
    ]
}
