/// Windows/OS2 bitmaps: 1/4/8-bit palettes (raw, RLE8, RLE4), 16/24/32-bit
/// colour (raw and bitfields), bottom-up and top-down, every header size
/// PIL reads (12, 40, 52, 56, 64, 108, 124 bytes). Channels from bitfields
/// are scaled to 0…255 with integer division, as PIL's unpackers do.
enum BMPDecoder {
    static func decode(_ b: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
        func fail(_ detail: String) -> VisionError { .damaged(path: path, format: "BMP", detail: detail) }
        func u16(_ o: Int) throws -> Int {
            guard o >= 0, o + 2 <= b.count else { throw fail("the header ends early (file truncated)") }
            return Int(b[o]) | Int(b[o + 1]) << 8
        }
        func u32(_ o: Int) throws -> Int {
            guard o >= 0, o + 4 <= b.count else { throw fail("the header ends early (file truncated)") }
            return Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24
        }
        func i32(_ o: Int) throws -> Int { Int(Int32(bitPattern: UInt32(try u32(o)))) }

        let dataOffset = try u32(10)
        let headerSize = try u32(14)
        let width: Int, rawHeight: Int, bits: Int
        var compression = 0, colorsUsed = 0
        var masks: [Int] = []
        let paletteEntrySize: Int
        switch headerSize {
        case 12:
            width = try u16(18); rawHeight = Int(Int16(bitPattern: UInt16(try u16(20)))); bits = try u16(24)
            paletteEntrySize = 3
        case 40, 52, 56, 64, 108, 124:
            width = try i32(18); rawHeight = try i32(22); bits = try u16(28)
            compression = try u32(30); colorsUsed = try u32(46)
            paletteEntrySize = 4
            if compression == 3 || compression == 6 {
                // Masks follow a 40-byte header, or sit inside the larger ones.
                let count = compression == 6 || headerSize >= 56 ? 4 : 3
                masks = try (0..<count).map { try u32(54 + 4 * $0) }
            }
        default:
            throw VisionError.unsupported(path: path, format: "BMP", detail: "a \(headerSize)-byte info header")
        }
        let topDown = rawHeight < 0
        let height = abs(rawHeight)
        guard width > 0, height > 0 else { throw fail("size \(width)×\(rawHeight)") }
        try ImageLoader.checkSize(width, height, path: path)
        guard [1, 4, 8, 16, 24, 32].contains(bits) else { throw VisionError.unsupported(path: path, format: "BMP", detail: "\(bits) bits per pixel") }
        guard [0, 1, 2, 3, 6].contains(compression) else {
            throw VisionError.unsupported(path: path, format: "BMP", detail: "compression \(compression) (JPEG/PNG inside BMP)")
        }
        if compression == 1 && bits != 8 || compression == 2 && bits != 4 { throw fail("RLE compression \(compression) with \(bits) bits per pixel") }
        if compression == 3 || compression == 6, bits != 16 && bits != 32 { throw fail("bitfields with \(bits) bits per pixel") }
        if bits == 16 && masks.isEmpty { masks = [0x7C00, 0x03E0, 0x001F] }
        if bits == 32 && masks.isEmpty { masks = [0xFF0000, 0xFF00, 0xFF] }

        var palette: [(UInt8, UInt8, UInt8)] = []
        if bits <= 8 {
            // PIL refuses a colour count above 65,536 ("Unsupported BMP Palette size").
            guard colorsUsed <= 65_536 else {
                throw VisionError.unsupported(path: path, format: "BMP", detail: "a palette of \(colorsUsed) colours (at most 65,536)")
            }
            let count = colorsUsed > 0 && colorsUsed <= 1 << bits ? colorsUsed : 1 << bits
            let start = 14 + headerSize + (compression == 3 && headerSize == 40 ? 12 : 0)
            for i in 0..<count {
                let o = start + i * paletteEntrySize
                guard o + 3 <= b.count else { break }
                palette.append((b[o + 2], b[o + 1], b[o]))
            }
            guard !palette.isEmpty else { throw fail("no colour table") }
        }
        guard dataOffset > 0, dataOffset < b.count else { throw fail("pixel data offset \(dataOffset) is outside the file") }

        var out = [UInt8](repeating: 0, count: width * height * 3)
        func put(_ x: Int, _ row: Int, _ rgb: (UInt8, UInt8, UInt8)) {
            let y = topDown ? row : height - 1 - row
            let i = (y * width + x) * 3
            out[i] = rgb.0; out[i + 1] = rgb.1; out[i + 2] = rgb.2
        }
        func color(_ index: Int) -> (UInt8, UInt8, UInt8) { index < palette.count ? palette[index] : (0, 0, 0) }

        if compression == 1 || compression == 2 {
            // Unset pixels keep index 0, as in PIL's RLE decoder.
            out.withUnsafeMutableBufferPointer { RGBFill.fill($0.baseAddress!, pixels: width * height, with: color(0)) }
            var p = dataOffset, x = 0, row = 0
            let nibbles = compression == 2
            decoding: while p + 1 < b.count, row < height {
                let n = Int(b[p]), v = Int(b[p + 1])
                p += 2
                if n > 0 {
                    for k in 0..<n where x < width {
                        put(x, row, color(nibbles ? (k % 2 == 0 ? v >> 4 : v & 15) : v)); x += 1
                    }
                    continue
                }
                switch v {
                case 0: x = 0; row += 1
                case 1: break decoding
                case 2:
                    guard p + 1 < b.count else { throw fail("RLE data ends early") }
                    x += Int(b[p]); row += Int(b[p + 1]); p += 2
                default:
                    let bytes = nibbles ? (v + 1) / 2 : v
                    guard p + bytes <= b.count else { throw fail("RLE data ends early (file truncated)") }
                    for k in 0..<v where x < width {
                        let byte = Int(b[p + (nibbles ? k / 2 : k)])
                        put(x, row, color(nibbles ? (k % 2 == 0 ? byte >> 4 : byte & 15) : byte)); x += 1
                    }
                    p += (bytes + 1) & ~1
                }
            }
            return RGBImage(width: width, height: height, pixels: out)
        }

        let stride = (bits * width + 31) / 32 * 4
        guard (b.count - dataOffset) / stride >= height else {
            throw fail("the pixel data ends early (file truncated): \(b.count - dataOffset) bytes for \(height) rows of \(stride)")
        }
        let shifts = masks.map { $0 == 0 ? 0 : $0.trailingZeroBitCount }
        let maxima = zip(masks, shifts).map { $0 >> $1 }
        func scaled(_ pixel: Int, _ c: Int) -> UInt8 {
            guard maxima[c] > 0 else { return 0 }
            return UInt8(((pixel & masks[c]) >> shifts[c]) * 255 / maxima[c])
        }
        for row in 0..<height {
            let base = dataOffset + row * stride
            for x in 0..<width {
                switch bits {
                case 24:
                    let o = base + 3 * x
                    put(x, row, (b[o + 2], b[o + 1], b[o]))
                case 32:
                    let o = base + 4 * x
                    let pixel = Int(b[o]) | Int(b[o + 1]) << 8 | Int(b[o + 2]) << 16 | Int(b[o + 3]) << 24
                    put(x, row, (scaled(pixel, 0), scaled(pixel, 1), scaled(pixel, 2)))
                case 16:
                    let o = base + 2 * x
                    let pixel = Int(b[o]) | Int(b[o + 1]) << 8
                    put(x, row, (scaled(pixel, 0), scaled(pixel, 1), scaled(pixel, 2)))
                default:
                    let bit = x * bits
                    let byte = Int(b[base + bit / 8])
                    let index = (byte >> (8 - bits - bit % 8)) & ((1 << bits) - 1)
                    put(x, row, color(index))
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
