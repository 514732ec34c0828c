import Foundation
import Testing
import ZooTestSupport
import ZooCore

/// docs/IR.md's operator index is rendered from the op registry, so it cannot drift from
/// the code: the test fails when they differ; `ZOO_UPDATE_DOCS=1` rewrites the section.
@Suite struct IRDocumentationTests {
    static func render(_ a: Attribute) -> String {
        func f(_ v: Float) -> String { v.isInfinite ? (v > 0 ? "inf" : "-inf") : (v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : "\(v)") }
        switch a {
        case .int(let v): return "\(v)"
        case .ints(let v): return "[\(v.map(String.init).joined(separator: ", "))]"
        case .float(let v): return f(v)
        case .floats(let v): return "[\(v.map(f).joined(separator: ", "))]"
        case .string(let v): return "`\(v)`"
        case .strings(let v): return "[\(v.map { "`\($0)`" }.joined(separator: ", "))]"
        }
    }

    static func table() -> String {
        var lines = ["| op | family | inputs | attributes (default; * required) |", "|---|---|---|---|"]
        for family in OpRegistry.families {
            for spec in family.specs.sorted(by: { $0.name < $1.name }) {
                let inputs = spec.inputs.lowerBound == spec.inputs.upperBound ? "\(spec.inputs.lowerBound)"
                    : spec.inputs.upperBound > 64 ? "\(spec.inputs.lowerBound)+" : "\(spec.inputs.lowerBound)–\(spec.inputs.upperBound)"
                let attrs = spec.attributes.map { a in
                    a.required ? "\(a.name)*" : a.defaultValue.map { "\(a.name) (\(render($0)))" } ?? a.name
                }.joined(separator: ", ")
                lines.append("| \(spec.name) | \(family.name) | \(inputs) | \(attrs.isEmpty ? "—" : attrs) |")
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test func irDocumentListsEveryOpWithItsAttributesAndDefaults() throws {
        let url = Manifest.repoRoot.appendingPathComponent("docs/IR.md")
        let doc = try String(contentsOf: url, encoding: .utf8)
        let begin = "<!-- op index: generated from OpRegistry by IRDocumentationTests -->\n", end = "\n<!-- end of op index -->"
        let rendered = Self.table()
        guard let b = doc.range(of: begin), let e = doc.range(of: end, range: b.upperBound..<doc.endIndex) else {
            Issue.record("docs/IR.md has no generated op index markers")
            return
        }
        let current = String(doc[b.upperBound..<e.lowerBound])
        if ProcessInfo.processInfo.environment["ZOO_UPDATE_DOCS"] == "1" {
            try doc.replacingCharacters(in: b.upperBound..<e.lowerBound, with: rendered).write(to: url, atomically: true, encoding: .utf8)
            return
        }
        #expect(current == rendered, "docs/IR.md's op index is out of date: run ZOO_UPDATE_DOCS=1 swift test --filter IRDocumentationTests")
    }
}
