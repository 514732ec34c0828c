import FuzzSupport
import ZooONNX

/// ONNX import: wire scanner, protobuf-c unpack, normalisation, folding. The
/// input's directory holds nothing else, so external data never resolves.
@_cdecl("fuzz_onnx_import_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        let path = FuzzInput.file(data, size, suffix: ".onnx")
        _ = try? ONNXImporter.load(path: path, options: .init(hashSource: false))
        return 0
    }
}
