import Foundation
import FuzzSupport
@testable import ZooKeras

/// `.keras` archives up to the HDF5 part: zip parsing (`ZipArchive`), member
/// lookup, the declared-size bounds and streaming the weights to a scratch
/// directory. The extracted HDF5 is not opened here; libhdf5 runs out of
/// process and is surveyed by bench/mutate_cli.sh.
@_cdecl("fuzz_keras_archive_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        let path = FuzzInput.file(data, size, suffix: ".keras")
        if let (config, _, _, dir) = try? KerasImporter.unpackArchive(path) {
            _ = try? KerasConfigParser.parse(config, path: path)
            try? FileManager.default.removeItem(at: dir)
        }
        return 0
    }
}
