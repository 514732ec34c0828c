import FuzzSupport
@testable import ZooKeras

/// Keras model config JSON (the part of a .h5 / .keras that is not HDF5).
@_cdecl("fuzz_keras_config_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        _ = try? KerasConfigParser.parse(String(decoding: FuzzInput.bytes(data, size), as: UTF8.self), path: "<fuzz>")
        return 0
    }
}
