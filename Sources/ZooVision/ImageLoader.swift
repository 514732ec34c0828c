import CZooImage
import Foundation

/// Reads image files into `RGBImage`s the way PIL does (`Image.open(p).convert("RGB")`).
///
/// The format is recognised from the leading bytes, never from the extension.
/// JPEG goes through libjpeg-turbo with PIL's settings (accurate integer IDCT,
/// fancy upsampling), PNG through libpng with no gamma correction (PIL applies
/// none); BMP and GIF are decoded here. Every failure is a `VisionError` that
/// names the file; no input can make a decoder allocate more than
/// `maxPixels` pixels.
public enum ImageLoader {
    /// PIL's `DecompressionBombError` threshold (2 × `Image.MAX_IMAGE_PIXELS`):
    /// larger images are refused before any pixel buffer is allocated.
    public static let maxPixels = 178_956_970
    /// A JPEG with more progressive scans than this is refused (libjpeg-turbo's own advice
    /// against scan bombs is a limit in the hundreds; real encoders write about ten).
    public static let maxProgressiveScans = 500

    /// Reads and decodes the image at `path`.
    public static func load(path: String) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw VisionError.unreadable(path: path, detail: (error as NSError).localizedDescription)
        }
        return try decode(data, path: path)
    }

    /// Decodes an image held in memory; `path` only names it in errors.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> RGBImage {
        try data.withUnsafeBytes { raw in
            guard !raw.isEmpty else { throw VisionError.notAnImage(path: path, detail: "the file is empty") }
            guard let format = ImageFormat.sniff(raw) else {
                throw VisionError.notAnImage(path: path, detail: "unrecognised leading bytes \(raw.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " "))")
            }
            switch format {
            case .jpeg: return try JPEGDecoder(raw, path: path).decode()
            case .png: return try PNGDecoder(raw, path: path).decode()
            case .bmp: return try BMPDecoder.decode(raw, path: path)
            case .gif: return try GIFDecoder.decode(raw, path: path)
            }
        }
    }

    /// The format of the file at `path` from its first bytes, or nil when it is not an image zoo reads.
    public static func format(path: String) -> ImageFormat? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        let head = (try? h.read(upToCount: 16)) ?? Data()
        return head.withUnsafeBytes { ImageFormat.sniff($0) }
    }

    static func checkSize(_ w: Int, _ h: Int, path: String) throws {
        guard w > 0, h > 0 else { throw VisionError.damaged(path: path, format: "image", detail: "size \(w)×\(h)") }
        let (n, overflow) = w.multipliedReportingOverflow(by: h)
        if overflow || n > maxPixels { throw VisionError.tooLarge(path: path, width: w, height: h, limit: maxPixels) }
    }
}

/// Owns one libjpeg decompressor (freed in deinit) over bytes the caller keeps alive.
final class JPEGDecoder {
    private let handle: OpaquePointer
    private let path: String

    init(_ raw: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        guard let h = czoo_jpeg_open(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count) else {
            throw VisionError.damaged(path: path, format: "JPEG", detail: "out of memory")
        }
        handle = h
        if let e = czoo_jpeg_error(h) { throw VisionError.damaged(path: path, format: "JPEG", detail: String(cString: e)) }
    }

    deinit { czoo_jpeg_close(handle) }

    func decode() throws -> RGBImage {
        let info = czoo_jpeg_get_info(handle)
        let w = Int(info.width), h = Int(info.height), c = Int(info.components)
        try ImageLoader.checkSize(w, h, path: path)
        guard [1, 3, 4].contains(c) else {
            throw VisionError.unsupported(path: path, format: "JPEG", detail: "\(c) colour components")
        }
        var status: Int32 = 0
        let raw = [UInt8](unsafeUninitializedCapacity: w * h * c) { buffer, n in
            status = czoo_jpeg_read(handle, buffer.baseAddress, buffer.count, Int32(ImageLoader.maxProgressiveScans))
            // On failure the contents are never used; the count must still cover what is initialised.
            if status != 0 { buffer.initialize(repeating: 0) }
            n = buffer.count
        }
        if status != 0 {
            throw VisionError.damaged(path: path, format: "JPEG", detail: czoo_jpeg_error(handle).map { String(cString: $0) } ?? "decoding failed")
        }
        switch c {
        case 3: return RGBImage(width: w, height: h, pixels: raw)
        case 1: return RGBImage(width: w, height: h, pixels: PixelConversion.grayToRGB(raw))
        default: return RGBImage(width: w, height: h, pixels: PixelConversion.invertedCMYKToRGB(raw))
        }
    }
}

/// Owns one libpng reader (freed in deinit) over bytes the caller keeps alive.
final class PNGDecoder {
    private let handle: OpaquePointer
    private let path: String

    init(_ raw: UnsafeRawBufferPointer, path: String) throws {
        self.path = path
        guard let h = czoo_png_open(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count, 1 << 20) else {
            throw VisionError.damaged(path: path, format: "PNG", detail: "out of memory")
        }
        handle = h
        if let e = czoo_png_error(h) {
            let message = String(cString: e)
            if message.contains("exceeds user limit") || message.contains("too large") {
                throw VisionError.tooLarge(path: path, width: 1 << 20, height: 1 << 20, limit: ImageLoader.maxPixels)
            }
            throw VisionError.damaged(path: path, format: "PNG", detail: message)
        }
    }

    deinit { czoo_png_close(handle) }

    func decode() throws -> RGBImage {
        let info = czoo_png_get_info(handle)
        let w = Int(info.width), h = Int(info.height), c = Int(info.channels), depth = Int(info.bit_depth)
        try ImageLoader.checkSize(w, h, path: path)
        guard (1...4).contains(c), depth == 8 || depth == 16, info.row_bytes == w * c * depth / 8 else {
            throw VisionError.unsupported(path: path, format: "PNG", detail: "\(c) channels of \(depth) bits")
        }
        var raw = [UInt8](repeating: 0, count: info.row_bytes * h)
        let status = raw.withUnsafeMutableBufferPointer { czoo_png_read(handle, $0.baseAddress, $0.count) }
        if status != 0 {
            throw VisionError.damaged(path: path, format: "PNG", detail: czoo_png_error(handle).map { String(cString: $0) } ?? "decoding failed")
        }
        return RGBImage(width: w, height: h, pixels: PixelConversion.pngToRGB(raw, channels: c, depth: depth, grayFrom16: info.file_color_type == 0))
    }
}

/// PIL's conversions to RGB, one place for every decoder.
enum PixelConversion {
    static func grayToRGB(_ g: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: g.count * 3)
        out.withUnsafeMutableBufferPointer { o in
            for (i, v) in g.enumerated() { o[3 * i] = v; o[3 * i + 1] = v; o[3 * i + 2] = v }
        }
        return out
    }

    /// PIL reads every CMYK JPEG as Adobe-inverted ("CMYK;I") and converts with
    /// `cmyk2rgb`: channel = k' − k'·c/255 (rounded as PIL's MULDIV255), k' = 255 − k.
    static func invertedCMYKToRGB(_ raw: [UInt8]) -> [UInt8] {
        let n = raw.count / 4
        var out = [UInt8](repeating: 0, count: n * 3)
        func muldiv255(_ a: Int, _ b: Int) -> Int { let t = a * b + 128; return ((t >> 8) + t) >> 8 }
        for i in 0..<n {
            let c = 255 - Int(raw[4 * i]), m = 255 - Int(raw[4 * i + 1]), y = 255 - Int(raw[4 * i + 2]), k = 255 - Int(raw[4 * i + 3])
            let nk = 255 - k
            out[3 * i] = UInt8(clamping: nk - muldiv255(c, nk))
            out[3 * i + 1] = UInt8(clamping: nk - muldiv255(m, nk))
            out[3 * i + 2] = UInt8(clamping: nk - muldiv255(y, nk))
        }
        return out
    }

    /// libpng's expanded samples to RGB as PIL converts them: alpha dropped,
    /// 16-bit colour and gray+alpha keep the high byte, 16-bit gray (PIL's
    /// "I;16") clips at 255.
    static func pngToRGB(_ raw: [UInt8], channels c: Int, depth: Int, grayFrom16: Bool) -> [UInt8] {
        let bytes = depth / 8
        let n = raw.count / (c * bytes)
        var out = [UInt8](repeating: 0, count: n * 3)
        raw.withUnsafeBufferPointer { r in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<n {
                    let base = i * c * bytes
                    func sample(_ ch: Int) -> UInt8 {
                        if bytes == 1 { return r[base + ch] }
                        if c == 1 && grayFrom16 {
                            let v = Int(r[base]) << 8 | Int(r[base + 1])
                            return UInt8(min(v, 255))
                        }
                        return r[base + ch * 2]
                    }
                    if c <= 2 {
                        let v = sample(0)
                        o[3 * i] = v; o[3 * i + 1] = v; o[3 * i + 2] = v
                    } else {
                        o[3 * i] = sample(0); o[3 * i + 1] = sample(1); o[3 * i + 2] = sample(2)
                    }
                }
            }
        }
        return out
    }
}
