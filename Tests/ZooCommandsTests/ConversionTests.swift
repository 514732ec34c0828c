import Foundation
import Testing
import ZooConvert
import ZooCore
import ZooFormat
import ZooTestSupport

/// The one conversion pipeline recognises every source format by content, so a
/// file with no extension or a misleading one converts (gensim reads a word2vec
/// text file named `vectors`, and so must zoo).
@Suite struct ConversionTests {
    static let fixtures = CLI.repoRoot.appendingPathComponent("fixtures")
    static let cases: [(file: String, format: String)] = [
        ("onnx/resnet_bottleneck.onnx", "onnx"),
        ("keras/vgg_block.k2.h5", "keras-h5"),
        ("keras/vgg_block.keras", "keras-v3"),
        ("keras/applications/mobilenet_0_25_notop.h5", "keras-h5"),
        ("embeddings/w2v.bin", "word2vec-bin"),
        ("embeddings/w2v.bin.gz", "word2vec-bin-gz"),
        ("embeddings/w2v.txt", "word2vec-txt"),
        ("embeddings/w2v.vec.gz", "word2vec-txt-gz"),
        ("embeddings/glove.txt", "glove-txt"),
        ("embeddings/glove.txt.gz", "glove-txt-gz"),
        ("embeddings/glove.zip", "glove-zip"),
        ("zoo/tiny-mlp.zoo", "zoo"),
    ]

    @Test(arguments: cases.map(\.file))
    func aFileWithNoOrAMisleadingExtensionConvertsByContent(file: String) throws {
        let expected = Self.cases.first { $0.file == file }!.format
        let dir = try TempDir()
        for alias in ["vectors", "model.onnx.txt", "weights.bin"] {
            let path = dir.path(alias)
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent(file).path, toPath: path)
            #expect(try Conversion.detect(try Conversion.open(path)).format == expected, "\(file) as \(alias)")
        }
        // Word-vector zips may hold several members; the fixture's is named in its manifest.
        guard expected != "glove-zip", expected != "zoo" else { return }
        let out = URL(fileURLWithPath: dir.path("out.zoo"))
        let r = try Conversion.convert(dir.path("vectors"), to: out, options: .init())
        #expect(r.format == expected)
        #expect(try ZooFile(path: out.path).verify().intact)
    }

    @Test func formatOverridesSniffingAndUnknownContentIsATypedError() throws {
        let dir = try TempDir()
        let text = dir.path("notes")
        try Data("just some notes\nnothing numeric here\n".utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: ConvertError.unknownFormat(path: text)) { try Conversion.detect(try Conversion.open(text)) }
        #expect(throws: ConvertError.self) { try Conversion.detect(try Conversion.open(text), format: "nonsense") }
        let glove = Self.fixtures.appendingPathComponent("embeddings/glove.txt").path
        #expect(try Conversion.detect(try Conversion.open(glove), format: "glove-txt").format == "glove-txt")
        #expect(Conversion.importers.contains { $0.isolated && $0.formats.contains("keras-h5") })
    }
}
