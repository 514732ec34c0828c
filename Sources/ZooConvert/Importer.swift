import Foundation
import ZooCore
import ZooFormat

/// A source file being converted: its path (for messages and for importers
/// that read neighbouring files, such as ONNX external data) and one mapping
/// of it that the importer, the sniffer and the source hash share.
public struct ConversionSource: Sendable {
    public let path: String
    public let mapped: MappedFile
}

/// What an importer hands the writer: the model card, the graph and the tensors.
public struct PreparedModel {
    public var card: ModelCard
    public var graph: Graph
    public var items: [ZooWriter.Item]

    public init(card: ModelCard, graph: Graph, items: [ZooWriter.Item]) {
        self.card = card
        self.graph = graph
        self.items = items
    }

    init(_ m: Model) { self.init(card: m.card, graph: m.graph, items: m.tensors.map { ZooWriter.Item(name: $0.name, tensor: $0.tensor) }) }
}

/// One source format family (ONNX, Keras, word vectors, native `.zoo`).
///
/// Importers are listed once, in `Conversion.importers`; `zoo convert` and
/// `zoo pull` find theirs by content (`sniff`), never by the file name alone,
/// so a blob in the registry's store or a file with a misleading name converts.
public protocol Importer: Sendable {
    /// Format names this importer reads (the catalog's `format`, `--format`).
    var formats: [String] { get }
    /// Whether its C library may crash on a hostile file, so callers run it in a child process.
    var isolated: Bool { get }
    /// The format of the file by its content (`head` is its first bytes), or nil.
    func sniff(_ source: ConversionSource) -> String?
    /// Reads the source in `format`.
    func prepare(_ source: ConversionSource, format: String, options: ConversionOptions) throws -> PreparedModel
}

/// Card fields a catalog entry supplies for the models it describes.
public struct CardDefaults: Sendable {
    public var name: String?
    public var family: String?
    public var task: String?
    public var license: String?
    public var preprocessing: ModelCard.Preprocessing?
    /// A label set by name (e.g. `imagenet-1k`), recorded in the card's metadata.
    public var labels: String?

    public init(name: String? = nil, family: String? = nil, task: String? = nil, license: String? = nil,
                preprocessing: ModelCard.Preprocessing? = nil, labels: String? = nil) {
        self.name = name
        self.family = family
        self.task = task
        self.license = license
        self.preprocessing = preprocessing
        self.labels = labels
    }
}

/// How to convert.
public struct ConversionOptions: Sendable {
    /// Model name for the card (default: the catalog's, else the file name).
    public var name: String?
    /// A format name that overrides content sniffing.
    public var format: String?
    /// Keras weights-only files: an architecture file or a built-in architecture (`keras-vgg16:notop`).
    public var architecture: String?
    /// Keras built-in notop architectures: `none`, `avg` or `max`.
    public var pooling: String?
    /// Archives holding several files (GloVe zips): the member to convert.
    public var member: String?
    /// Word vectors stored as float16.
    public var half: Bool
    /// The catalog entry's card fields, when the caller knows which entry this is (pull).
    public var cardDefaults: CardDefaults?
    /// Looks up card fields for a catalog model an importer recognised (a Keras Applications file).
    public var catalogLookup: (@Sendable (_ model: String) -> CardDefaults?)?
    /// Provenance for the card when the file converted is not the one the user has (a registry blob).
    public var originalName: String?
    public var sourceURL: String?
    /// The source's SHA-256 when the caller already knows it (skips hashing).
    public var sha256: String?
    /// Replace an existing output file (never anything but a regular file).
    public var overwrite = false
    /// How images become this model's input (`zoo convert --preprocess --size`); overrides the catalog's.
    public var preprocessing: ModelCard.Preprocessing?

    public init(name: String? = nil, format: String? = nil, architecture: String? = nil, pooling: String? = nil, member: String? = nil,
                half: Bool = false, cardDefaults: CardDefaults? = nil, catalogLookup: (@Sendable (String) -> CardDefaults?)? = nil,
                originalName: String? = nil, sourceURL: String? = nil, sha256: String? = nil, overwrite: Bool = false) {
        self.name = name
        self.format = format
        self.architecture = architecture
        self.pooling = pooling
        self.member = member
        self.half = half
        self.cardDefaults = cardDefaults
        self.catalogLookup = catalogLookup
        self.originalName = originalName
        self.sourceURL = sourceURL
        self.sha256 = sha256
        self.overwrite = overwrite
    }
}

/// Why a file could not be converted (the importers' own errors pass through unchanged).
public enum ConvertError: Error, LocalizedError, Equatable {
    case io(path: String, detail: String)
    /// No importer recognises the content.
    case unknownFormat(path: String)
    /// `--format` names no importer.
    case unknownFormatName(format: String, known: [String])
    /// An option that does not apply to this source.
    case optionNotApplicable(option: String, detail: String)
    /// The output path holds a file and overwriting was not asked for.
    case outputExists(path: String)
    /// The output path is a FIFO, device, directory or socket: never replaced.
    case notARegularFile(path: String, kind: String)

    public var errorDescription: String? {
        switch self {
        case let .io(p, d): return "\(p): \(d)"
        case let .unknownFormat(p):
            return "\(p): not a model zoo can read (looked for ONNX protobuf, HDF5 and .keras zip, word2vec binary/text, GloVe text, gzip and zip of those, and .zoo); give --format if it is one of them"
        case let .unknownFormatName(f, known): return "unknown format '\(f)'; one of: \(known.joined(separator: ", "))"
        case let .optionNotApplicable(o, d): return "\(o) does not apply here: \(d)"
        case let .outputExists(p): return "\(p) already exists; give -f/--force to replace it, or -o for another path"
        case let .notARegularFile(p, k): return "\(p) is a \(k), not a regular file; zoo only writes regular files — choose another -o path"
        }
    }
}
