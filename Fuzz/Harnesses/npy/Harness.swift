import FuzzSupport
import ZooCore

/// `.npy` headers and payloads.
@_cdecl("fuzz_npy_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        _ = try? NPY.decode(FuzzInput.bytes(data, size))
        return 0
    }
}
