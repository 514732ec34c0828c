import FuzzSupport
@testable import ZooEmbeddings

/// word2vec text and binary, GloVe, and their gzip and zip containers; the
/// first byte picks the format (`FuzzInputLayout`), the rest is the file.
@_cdecl("fuzz_embeddings_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        guard size > 1 else { return 0 }
        let (suffix, format, container) = FuzzInputLayout.kind(data[0])
        let path = FuzzInput.file(data + 1, size - 1, suffix: suffix)
        _ = try? EmbeddingImporter.load(path: path, format: format, container: container)
        return 0
    }
}
