import FuzzSupport
import ZooFormat

/// `.zoo` header and tensor-table validation, then verification of what it names.
@_cdecl("fuzz_zoo_header_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        if let f = try? ZooFile(bytes: FuzzInput.bytes(data, size)) { _ = f.verify() }
        return 0
    }
}
