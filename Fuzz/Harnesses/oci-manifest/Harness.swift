import Foundation
import FuzzSupport
@testable import ZooRegistry

/// OCI manifests and image layout indexes as zoo checks them.
@_cdecl("fuzz_oci_manifest_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        let bytes = Data(FuzzInput.bytes(data, size))
        _ = try? OCIArtifact.parseManifest(bytes, reference: "oci://fuzz/x:y")
        _ = try? JSONDecoder().decode(OCIArtifact.Index.self, from: bytes)
        return 0
    }
}
