import Foundation
import Testing
import ZooCore
@testable import ZooEmbeddings
import ZooVision

/// Inputs `bench/fuzz.sh` found that crashed, hung or leaked a parser
/// (`fixtures/fuzz/<harness>/`), replayed through the command a user would
/// run: each must now end in a typed one-line error, never a signal.
@Suite struct FuzzRegressionTests {
    static let root = CLI.repoRoot.appendingPathComponent("fixtures/fuzz")

    static func findings(_ harness: String) -> [URL] {
        let dir = root.appendingPathComponent(harness)
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted().map { dir.appendingPathComponent($0) }
    }

    /// bench/fuzz.sh copies each finding to fixtures/fuzz/<harness>/; a harness's first
    /// finding needs a replay test here before it can be committed.
    @Test func everyHarnessWithFindingsIsReplayed() throws {
        let replayed: Set<String> = ["onnx-import", "npy", "image-decode", "embeddings", "keras-archive"]
        let dirs = Set(try FileManager.default.contentsOfDirectory(atPath: Self.root.path).filter { !$0.hasPrefix(".") })
        #expect(dirs.isSubset(of: replayed), "findings without a replay test: \(dirs.subtracting(replayed).sorted())")
    }

    @Test func onnxFindingsAreInputErrors() throws {
        let files = Self.findings("onnx-import")
        #expect(!files.isEmpty, "fixtures/fuzz/onnx-import holds the Pad pads = Int.min crash")
        let scratch = try Scratch()
        for f in files {
            let input = scratch.url.appendingPathComponent(f.lastPathComponent + ".onnx")
            try? FileManager.default.removeItem(at: input)
            try FileManager.default.copyItem(at: f, to: input)
            let r = try CLI.run(["convert", input.path, "-o", scratch.url.appendingPathComponent("out.zoo").path])
            #expect(r.status == 65, "\(f.lastPathComponent): exit \(r.status): \(r.stderr.prefix(300))")
            #expect(r.stderr.hasPrefix("zoo: error:") && r.stderr.split(separator: "\n").count == 1 && r.stderr.count < 1000)
            #expect(!FileManager.default.fileExists(atPath: scratch.url.appendingPathComponent("out.zoo").path))
        }
    }

    @Test func npyFindingsAreMalformedFileErrors() throws {
        let files = Self.findings("npy")
        #expect(!files.isEmpty, "fixtures/fuzz/npy holds the ')' before '(' shape crash")
        for f in files {
            let bytes = [UInt8](try Data(contentsOf: f))
            #expect(throws: NPY.Failure.self, "\(f.lastPathComponent)") { _ = try NPY.decode(bytes, path: f.lastPathComponent) }
        }
    }

    /// A 50-byte GIF declaring a 65527×1015 frame with an empty LZW stream, and a
    /// 100-byte RLE4 bitmap declaring 67 million pixels and a palette of 959,971,583
    /// colours, each took over 2 s under ASan painting the canvas pixel by pixel.
    /// PIL refuses both ("image file is truncated", "Unsupported BMP Palette
    /// size"); so does zoo now, and canvases are filled by copying.
    @Test func imageFindingsAreDamagedFileErrors() throws {
        let files = Self.findings("image-decode")
        #expect(!files.isEmpty, "fixtures/fuzz/image-decode holds the empty-frame GIF")
        for f in files {
            do {
                let image = try ImageLoader.load(path: f.path)
                Issue.record("\(f.lastPathComponent) decoded as \(image.width)×\(image.height)")
            } catch let e as VisionError {
                #expect(e.localizedDescription.hasPrefix(f.path) && e.localizedDescription.count < 400, "\(e.localizedDescription)")
            }
        }
    }

    /// A word2vec text header declaring 274,959,820,560,269,312 one-dimensional rows
    /// made the reader reserve 50 million rows and their hash table (over 2 s
    /// under ASan) before reading line 2. The first byte picks the format, as in
    /// Fuzz/Harnesses/embeddings.
    @Test func embeddingFindingsAreTypedErrorsQuickly() throws {
        let files = Self.findings("embeddings")
        #expect(!files.isEmpty, "fixtures/fuzz/embeddings holds the huge-header timeout")
        let scratch = try Scratch()
        for f in files {
            let bytes = try Data(contentsOf: f)
            let (suffix, format, container) = FuzzInputLayout.kind(bytes[0])
            let input = scratch.url.appendingPathComponent(f.lastPathComponent + suffix)
            try bytes.dropFirst().write(to: input)
            #expect(throws: EmbeddingError.self, "\(f.lastPathComponent)") {
                _ = try EmbeddingImporter.load(path: input.path, format: format, container: container)
            }
        }
    }

    /// A 100-byte zip whose end record declares offsets of 2^63 trapped the process
    /// inside ZIPFoundation (an unchecked `off_t(...)` conversion). Every zip zoo
    /// opens is checked first, so the same bytes are one typed line as a `.keras`
    /// (converted in the worker), a GloVe `.zip` and an `.npz` (both in-process).
    @Test func zipFindingsAreTypedErrorsInEveryZipReader() throws {
        let files = Self.findings("keras-archive")
        #expect(!files.isEmpty, "fixtures/fuzz/keras-archive holds the 2^63-offset zip")
        let scratch = try Scratch()
        for f in files {
            for (suffix, args) in [(".keras", ["convert"]), (".zip", ["convert"]),
                                   (".npz", ["run", CLI.repoRoot.appendingPathComponent("fixtures/zoo/tiny-mlp.zoo").path, "--input"])] {
                let input = scratch.url.appendingPathComponent(f.lastPathComponent + suffix)
                try? FileManager.default.removeItem(at: input)
                try FileManager.default.copyItem(at: f, to: input)
                let out = scratch.url.appendingPathComponent("out" + (suffix == ".npz" ? ".npy" : ".zoo"))
                let r = try CLI.run(args + [input.path] + (suffix == ".keras" ? ["--format", "keras-v3"] : suffix == ".zip" ? ["--format", "glove-zip"] : []) + ["-o", out.path])
                #expect(r.status == 65, "\(f.lastPathComponent)\(suffix): exit \(r.status): \(r.stderr.prefix(300))")
                #expect(r.stderr.hasPrefix("zoo: error:") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr.prefix(300))")
                #expect(!FileManager.default.fileExists(atPath: out.path))
            }
        }
    }
}
