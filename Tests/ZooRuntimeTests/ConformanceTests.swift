import Foundation
import Testing
import ZIPFoundation
import ZooTestSupport
import ZooCore
import ZooFormat
import ZooONNX
@testable import ZooRuntime

/// ONNX's own operator conformance cases (fixtures/onnx/conformance, make_onnx_conformance.py):
/// every in-scope case through import → `.zoo` → runtime against the expected outputs onnx
/// ships (rtol 1e-3, atol 1e-5, NaN equals NaN, shapes and integer values exact).
///
/// `expected_failures.txt` lists the in-scope cases zoo does not pass yet; the test fails when
/// a listed case starts passing (take it off the list) or an unlisted one fails (a regression).
/// `ZOO_UPDATE_CONFORMANCE=1 swift test --filter ConformanceTests` rewrites the list.
@Suite struct ConformanceTests {
    struct Case: Decodable { var name: String; var ops: [String]; var scope: String; var archive: String?; var inputs: [String]?; var outputs: [String]?; var onnxruntime: String? }
    struct Index: Decodable { var onnx: String; var onnxruntime: String; var cases: [Case] }
    static let directory = Manifest.repoRoot.appendingPathComponent("fixtures/onnx/conformance")

    /// Runs one case; nil when it passes, else why not.
    static func run(_ c: Case, archive: Archive, scratch: URL) -> String? {
        func entry(_ name: String) throws -> URL {
            guard let e = archive["\(c.name)/\(name)"] else { throw CocoaError(.fileNoSuchFile) }
            let url = scratch.appendingPathComponent("\(c.name).\(name)")
            try? FileManager.default.removeItem(at: url)
            _ = try archive.extract(e, to: url)
            return url
        }
        do {
            let model = try ONNXImporter.load(path: try entry("model.onnx").path)
            let out = scratch.appendingPathComponent("\(c.name).zoo")
            try? FileManager.default.removeItem(at: out)
            try ZooWriter.write(model, to: out)
            let session = try InferenceSession(file: try ZooFile(path: out.path), threads: 1)
            var feeds: [String: Tensor] = [:]
            for (i, name) in (c.inputs ?? []).enumerated() {
                guard let spec = session.graph.inputs.first(where: { $0.name == name }) else { continue }
                var t = try NPY.read(path: try entry("in\(i).npy").path)
                // The generator stores bfloat16 data as its exact float32 values (NumPy has no bfloat16).
                if spec.dtype == .bf16, t.dtype == .f32 {
                    let bits = t.scalars(as: Float.self).map(BFloat16.bits)
                    t = try Tensor(dtype: .bf16, shape: t.shape, storage: bits.withUnsafeBytes { TensorStorage(copying: $0) })
                }
                feeds[name] = t
            }
            let got = try session.run(feeds)
            for (i, name) in (c.outputs ?? []).enumerated() {
                let expected = try NPY.read(path: try entry("out\(i).npy").path)
                guard let actual = got[name] else { return "no output \(name)" }
                guard actual.shape == expected.shape else { return "output \(name): shape \(actual.shape), expected \(expected.shape)" }
                guard let a = actual.doubleValues, let e = expected.doubleValues else { return "output \(name): dtype \(actual.dtype)" }
                for (x, y) in zip(a, e) {
                    // NaN equals NaN; equal infinities are equal (their difference is NaN).
                    if (x.isNaN && y.isNaN) || x == y { continue }
                    if expected.dtype.isFloatingPoint ? !(abs(x - y) <= 1e-5 + 1e-3 * abs(y)) : x != y {
                        return "output \(name): \(x) vs \(y)"
                    }
                }
            }
            return nil
        } catch {
            // Without the scratch directory, so the list is the same on every machine.
            return ((error as? LocalizedError)?.errorDescription ?? "\(error)").replacingOccurrences(of: scratch.path + "/", with: "")
        }
    }

    @Test func onnxConformanceCasesPassOrAreListedAsNotYetDone() throws {
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: Self.directory.appendingPathComponent("index.json")))
        let listFile = Self.directory.appendingPathComponent("expected_failures.txt")
        let expected = Set((try? String(contentsOf: listFile, encoding: .utf8))?.split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.map { String($0.split(separator: " ")[0]) }.filter { !$0.isEmpty } ?? [])
        let scratch = try TempDir()
        var archives: [String: Archive] = [:]
        var failures: [String: String] = [:]
        var passed = 0, out = 0, ortPassed = 0
        for c in index.cases {
            guard c.scope == "in", let a = c.archive else { out += 1; continue }
            if c.onnxruntime == "pass" { ortPassed += 1 }
            if archives[a] == nil { archives[a] = try Archive(url: Self.directory.appendingPathComponent(a), accessMode: .read) }
            if let why = Self.run(c, archive: archives[a]!, scratch: URL(fileURLWithPath: scratch.path(""))) {
                failures[c.name] = why
            } else {
                passed += 1
            }
        }
        print("conformance (onnx \(index.onnx)): \(passed) passed, \(failures.count) failed, \(out) out of scope; onnxruntime \(index.onnxruntime) passes \(ortPassed)")
        var byOp: [String: Int] = [:]
        for (name, _) in failures { for op in index.cases.first(where: { $0.name == name })!.ops { byOp[op, default: 0] += 1 } }
        print("failing cases by op: " + byOp.sorted { $0.value > $1.value }.prefix(40).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        if ProcessInfo.processInfo.environment["ZOO_UPDATE_CONFORMANCE"] == "1" {
            let lines = failures.keys.sorted().map { "\($0)  # \(failures[$0]!.prefix(120).replacingOccurrences(of: "\n", with: " "))" }
            try ("# In-scope ONNX conformance cases zoo does not pass yet (ConformanceTests).\n# Regenerate: ZOO_UPDATE_CONFORMANCE=1 swift test --filter ConformanceTests\n"
                 + lines.joined(separator: "\n") + "\n").write(to: listFile, atomically: true, encoding: .utf8)
            return
        }
        let newlyFailing = Set(failures.keys).subtracting(expected).sorted()
        let nowPassing = expected.subtracting(failures.keys).sorted()
        #expect(newlyFailing.isEmpty, "regressions: \(newlyFailing.prefix(20).map { "\($0): \(failures[$0]!)" })")
        #expect(nowPassing.isEmpty, "now passing, take them off expected_failures.txt: \(nowPassing.prefix(20))")
    }

    /// The 2-D pooling kernels have an AVX-512 path and a portable one; onnx's
    /// MaxPool/AveragePool cases (ceil mode, pads, dilations, strides) pass on both.
    @Test func poolingCasesPassOnThePortableAndTheVectorisedKernel() throws {
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: Self.directory.appendingPathComponent("index.json")))
        let listFile = Self.directory.appendingPathComponent("expected_failures.txt")
        let expected = Set(((try? String(contentsOf: listFile, encoding: .utf8)) ?? "").split(separator: "\n").map { String($0.split(separator: " ")[0]) })
        let cases = index.cases.filter { c in
            c.scope == "in" && c.archive != nil && !expected.contains(c.name) && c.ops.contains { $0 == "MaxPool" || $0 == "AveragePool" }
        }
        #expect(cases.count >= 20, "pooling cases in the index: \(cases.count)")
        let scratch = try TempDir()
        var archives: [String: Archive] = [:]
        for portable in [false, true] {
            KernelSelection.forcePortable(portable)
            defer { KernelSelection.forcePortable(false) }
            for c in cases {
                let a = c.archive!
                if archives[a] == nil { archives[a] = try Archive(url: Self.directory.appendingPathComponent(a), accessMode: .read) }
                let why = Self.run(c, archive: archives[a]!, scratch: URL(fileURLWithPath: scratch.path("")))
                #expect(why == nil, "\(c.name), portable \(portable): \(why ?? "")")
            }
        }
    }
}
