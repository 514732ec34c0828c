import CHDF5
import Foundation
import ZooCore

/// The serial HDF5 library is not thread-safe: every call goes through this lock.
let hdf5Lock = NSRecursiveLock()

@discardableResult
func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    hdf5Lock.lock()
    defer { hdf5Lock.unlock() }
    return try body()
}

/// An HDF5 identifier that is closed when the object goes away.
final class H5Handle {
    let id: hid_t
    private let close: (hid_t) -> herr_t

    init(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.close = close
    }

    deinit { withHDF5 { _ = close(id) } }
}

/// A read-only HDF5 file with the checks Keras imports need: no external or
/// soft links, no external or virtual storage, dataset sizes checked against
/// the file before anything is allocated, and HDF5's error stack turned into
/// `KerasError.hdf5` instead of being printed.
final class H5File {
    /// The name messages use: the file, or `archive.keras:model.weights.h5` for weights
    /// extracted from an archive (the scratch copy's path means nothing to the user).
    let path: String
    /// Where the bytes are.
    let filePath: String
    let handle: H5Handle
    let fileSize: Int
    /// The file mapped read-only, for zero-copy views of contiguous datasets.
    private(set) lazy var mapped: MappedFile? = premapped ?? (try? MappedFile(path: filePath))
    private let premapped: MappedFile?

    /// `mapped`, when given, is an existing mapping of `path` to share; `displayPath`
    /// names the file in errors when `path` is a scratch copy.
    init(path: String, mapped: MappedFile? = nil, displayPath: String? = nil) throws {
        self.path = displayPath ?? path
        filePath = path
        premapped = mapped
        var st = stat()
        guard stat(path, &st) == 0 else { throw KerasError.io(path: self.path, detail: "cannot open (\(String(cString: strerror(errno))))") }
        fileSize = Int(st.st_size)
        let id: hid_t = withHDF5 {
            _ = CHDF5_silence_errors()
            guard H5Fis_hdf5(path) > 0 else { return -1 }
            return H5Fopen(path, CHDF5_ACC_RDONLY(), CHDF5_H5P_DEFAULT())
        }
        guard id >= 0 else { throw KerasError.notKeras(path: self.path, detail: "not an HDF5 file (or it is truncated)") }
        handle = H5Handle(id, close: H5Fclose)
    }

    var root: H5Group { H5Group(file: self, handle: handle, path: "/") }

    func error(_ object: String, _ fallback: String) -> KerasError {
        var buffer = CHDF5_ErrorBuffer()
        let text: String = withUnsafeMutablePointer(to: &buffer) { b in
            CHDF5_error_text(b)
            return withUnsafeBytes(of: &b.pointee.text) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return KerasError.hdf5(path: path, object: object, detail: text.isEmpty ? fallback : text)
    }
}

/// A group (or the root) inside an `H5File`.
struct H5Group {
    let file: H5File
    let handle: H5Handle
    let path: String

    func child(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// Whether `name` (one path component) exists as a hard link.
    func has(_ name: String) throws -> Bool {
        try withHDF5 {
            guard H5Lexists(handle.id, name, CHDF5_H5P_DEFAULT()) > 0 else { return false }
            try checkLink(name)
            return true
        }
    }

    private func checkLink(_ name: String) throws {
        switch Int(CHDF5_link_type(handle.id, name)) {
        case Int(H5L_TYPE_HARD.rawValue): return
        case Int(H5L_TYPE_SOFT.rawValue): throw KerasError.refusedLink(path: file.path, object: child(name), kind: "soft link")
        case Int(H5L_TYPE_EXTERNAL.rawValue): throw KerasError.refusedLink(path: file.path, object: child(name), kind: "external link")
        default: throw KerasError.refusedLink(path: file.path, object: child(name), kind: "user-defined link")
        }
    }

    /// Opens a subgroup by a relative path ("a/b"), checking each component's link.
    func group(_ relative: String) throws -> H5Group {
        var g = self
        for part in relative.split(separator: "/") where !part.isEmpty {
            let name = String(part)
            guard try g.has(name) else { throw KerasError.notKeras(path: file.path, detail: "missing group '\(MessageText.clip(g.child(name), 200))'") }
            let id: hid_t = withHDF5 { H5Gopen2(g.handle.id, name, CHDF5_H5P_DEFAULT()) }
            guard id >= 0 else { throw withHDF5 { file.error(g.child(name), "not a group") } }
            g = H5Group(file: file, handle: H5Handle(id, close: H5Gclose), path: g.child(name))
        }
        return g
    }

    /// Member names in creation-independent (name) order.
    func members() throws -> [String] {
        try withHDF5 {
            let n = CHDF5_group_size(handle.id)
            guard n >= 0 else { throw file.error(path, "cannot list group") }
            var names: [String] = []
            for i in 0..<n {
                let len = H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), nil, 0, CHDF5_H5P_DEFAULT())
                guard len >= 0 else { throw file.error(path, "cannot read member \(i)") }
                var buf = [CChar](repeating: 0, count: Int(len) + 1)
                _ = H5Lget_name_by_idx(handle.id, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), &buf, buf.count, CHDF5_H5P_DEFAULT())
                let name = String(cString: buf)
                try checkLink(name)
                names.append(name)
            }
            return names
        }
    }

    /// Whether `name` is a dataset (false for groups).
    func isDataset(_ name: String) throws -> Bool {
        try withHDF5 {
            try checkLink(name)
            let id = H5Oopen(handle.id, name, CHDF5_H5P_DEFAULT())
            guard id >= 0 else { throw file.error(child(name), "cannot open object") }
            defer { H5Oclose(id) }
            return H5Iget_type(id) == H5I_DATASET
        }
    }

    func hasAttribute(_ name: String) -> Bool {
        withHDF5 { H5Aexists(handle.id, name) > 0 }
    }

    /// A string attribute (scalar or array; fixed- or variable-length).
    func stringsAttribute(_ name: String) throws -> [String] {
        try withHDF5 {
            let attr = H5Aopen(handle.id, name, CHDF5_H5P_DEFAULT())
            guard attr >= 0 else { throw file.error("\(path)@\(name)", "cannot open attribute") }
            defer { H5Aclose(attr) }
            let ftype = H5Aget_type(attr)
            defer { H5Tclose(ftype) }
            let space = H5Aget_space(attr)
            defer { H5Sclose(space) }
            let count = Int(H5Sget_simple_extent_npoints(space))
            guard H5Tget_class(ftype) == H5T_STRING else {
                // h5py writes an empty list (a layer without weights) as an empty float array.
                if count == 0 { return [] }
                throw KerasError.notKeras(path: file.path, detail: "attribute '\(path)@\(name)' is not a string")
            }
            guard count >= 0, count < 1 << 24 else { throw file.error("\(path)@\(name)", "bad dataspace") }
            let mem = H5Tcopy(CHDF5_C_S1())
            defer { H5Tclose(mem) }
            _ = H5Tset_cset(mem, H5Tget_cset(ftype))
            if H5Tis_variable_str(ftype) > 0 {
                _ = H5Tset_size(mem, CHDF5_VARIABLE())
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: max(count, 1))
                guard H5Aread(attr, mem, &ptrs) >= 0 else { throw file.error("\(path)@\(name)", "cannot read attribute") }
                let strings = ptrs.prefix(count).map { $0.map { String(cString: $0) } ?? "" }
                _ = CHDF5_reclaim(mem, space, &ptrs)
                return strings
            }
            let size = H5Tget_size(ftype)
            guard size > 0, size < 1 << 26, size * count < 1 << 28 else { throw file.error("\(path)@\(name)", "bad string size") }
            // One extra byte: converting a full-width null-padded string to a
            // null-terminated one of the same size would drop its last character.
            let width = size + 1
            _ = H5Tset_size(mem, width)
            var buf = [UInt8](repeating: 0, count: max(width * count, 1))
            guard H5Aread(attr, mem, &buf) >= 0 else { throw file.error("\(path)@\(name)", "cannot read attribute") }
            return (0..<count).map { i in
                let bytes = buf[(i * width)..<((i + 1) * width)].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
    }

    func stringAttribute(_ name: String) throws -> String {
        try stringsAttribute(name).first ?? ""
    }

    /// A dataset's shape, without reading its data (recognising a file by its weights).
    func datasetShape(_ name: String) throws -> [Int] {
        try withHDF5 {
            try checkLink(name)
            let where_ = child(name)
            let ds = H5Dopen2(handle.id, name, CHDF5_H5P_DEFAULT())
            guard ds >= 0 else { throw file.error(where_, "cannot open dataset") }
            defer { H5Dclose(ds) }
            let space = H5Dget_space(ds)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0, rank <= 8 else { throw file.error(where_, "bad rank") }
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            _ = H5Sget_simple_extent_dims(space, &dims, nil)
            return dims.prefix(rank).map { Int(clamping: $0) }
        }
    }

    /// Reads a numeric dataset as f32 (HDF5 converts from its stored float or
    /// integer type), after refusing virtual/external storage and checking the
    /// declared size against the file.
    func readFloats(_ name: String) throws -> Tensor {
        try withHDF5 {
            try checkLink(name)
            let where_ = child(name)
            let ds = H5Dopen2(handle.id, name, CHDF5_H5P_DEFAULT())
            guard ds >= 0 else { throw file.error(where_, "cannot open dataset") }
            defer { H5Dclose(ds) }
            let dcpl = H5Dget_create_plist(ds)
            defer { H5Pclose(dcpl) }
            let layout = H5Pget_layout(dcpl)
            if layout == H5D_VIRTUAL { throw KerasError.refusedStorage(path: file.path, dataset: where_, kind: "virtual dataset (reads other files)") }
            if H5Pget_external_count(dcpl) > 0 { throw KerasError.refusedStorage(path: file.path, dataset: where_, kind: "external storage (data kept in other files)") }
            let ftype = H5Dget_type(ds)
            defer { H5Tclose(ftype) }
            let cls = H5Tget_class(ftype)
            guard cls == H5T_FLOAT || cls == H5T_INTEGER else {
                throw KerasError.notKeras(path: file.path, detail: "dataset '\(where_)' is not numeric")
            }
            let space = H5Dget_space(ds)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0, rank <= 8 else { throw file.error(where_, "bad rank") }
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            _ = H5Sget_simple_extent_dims(space, &dims, nil)
            let shape = dims.prefix(rank).map { Int(clamping: $0) }
            guard let count = ShapeMath.elementCount(shape) else { throw KerasError.notKeras(path: file.path, detail: "dataset '\(where_)' has an invalid shape \(shape)") }
            // Uncompressed data must fit in the file; compressed data may expand, but boundedly.
            let stored = Int(H5Dget_storage_size(ds))
            let filters = layout == H5D_CHUNKED ? Int(H5Pget_nfilters(dcpl)) : 0
            let typeSize = H5Tget_size(ftype)
            if filters == 0 {
                guard count * typeSize <= file.fileSize, layout == H5D_COMPACT || stored == count * typeSize || count == 0 else {
                    throw KerasError.refusedStorage(path: file.path, dataset: where_, kind: "declares \(count * typeSize) bytes but stores \(stored) in a \(file.fileSize)-byte file")
                }
            } else {
                guard count * 4 <= max(file.fileSize, 1) * 64 else {
                    throw KerasError.refusedStorage(path: file.path, dataset: where_, kind: "declares \(count) elements, implausibly many for a \(file.fileSize)-byte file")
                }
            }
            // Fast path: an uncompressed, contiguous little-endian f32 dataset is
            // viewed straight from the mapped file (no copy of the weights).
            if filters == 0, layout == H5D_CONTIGUOUS, count > 0, H5Tequal(ftype, CHDF5_IEEE_F32LE()) > 0 {
                let offset = H5Dget_offset(ds)
                if offset != CHDF5_HADDR_UNDEF(), let map = file.mapped, Int(offset) >= 0, Int(offset) + count * 4 <= map.bytes.count {
                    let view = UnsafeRawBufferPointer(rebasing: map.bytes[Int(offset)..<(Int(offset) + count * 4)])
                    return try Tensor(dtype: .f32, shape: shape, storage: TensorStorage(viewing: view, owner: map), name: where_)
                }
            }
            let storage = try TensorStorage(count: count * 4) { out in
                guard count > 0 else { return }
                guard H5Dread(ds, CHDF5_NATIVE_FLOAT(), CHDF5_H5S_ALL(), CHDF5_H5S_ALL(), CHDF5_H5P_DEFAULT(), out.baseAddress) >= 0 else {
                    throw file.error(where_, "cannot read dataset")
                }
            }
            return try Tensor(dtype: .f32, shape: shape, storage: storage, name: where_)
        }
    }
}
