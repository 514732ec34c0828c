import Foundation
import ZooCore
import ZooVision
import ZooFormat

/// The one conversion pipeline: `zoo convert` and `zoo pull` both come here.
/// Sniff the content → the importer for its format → the card completed from
/// the catalog and the source's provenance → the atomic, deterministic writer.
public enum Conversion {
    /// Every importer, in sniffing order (binary signatures before text heuristics).
    public static let importers: [any Importer] = [
        ZooSourceImporter(), KerasSourceImporter(), ONNXSourceImporter(), EmbeddingSourceImporter(),
    ]

    /// Every format name an importer reads.
    public static var formats: [String] { importers.flatMap(\.formats) }

    /// The importer and format for `source`: `format` when given, else by content.
    public static func detect(_ source: ConversionSource, format: String? = nil) throws -> (importer: any Importer, format: String) {
        if let f = format {
            guard let i = importers.first(where: { $0.formats.contains(f) }) else { throw ConvertError.unknownFormatName(format: f, known: formats) }
            return (i, f)
        }
        for i in importers { if let f = i.sniff(source) { return (i, f) } }
        throw ConvertError.unknownFormat(path: source.path)
    }

    /// Maps `path` for conversion.
    public static func open(_ path: String) throws -> ConversionSource {
        do { return ConversionSource(path: path, mapped: try MappedFile(path: path)) } catch let e as ZooCoreError {
            throw ConvertError.io(path: path, detail: e.localizedDescription)
        }
    }

    /// Whether converting `path` must happen in a child process (its importer's library can crash).
    public static func requiresIsolation(_ path: String, format: String? = nil) throws -> Bool {
        try detect(try open(path), format: format).importer.isolated
    }

    /// What a conversion produced.
    public struct Result: Sendable {
        public var card: ModelCard
        public var format: String
        public var digest: String
        public var byteCount: Int
        public var nodes: Int
        public var tensors: Int
        public var importSeconds: Double
        public var seconds: Double
    }

    /// Converts `path` into a `.zoo` at `output`, atomically: nothing appears
    /// there unless every step succeeded.
    public static func convert(_ path: String, to requested: URL, options: ConversionOptions = .init()) throws -> Result {
        let start = DispatchTime.now()
        let output = try writableTarget(requested, overwrite: options.overwrite)
        let source = try open(path)
        let (importer, format) = try detect(source, format: options.format)
        if options.half, !(importer is EmbeddingSourceImporter) {
            throw ConvertError.optionNotApplicable(option: "--f16", detail: "it stores word vectors as float16; \(path) is \(format)")
        }
        // The source hash runs beside import and the data pass; the writer collects it just before the header.
        let digest = options.sha256 == nil ? SourceDigest(file: source.mapped) : nil
        var prepared = try importer.prepare(source, format: format, options: options)
        let importedAt = DispatchTime.now()
        completeCard(&prepared.card, format: format, options: options)
        let written = try ZooWriter.write(card: prepared.card, graph: prepared.graph, items: prepared.items, to: output, completeCard: { card in
            if let digest { card.source?.sha256 = try digest.value() }
        })
        let end = DispatchTime.now()
        return Result(card: prepared.card, format: format, digest: written.digest, byteCount: written.byteCount, nodes: prepared.graph.nodes.count,
                      tensors: prepared.items.count, importSeconds: Double(importedAt.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9,
                      seconds: Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
    }

    /// Where to write `url`: itself, or the regular file a symlink there points
    /// to (the link is kept). Anything else already there — a FIFO, a device,
    /// a directory — is refused, and an existing file unless `overwrite`.
    static func writableTarget(_ url: URL, overwrite: Bool) throws -> URL {
        var target = url
        var st = stat()
        if lstat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK {
            target = url.resolvingSymlinksInPath()
        }
        guard stat(target.path, &st) == 0 else { return target }   // nothing there yet
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            guard overwrite else { throw ConvertError.outputExists(path: url.path) }
            return target
        case S_IFIFO: throw ConvertError.notARegularFile(path: url.path, kind: "FIFO")
        case S_IFCHR, S_IFBLK: throw ConvertError.notARegularFile(path: url.path, kind: "device")
        case S_IFDIR: throw ConvertError.notARegularFile(path: url.path, kind: "directory")
        default: throw ConvertError.notARegularFile(path: url.path, kind: "special file")
        }
    }

    /// The number of classes a classifier's first output scores: [N, K], or [N, K, 1, 1].
    static func classCount(_ card: ModelCard) -> Int? {
        guard let shape = card.outputs.first?.shape, shape.count >= 2 else { return nil }
        if shape.count == 2 { return shape[1].value }
        if shape.count == 4, shape[2].value == 1, shape[3].value == 1 { return shape[1].value }
        return nil
    }

    /// Provenance and catalog fields: the caller's entry, or the entry of a
    /// catalog model the importer recognised. Fields the importer set are kept.
    static func completeCard(_ card: inout ModelCard, format: String, options: ConversionOptions) {
        if let n = options.originalName { card.source?.file = n }
        if let u = options.sourceURL { card.source?.url = u }
        if let sha = options.sha256 { card.source?.sha256 = sha }
        var defaults = options.cardDefaults
        if defaults == nil, let model = card.metadata?["catalog.model"] { defaults = options.catalogLookup?(model) }
        defer { if let p = options.preprocessing { card.preprocessing = p } }
        guard let d = defaults else { return }
        if options.name == nil, let n = d.name { card.name = n }
        card.family = card.family ?? d.family
        card.task = card.task ?? d.task
        card.license = card.license ?? d.license
        card.preprocessing = card.preprocessing ?? d.preprocessing
        if let l = d.labels {
            card.metadata = (card.metadata ?? [:]).merging(["labels": l]) { a, _ in a }
            // The class names themselves, for a classifier whose output has as many classes (not a notop backbone).
            if card.labels == nil, ImageNetClassIndex.labelSets.contains(l), classCount(card) == ImageNetClassIndex.entries.count {
                card.labels = ImageNetClassIndex.names
            }
        }
    }
}
