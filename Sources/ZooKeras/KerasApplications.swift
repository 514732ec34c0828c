import CZooZlib
import Foundation
import ZooCore

/// The keras.applications architectures zoo carries itself, so a weights-only
/// file as Keras Applications publishes it (`vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`)
/// converts without the `model.to_json()` only Keras could produce.
///
/// Every catalog Keras model and variant is here (top at its input size;
/// notop with pooling none, avg and max, input `(None, None, 3)`), plus the
/// other MobileNet widths Keras publishes weights for. The configs are the
/// ones tf_keras writes (the published files were saved by Keras 2), made by
/// `fixtures/generator/make_architectures.py`.
public enum KerasApplications {
    /// One architecture: what Keras builds for an application and its arguments.
    public struct Architecture: Sendable {
        /// e.g. `VGG16/notop/avg`, `MobileNet(alpha=0.25)/top`.
        public let id: String
        public let application: String
        /// The catalog model and variant it belongs to (nil for widths the catalog does not list).
        public let catalogModel: String?
        public let variant: String
        /// `none`, `avg` or `max` (notop only; pooling adds no weights).
        public let pooling: String
        public let kerasVersion: String
        /// Where `configJSON` is in the configs blob.
        let configRange: Range<Int>
        /// `model.to_json()` (decompressed on first use of any config).
        public var configJSON: String {
            String(decoding: KerasApplications.configs[configRange], as: UTF8.self)
        }
        /// Per weighted layer, in saving order: its name and its variables' shapes.
        public let signature: [Layer]

        public struct Layer: Sendable, Equatable {
            public let name: String
            public let shapes: [[Int]]
        }

        /// `keras-vgg16:notop` style reference, or the id for widths outside the catalog.
        public var reference: String { catalogModel.map { "\($0):\(variant)" } ?? id }
    }

    /// The result of matching a weights file against the built-in architectures.
    public enum Identification: Sendable {
        /// Every architecture whose weights the file holds exactly (notop variants differ only in pooling).
        case matches([Architecture])
        /// None matches; the closest one and how it differs.
        case none(closest: Architecture?, difference: String)
    }

    /// The index (ids, arguments, weight signatures), decoded on first use.
    public static let all: [Architecture] = decode()

    /// Every config, one after another (about 12 MB), decompressed when one is needed.
    /// An array, not `Data`: Data keeps its storage reference in an enum payload whose
    /// spare bits carry the case, so LeakSanitizer cannot see the global pointing at it.
    static let configs: [UInt8] = {
        guard let packed = Data(base64Encoded: packedConfigs, options: .ignoreUnknownCharacters),
              let data = inflate(packed, expected: configsSize) else { return [] }
        return [UInt8](data)
    }()

    static func decode() -> [Architecture] {
        guard let packedData = Data(base64Encoded: packedIndex, options: .ignoreUnknownCharacters),
              let json = inflate(packedData, expected: indexSize),
              let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any],
              let list = root["architectures"] as? [[String: Any]] else { return [] }
        return list.compactMap { e in
            guard let id = e["id"] as? String, let app = e["application"] as? String,
                  let range = e["config_range"] as? [Int], range.count == 2, range[0] >= 0, range[1] >= 0, range[0] + range[1] <= configsSize,
                  let sig = e["signature"] as? [[Any]] else { return nil }
            let layers: [Architecture.Layer] = sig.compactMap { l in
                guard l.count == 2, let name = l[0] as? String, let shapes = l[1] as? [[Int]] else { return nil }
                return Architecture.Layer(name: name, shapes: shapes)
            }
            return Architecture(id: id, application: app, catalogModel: e["catalog"] as? String, variant: e["variant"] as? String ?? "",
                                pooling: e["pooling"] as? String ?? "none", kerasVersion: e["keras_version"] as? String ?? "",
                                configRange: range[0]..<(range[0] + range[1]), signature: layers)
        }
    }

    static func inflate(_ data: Data, expected: Int) -> Data? {
        var out = Data(count: expected)
        var stream = z_stream()
        guard czlib_inflate_init(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        let status: Int32 = data.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                stream.next_in = UnsafeMutablePointer(mutating: src.bindMemory(to: UInt8.self).baseAddress)
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.bindMemory(to: UInt8.self).baseAddress
                stream.avail_out = uInt(dst.count)
                return CZooZlib.inflate(&stream, Z_FINISH)
            }
        }
        return status == Z_STREAM_END && Int(stream.total_out) == expected ? out : nil
    }

    /// The architecture a reference names: a catalog `model:variant` (e.g.
    /// `keras-vgg16:notop`) or an id (`MobileNet(alpha=0.25)/notop`), with
    /// `pooling` for notop variants.
    public static func architecture(_ reference: String, pooling: String? = nil) -> Architecture? {
        let pool = pooling ?? "none"
        if let a = all.first(where: { $0.id == reference }) {
            guard pooling != nil, a.variant == "notop", a.pooling != pool else { return a }
            let base = a.pooling == "none" ? a.id : String(a.id.dropLast(a.pooling.count + 1))
            return all.first { $0.id == (pool == "none" ? base : "\(base)/\(pool)") }
        }
        let parts = reference.split(separator: ":", maxSplits: 1).map(String.init)
        let candidates = all.filter { $0.catalogModel == parts[0] && (parts.count == 1 ? true : $0.variant == parts[1]) }
        if parts.count == 1, candidates.count > 1 {
            // A bare model name means its top variant, as the catalog's default does.
            return candidates.first { $0.variant == "top" } ?? candidates.first
        }
        return candidates.first { $0.pooling == pool || $0.variant == "top" }
    }

    /// Matches a file's weights (per weighted layer, in file order) against every
    /// built-in architecture by the shapes of the weights, as Keras assigns them
    /// by position; layer names are not required to agree (Keras 3 renames some).
    public static func identify(_ file: [Architecture.Layer]) -> Identification {
        var exact: [Architecture] = []
        var best: (arch: Architecture, agree: Int)?
        for a in all {
            var agree = 0
            while agree < min(a.signature.count, file.count) && a.signature[agree].shapes == file[agree].shapes { agree += 1 }
            if agree == file.count && agree == a.signature.count { exact.append(a); continue }
            if best == nil || agree > best!.agree { best = (a, agree) }
        }
        if !exact.isEmpty { return .matches(exact) }
        guard let (a, k) = best else { return .none(closest: nil, difference: "no built-in architectures") }
        var why = "the file has \(file.count) layers with weights, \(a.id) has \(a.signature.count)"
        if k < min(file.count, a.signature.count) {
            let f = file[k], e = a.signature[k]
            why += "; the first difference is weighted layer \(k + 1): the file's '\(f.name)' holds \(f.shapes.map { ShapeMath.describe($0) }.joined(separator: ", ")), \(a.id)'s '\(e.name)' expects \(e.shapes.map { ShapeMath.describe($0) }.joined(separator: ", "))"
        }
        return .none(closest: a, difference: why)
    }
}
