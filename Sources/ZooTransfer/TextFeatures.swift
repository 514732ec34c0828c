import Foundation
import ZooCore
import ZooEmbeddings

/// Documents as the mean of their word vectors, tokenised as gensim's
/// `simple_preprocess` does: lower-cased, maximal runs of Unicode letters
/// (Python's `\w` without digits), tokens of 2–15 characters not starting
/// with `_`. Words not in the vocabulary are skipped.
public enum TextFeatures {
    public static let tokenizerName = "gensim-simple_preprocess"

    /// gensim `simple_preprocess(text)` (deacc=False, min_len=2, max_len=15).
    public static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            let n = current.count
            if n >= 2 && n <= 15 && current.first != "_" { out.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for s in pythonLowercased(text).unicodeScalars {
            if isWordCharacter(s) { current.append(s) } else if !current.isEmpty { flush() }
        }
        if !current.isEmpty { flush() }
        return out
    }

    /// Python's `str.lower()`: full Unicode lower-casing, with Greek capital sigma
    /// becoming final sigma (ς) at the end of a word (Unicode's Final_Sigma rule).
    static func pythonLowercased(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        func cased(_ s: Unicode.Scalar) -> Bool { s.properties.isCased }
        func ignorable(_ s: Unicode.Scalar) -> Bool { s.properties.isCaseIgnorable }
        for (i, s) in scalars.enumerated() {
            guard s == "\u{03A3}" else { out.append(contentsOf: String(s).lowercased().unicodeScalars); continue }
            var j = i - 1
            while j >= 0 && ignorable(scalars[j]) { j -= 1 }
            let before = j >= 0 && cased(scalars[j])
            var k = i + 1
            while k < scalars.count && ignorable(scalars[k]) { k += 1 }
            let after = k < scalars.count && cased(scalars[k])
            out.append(before && !after ? "\u{03C2}" : "\u{03C3}")
        }
        return String(out)
    }

    /// Python 3's `\w` (str.isalnum() or '_') minus `\d` (decimal digits).
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        if s == "_" { return true }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber, .otherNumber:
            return true
        case .decimalNumber:
            return false
        default:
            // Python's isnumeric also covers a few CJK ideographic numerals with other categories.
            return s.properties.numericType != nil
        }
    }

    /// The vocabulary rows of a document's known tokens.
    public static func ids(_ text: String, index: EmbeddingIndex) -> [Int] {
        tokens(text).compactMap { try? index.row($0) }
    }

    /// Mean word vector of the file at `path`; throws when it has no known word.
    public static func vector(path: String, index: EmbeddingIndex) throws -> [Float] {
        let text = try read(path)
        let rows = ids(text, index: index)
        guard !rows.isEmpty else { throw TransferError.badInput(path: path, detail: "no word of the vocabulary (\(tokens(text).count) tokens); nothing to average") }
        var sum = [Double](repeating: 0, count: index.dim)
        for r in rows {
            let v = try index.vector(index.words[r])
            for j in 0..<index.dim { sum[j] += Double(v[j]) }
        }
        return sum.map { Float($0 / Double(rows.count)) }
    }

    /// The file's text: UTF-8, invalid bytes ignored (gensim's errors='ignore'). At most 64 MiB.
    static func read(_ path: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { throw TransferError.badInput(path: path, detail: "cannot open the file") }
        defer { try? h.close() }
        let limit = 64 << 20
        let data = (try? h.read(upToCount: limit + 1)) ?? Data()
        guard data.count <= limit else { throw TransferError.badInput(path: path, detail: "larger than 64 MiB; split the document") }
        // Decoding with replacement, then dropping the replacement characters, is errors='ignore'.
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\u{FFFD}", with: "")
    }
}
