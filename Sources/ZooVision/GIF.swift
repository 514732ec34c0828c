/// The first frame of a GIF (87a/89a), as PIL presents it: a canvas of the
/// logical screen size, the frame's pixels at its offset through its own
/// (local) or the global colour table, interlaced rows put back in order.
enum GIFDecoder {
    static func decode(_ b: UnsafeRawBufferPointer, path: String) throws -> RGBImage {
        func fail(_ detail: String) -> VisionError { .damaged(path: path, format: "GIF", detail: detail) }
        var p = 6
        func byte() throws -> Int {
            guard p < b.count else { throw fail("the data ends early (file truncated)") }
            defer { p += 1 }
            return Int(b[p])
        }
        func u16() throws -> Int { let lo = try byte(); return lo | (try byte()) << 8 }
        func table(_ size: Int) throws -> [(UInt8, UInt8, UInt8)] {
            guard p + 3 * size <= b.count else { throw fail("the colour table ends early (file truncated)") }
            defer { p += 3 * size }
            return (0..<size).map { (b[p + 3 * $0], b[p + 3 * $0 + 1], b[p + 3 * $0 + 2]) }
        }
        func skipSubBlocks() throws {
            while true {
                let n = try byte()
                if n == 0 { return }
                p += n
                guard p <= b.count else { throw fail("a data block ends early (file truncated)") }
            }
        }

        let screenW = try u16(), screenH = try u16()
        let flags = try byte()
        _ = try byte() // background colour index: PIL does not use it for the first frame
        _ = try byte()
        let global = flags & 0x80 != 0 ? try table(2 << (flags & 7)) : []
        var transparent: Int?
        while true {
            let kind = try byte()
            switch kind {
            case 0x21:
                let label = try byte()
                if label == 0xF9 {
                    let n = try byte()
                    guard n >= 4, p + n <= b.count else { throw fail("a graphic control block is malformed") }
                    if b[p] & 1 != 0 { transparent = Int(b[p + 3]) }
                    p += n
                }
                try skipSubBlocks()
            case 0x2C:
                let left = try u16(), top = try u16(), w = try u16(), h = try u16()
                let f = try byte()
                let local = f & 0x80 != 0 ? try table(2 << (f & 7)) : nil
                let interlaced = f & 0x40 != 0
                let palette = local ?? global
                guard !palette.isEmpty else { throw fail("the first frame has no colour table") }
                let canvasW = max(screenW, left + w), canvasH = max(screenH, top + h)
                try ImageLoader.checkSize(canvasW, canvasH, path: path)
                guard w > 0, h > 0 else { throw fail("the first frame is \(w)×\(h)") }
                let minCode = try byte()
                guard (2...11).contains(minCode) else { throw fail("LZW code size \(minCode)") }
                var data: [UInt8] = []
                while true {
                    let n = try byte()
                    if n == 0 { break }
                    guard p + n <= b.count else { throw fail("the image data ends early (file truncated)") }
                    data.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[p..<(p + n)]))
                    p += n
                }
                let (indices, decoded) = try lzw(data, minCode: minCode, count: w * h, fail: fail)
                // PIL refuses a frame whose stream yields no pixel at all ("image file is truncated").
                guard decoded > 0 else { throw fail("the first frame (\(w)×\(h)) has no image data") }
                // Outside the frame PIL shows the transparent index if there is one, else index 0
                // (not the background colour); inside it, pixels past the end of a short stream are
                // index 0. Both are filled by copying, so a tiny file declaring a huge frame costs
                // one pass over the canvas, not one palette lookup per pixel.
                let colour = { (i: Int) -> (UInt8, UInt8, UInt8) in i < palette.count ? palette[i] : (0, 0, 0) }
                let outside = colour(transparent ?? 0), zero = colour(0)
                let rows = interlaced ? interlacedRows(h) : Array(0..<h)
                let canvas = [UInt8](unsafeUninitializedCapacity: canvasW * canvasH * 3) { buffer, n in
                    let base = buffer.baseAddress!
                    RGBFill.fill(base, pixels: canvasW * canvasH, with: outside)
                    for (k, row) in rows.enumerated() {
                        let o = ((top + row) * canvasW + left) * 3
                        let given = min(w, max(0, decoded - k * w))
                        for x in 0..<given {
                            let c = colour(Int(indices[k * w + x]))
                            base[o + 3 * x] = c.0; base[o + 3 * x + 1] = c.1; base[o + 3 * x + 2] = c.2
                        }
                        if given < w && zero != outside { RGBFill.fill(base + o + 3 * given, pixels: w - given, with: zero) }
                    }
                    n = buffer.count
                }
                return RGBImage(width: canvasW, height: canvasH, pixels: canvas)
            case 0x3B:
                throw fail("no image in the file")
            default:
                throw fail("unknown block 0x\(String(kind, radix: 16))")
            }
        }
    }

    /// Stored row order of an interlaced image of height h (passes 0/8, 4/8, 2/4, 1/2).
    static func interlacedRows(_ h: Int) -> [Int] {
        var rows: [Int] = []
        for (start, step) in [(0, 8), (4, 8), (2, 4), (1, 2)] { rows += stride(from: start, to: h, by: step) }
        return rows
    }

    /// GIF's variable-width LZW. Stops after `count` indices and returns how many
    /// the stream gave; a short stream leaves the rest as index 0 (as browsers and
    /// PIL show truncated frames).
    static func lzw(_ data: [UInt8], minCode: Int, count: Int, fail: (String) -> VisionError) throws -> (indices: [UInt8], decoded: Int) {
        let clear = 1 << minCode, end = clear + 1
        var prefix = [Int](repeating: -1, count: 4096)
        var suffix = [UInt8](repeating: 0, count: 4096)
        var first = [UInt8](repeating: 0, count: 4096)
        for i in 0..<clear { suffix[i] = UInt8(truncatingIfNeeded: i); first[i] = UInt8(truncatingIfNeeded: i) }
        var out = [UInt8](repeating: 0, count: count)
        var written = 0
        var size = minCode + 1, next = end + 1, previous = -1
        var bitBuffer = 0, bitCount = 0, position = 0
        var stack = [UInt8](repeating: 0, count: 4096)
        while written < count {
            while bitCount < size {
                guard position < data.count else { return (out, written) }
                bitBuffer |= Int(data[position]) << bitCount
                position += 1
                bitCount += 8
            }
            let code = bitBuffer & ((1 << size) - 1)
            bitBuffer >>= size
            bitCount -= size
            if code == clear {
                size = minCode + 1; next = end + 1; previous = -1
                continue
            }
            if code == end { break }
            var entry: Int
            if code < next && (code < clear || prefix[code] >= 0 || code > end) {
                entry = code
            } else if code == next && previous >= 0 {
                entry = -1
            } else {
                throw fail("invalid LZW code \(code)")
            }
            if previous < 0 && entry < 0 { throw fail("invalid LZW code \(code)") }
            // Add previous + first(current) to the table.
            if previous >= 0 && next < 4096 {
                prefix[next] = previous
                suffix[next] = entry >= 0 ? first[entry] : first[previous]
                first[next] = first[previous]
                next += 1
                if next == 1 << size && size < 12 { size += 1 }
            }
            if entry < 0 { entry = next - 1 }
            // Emit the string of `entry`.
            var depth = 0, c = entry
            while c >= 0 && depth < 4096 {
                stack[depth] = suffix[c]
                depth += 1
                c = c < clear ? -1 : prefix[c]
            }
            while depth > 0 && written < count {
                depth -= 1
                out[written] = stack[depth]
                written += 1
            }
            previous = entry
        }
        return (out, written)
    }
}
