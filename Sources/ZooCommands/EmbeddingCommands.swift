import ArgumentParser
import Foundation
import ZooEmbeddings
import ZooFormat

/// Opens an embedding model given as a path or registered name.
func openEmbeddings(_ model: String) throws -> EmbeddingIndex {
    try EmbeddingIndex(file: try ZooFile(path: try resolveModelPath(model)))
}

func printNeighbors(_ list: [EmbeddingIndex.Neighbor], json: Bool) throws {
    if json { try printJSON(list); return }
    print(renderTable(list.enumerated().map { ["#\($0.offset + 1)", $0.element.word, String(format: "%.6f", $0.element.cosine)] }, indent: ""))
}

struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The words closest to WORD by cosine similarity (like gensim's most_similar).")
    @Argument(help: "An embedding .zoo file or registered name.") var model: String
    @Argument(help: "The query word.") var word: String
    @Option(name: .short, help: "How many neighbours.") var k = 10
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false
    @Flag(help: "Print load time and the median query time over 10 queries on stderr (for benchmarks).") var timing = false

    func validate() throws { guard k >= 1 else { throw ValidationError("-k must be at least 1") } }

    func run() throws {
        try runReportingErrors {
            let t0 = DispatchTime.now()
            let index = try openEmbeddings(model)
            let loaded = DispatchTime.now()
            var result = try index.mostSimilar(positive: [word], k: k)
            if timing {
                var times: [Double] = []
                for _ in 0..<10 {
                    let q = DispatchTime.now()
                    result = try index.mostSimilar(positive: [word], k: k)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - q.uptimeNanoseconds) / 1e6)
                }
                times.sort()
                let load = Double(loaded.uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6
                FileHandle.standardError.write(Data(String(format: "load %.1f ms, query median %.2f ms over %d queries\n", load, times[times.count / 2], times.count).utf8))
            }
            try printNeighbors(result, json: json)
        }
    }
}

struct Analogy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A − B + C: the words closest to the analogy, excluding A, B and C.",
        discussion: "`zoo analogy M king man woman` answers 'man is to king as woman is to ?', like gensim's most_similar(positive=[A, C], negative=[B]).")
    @Argument(help: "An embedding .zoo file or registered name.") var model: String
    @Argument var a: String
    @Argument var b: String
    @Argument var c: String
    @Option(name: .short, help: "How many answers.") var k = 5
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func validate() throws { guard k >= 1 else { throw ValidationError("-k must be at least 1") } }

    func run() throws {
        try runReportingErrors { try printNeighbors(try openEmbeddings(model).mostSimilar(positive: [a, c], negative: [b], k: k), json: json) }
    }
}

struct VectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vector", abstract: "Print the stored vector of WORD.")
    @Argument(help: "An embedding .zoo file or registered name.") var model: String
    @Argument(help: "The word.") var word: String
    @Flag(help: "Print machine-readable JSON on stdout.") var json = false

    func run() throws {
        try runReportingErrors {
            let v = try openEmbeddings(model).vector(word)
            if json { try printJSON(["word": AnyEncodable(word), "vector": AnyEncodable(v)]) } else { print(v.map { String(format: "%.6g", $0) }.joined(separator: " ")) }
        }
    }
}
