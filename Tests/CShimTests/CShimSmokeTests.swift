import CBLAS
import CHDF5
import CProtobufC
import Testing

/// Each system library links and answers a real call: these fail first when a
/// machine lacks the apt packages, before any importer test is misread.
@Suite struct CShimSmokeTests {
    @Test func hdf5ReportsItsLibraryVersion() {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        #expect(H5get_libversion(&major, &minor, &release) >= 0)
        #expect(major == 1)
        #expect(minor >= 10)
        #expect(CHDF5_silence_errors() >= 0)
        // A predefined type id from the shim macros is a valid, positive hid_t.
        #expect(CHDF5_NATIVE_FLOAT() > 0)
    }

    @Test func protobufCReportsItsVersion() {
        let version = String(cString: protobuf_c_version())
        #expect(version.hasPrefix("1."))
        #expect(protobuf_c_version_number() >= 1_000_000)
    }

    @Test func openBLASMultipliesMatrices() {
        // [1 2; 3 4] × [5 6; 7 8] = [19 22; 43 50]
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2)
        #expect(c == [19, 22, 43, 50])
    }
}
