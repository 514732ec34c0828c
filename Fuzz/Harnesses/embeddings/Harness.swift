import FuzzSupport
import ZooEmbeddings

/// word2vec text and binary, GloVe, and their gzip and zip containers; the
/// first byte picks the format, the rest is the file.
@_cdecl("fuzz_embeddings_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        guard size > 1 else { return 0 }
        let kinds: [(String, EmbeddingFormat?, EmbeddingContainer?)] = [
            (".txt", .word2vecText, nil), (".bin", .word2vecBinary, nil), (".txt", .gloveText, nil),
            (".txt.gz", .word2vecText, .gzip), (".bin.gz", .word2vecBinary, .gzip), (".zip", .gloveText, .zip), (".vec", nil, nil),
        ]
        let (suffix, format, container) = kinds[Int(data[0]) % kinds.count]
        let path = FuzzInput.file(data + 1, size - 1, suffix: suffix)
        _ = try? EmbeddingImporter.load(path: path, format: format, container: container)
        return 0
    }
}
