import FuzzSupport
import ZooRegistry

/// `zoo.json` catalogs.
@_cdecl("fuzz_catalog_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        _ = try? Catalog(path: FuzzInput.file(data, size, suffix: ".json"))
        return 0
    }
}
