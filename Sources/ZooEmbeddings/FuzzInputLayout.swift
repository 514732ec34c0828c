/// How the `embeddings` fuzz harness (Fuzz/) reads its input: the first byte
/// picks a format and container, the rest is the file. The regression test
/// that replays its findings (fixtures/fuzz/embeddings) decodes them with the
/// same table, so a finding is replayed as the format it was found in.
/// Internal: both reach it with `@testable import`.
enum FuzzInputLayout {
    /// File suffix, format, container; `nil` format and container let zoo sniff.
    static let kinds: [(suffix: String, format: EmbeddingFormat?, container: EmbeddingContainer?)] = [
        (".txt", .word2vecText, nil), (".bin", .word2vecBinary, nil), (".txt", .gloveText, nil),
        (".txt.gz", .word2vecText, .gzip), (".bin.gz", .word2vecBinary, .gzip), (".zip", .gloveText, .zip), (".vec", nil, nil),
    ]

    /// The kind a fuzz input's first byte selects.
    static func kind(_ firstByte: UInt8) -> (suffix: String, format: EmbeddingFormat?, container: EmbeddingContainer?) {
        kinds[Int(firstByte) % kinds.count]
    }
}
