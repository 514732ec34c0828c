/// A decoded image: 8-bit RGB, rows top to bottom, pixels interleaved (HWC).
///
/// Every decoder converts to this one form the way PIL's `convert("RGB")`
/// does (alpha dropped, not composited; palettes looked up; gray replicated),
/// because that is what Keras's `load_img` and torchvision hand to a model.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `height * width * 3` bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBImage: \(pixels.count) bytes for \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// The pixel at (x, y) as (r, g, b).
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// The pixels of the rectangle [x0, x0 + w) × [y0, y0 + h), which must lie inside the image.
    public func cropped(x0: Int, y0: Int, width w: Int, height h: Int) -> RGBImage {
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let src = ((y0 + y) * width + x0) * 3
            out.withUnsafeMutableBufferPointer { o in
                pixels.withUnsafeBufferPointer { p in
                    (o.baseAddress! + y * w * 3).update(from: p.baseAddress! + src, count: w * 3)
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// The image formats zoo decodes: those Keras's `image_dataset_from_directory` accepts.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg = "JPEG", png = "PNG", bmp = "BMP", gif = "GIF"

    /// File extensions Keras lists for image datasets (`.jpg .jpeg .png .bmp .gif`), lower-case.
    public static let extensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif"]

    /// The format the leading bytes announce (never the extension alone), or nil.
    public static func sniff(_ b: UnsafeRawBufferPointer) -> ImageFormat? {
        func starts(_ sig: [UInt8]) -> Bool { b.count >= sig.count && zip(b, sig).allSatisfy { $0 == $1 } }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts([0x42, 0x4D]) { return .bmp }
        return nil
    }
}
