/// Finds a repeated key in any JSON object of a document.
///
/// Foundation's decoder silently keeps one of two equal keys, and other JSON
/// libraries keep the other, so a header with a repeated key could be read two
/// ways under one digest (docs/FORMAT.md §3). Run on headers the decoder has
/// already accepted as JSON; it walks the bytes once with an explicit stack (no
/// recursion, so nesting depth cannot exhaust the call stack) and compares keys
/// after unescaping, so `"a"` and `"\u0061"` are the same key.
enum JSONKeyCheck {
    struct Duplicate: Equatable {
        /// Dotted path of the object holding the key (`card.metadata`; `""` for the root).
        var object: String
        var key: String
    }

    private struct Frame {
        var isObject: Bool
        var keys: Set<[UInt8]> = []
        var expectingKey = false
        /// The key this container is the value of, for the path.
        var name: String
    }

    static func firstDuplicate(in bytes: UnsafeRawBufferPointer) -> Duplicate? {
        var stack: [Frame] = []
        var pendingName = ""
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                stack.append(Frame(isObject: c == UInt8(ascii: "{"), expectingKey: c == UInt8(ascii: "{"), name: pendingName))
                pendingName = ""
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                i += 1
            case UInt8(ascii: ","):
                if let last = stack.indices.last, stack[last].isObject { stack[last].expectingKey = true }
                i += 1
            case UInt8(ascii: "\""):
                guard let (value, next) = string(bytes, from: i + 1) else { return nil }
                i = next
                if let last = stack.indices.last, stack[last].isObject, stack[last].expectingKey {
                    stack[last].expectingKey = false
                    let key = String(decoding: value, as: UTF8.self)
                    guard stack[last].keys.insert(value).inserted else {
                        return Duplicate(object: stack.map(\.name).filter { !$0.isEmpty }.joined(separator: "."), key: key)
                    }
                    pendingName = key
                }
            default:
                // Whitespace, ':', numbers and literals carry no keys.
                i += 1
            }
        }
        return nil
    }

    /// The unescaped bytes of the string whose contents start at `start`, and
    /// the index after its closing quote; nil if it does not close.
    private static func string(_ b: UnsafeRawBufferPointer, from start: Int) -> ([UInt8], Int)? {
        var out: [UInt8] = []
        var i = start
        let n = b.count
        var pendingHigh: UInt32?
        func append(scalar v: UInt32) {
            if let s = Unicode.Scalar(v) { out.append(contentsOf: Array(String(Character(s)).utf8)) } else { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) }
        }
        while i < n {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                if let h = pendingHigh { append(scalar: h) }
                return (out, i + 1)
            }
            if c != UInt8(ascii: "\\") {
                if let h = pendingHigh { append(scalar: h); pendingHigh = nil }
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < n else { return nil }
            let e = b[i + 1]
            if e == UInt8(ascii: "u") {
                guard i + 6 <= n, let v = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: b[(i + 2)..<(i + 6)]), as: UTF8.self), radix: 16) else { return nil }
                i += 6
                if let h = pendingHigh {
                    pendingHigh = nil
                    if (0xDC00...0xDFFF).contains(v) {
                        append(scalar: 0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00))
                        continue
                    }
                    append(scalar: h)
                }
                if (0xD800...0xDBFF).contains(v) { pendingHigh = v } else { append(scalar: v) }
                continue
            }
            if let h = pendingHigh { append(scalar: h); pendingHigh = nil }
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default: out.append(e)  // \" \\ \/
            }
            i += 2
        }
        return nil
    }
}
