import FuzzSupport
@testable import ZooRegistry

/// HTTP header values zoo parses: WWW-Authenticate challenges, upload Range,
/// oci:// references and registry error bodies.
@_cdecl("fuzz_http_headers_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        let text = String(decoding: FuzzInput.bytes(data, size), as: UTF8.self)
        _ = OCIClient.parseChallenge(text)
        _ = Registry.rangeEnd(text)
        _ = try? OCIReference(parsing: text)
        _ = try? OCIReference(parsing: "oci://" + text)
        _ = OCIClient.errorSummary(.init(text.utf8))
        return 0
    }
}
