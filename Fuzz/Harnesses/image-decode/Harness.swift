import Foundation
import FuzzSupport
import ZooVision

/// JPEG (libjpeg-turbo), PNG (libpng), BMP and GIF decoding, by content.
@_cdecl("fuzz_image_decode_main")
public func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzInput.run(argc, argv) { input, size in
        guard let data = input else { return 0 }
        _ = try? ImageLoader.decode(Data(FuzzInput.bytes(data, size)))
        return 0
    }
}
