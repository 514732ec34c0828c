import Foundation

/// PIL's resampling filters, by the names Keras's `load_img(interpolation=…)` uses.
public enum Resampling: String, Sendable, CaseIterable, Codable {
    case nearest, bilinear, bicubic, lanczos, box, hamming

    /// Half-width of the filter at scale 1, and the filter itself (PIL's Resample.c filters).
    var support: Double {
        switch self {
        case .nearest, .box: return 0.5
        case .bilinear, .hamming: return 1
        case .bicubic: return 2
        case .lanczos: return 3
        }
    }

    func weight(_ x: Double) -> Double {
        switch self {
        case .nearest, .box: return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear: let a = abs(x); return a < 1 ? 1 - a : 0
        case .hamming:
            let a = abs(x)
            if a == 0 { return 1 }
            if a >= 1 { return 0 }
            let t = a * .pi
            // PIL writes the constants as C floats (0.54f, 0.46f); the rounding shows in results.
            return sin(t) / t * (Double(Float(0.54)) + Double(Float(0.46)) * cos(t))
        case .bicubic:
            let a = abs(x), k = -0.5
            if a < 1 { return ((k + 2) * a - (k + 3)) * a * a + 1 }
            if a < 2 { return (((a - 5) * a + 8) * a - 4) * k }
            return 0
        case .lanczos:
            func sinc(_ v: Double) -> Double { v == 0 ? 1 : sin(v * .pi) / (v * .pi) }
            return x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0
        }
    }
}

/// A region of the source image in pixel coordinates (PIL's resize `box`).
public struct ResizeBox: Sendable, Equatable {
    public var x0, y0, x1, y1: Double
    public init(x0: Double, y0: Double, x1: Double, y1: Double) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
}

extension RGBImage {
    /// The image resized to `width` × `height` exactly as PIL's `Image.resize`
    /// does it: nearest samples pixel centres of the box; the other filters are
    /// PIL's separable convolution (the support widened by the scale when
    /// shrinking, so shrinking antialiases) with 22-bit fixed-point weights and
    /// an 8-bit image between the passes. Pillow 13 runs the vertical pass first
    /// when the height shrinks by more than twice what the width shrinks
    /// (measured against Pillow 13.0.0; docs/PIL-SEMANTICS.md).
    public func resized(width w: Int, height h: Int, filter: Resampling, box: ResizeBox? = nil) -> RGBImage {
        let b = box ?? ResizeBox(x0: 0, y0: 0, x1: Double(width), y1: Double(height))
        if w == width && h == height && b == ResizeBox(x0: 0, y0: 0, x1: Double(width), y1: Double(height)) { return self }
        if filter == .nearest { return nearest(w, h, b) }
        var image = self
        let needH = w != width || b.x0 != 0 || b.x1 != Double(w)
        let needV = h != height || b.y0 != 0 || b.y1 != Double(h)
        let vert = Self.coefficients(inSize: height, from: b.y0, to: b.y1, outSize: h, filter: filter)
        let verticalFirst = needH && needV && h < height && (height - h) > 2 * (width - w)
        if verticalFirst {
            let horiz = Self.coefficients(inSize: width, from: b.x0, to: b.x1, outSize: w, filter: filter)
            return image.vertical(vert, h).horizontal(horiz, w, rows: 0..<h)
        }
        if needH {
            let horiz = Self.coefficients(inSize: width, from: b.x0, to: b.x1, outSize: w, filter: filter)
            // Only the rows the vertical pass reads.
            let first = vert.bounds[0].start
            let last = vert.bounds[h - 1].start + vert.bounds[h - 1].count
            image = image.horizontal(horiz, w, rows: first..<last)
            if needV {
                let shifted = Coefficients(size: vert.size, bounds: vert.bounds.map { ($0.start - first, $0.count) }, weights: vert.weights)
                image = image.vertical(shifted, h)
            }
        } else if needV {
            image = image.vertical(vert, h)
        }
        return image
    }

    private func nearest(_ w: Int, _ h: Int, _ b: ResizeBox) -> RGBImage {
        let sx = (b.x1 - b.x0) / Double(w), sy = (b.y1 - b.y0) / Double(h)
        func coord(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }
        // PIL steps through the box from the first pixel centre, accumulating the scale.
        var xs = [Int](repeating: -1, count: w)
        var xo = b.x0 + sx * 0.5
        for x in 0..<w { xs[x] = coord(xo); xo += sx }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        var yo = b.y0 + sy * 0.5
        for y in 0..<h {
            let yi = coord(yo)
            yo += sy
            guard yi >= 0 && yi < height else { continue }
            for x in 0..<w where xs[x] >= 0 && xs[x] < width {
                let s = (yi * width + xs[x]) * 3, d = (y * w + x) * 3
                out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    struct Coefficients {
        var size: Int
        var bounds: [(start: Int, count: Int)]
        /// `size` fixed-point weights per output pixel.
        var weights: [Int32]
    }

    static let precisionBits = 32 - 8 - 2

    /// PIL's precompute_coeffs + normalize_coeffs_8bpc.
    static func coefficients(inSize: Int, from in0: Double, to in1: Double, outSize: Int, filter: Resampling) -> Coefficients {
        let scale = (in1 - in0) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        let ksize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        var weights = [Int32](repeating: 0, count: outSize * ksize)
        var k = [Double](repeating: 0, count: ksize)
        for xx in 0..<outSize {
            let center = in0 + (Double(xx) + 0.5) * scale
            let ss = 1 / filterScale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var ww = 0.0
            for x in 0..<max(xmax, 0) {
                let v = filter.weight((Double(x + xmin) - center + 0.5) * ss)
                k[x] = v
                ww += v
            }
            for x in 0..<ksize {
                let v = x < xmax && ww != 0 ? k[x] / ww : 0
                let f = v * Double(1 << precisionBits)
                weights[xx * ksize + x] = Int32(v < 0 ? (f - 0.5).rounded(.towardZero) : (f + 0.5).rounded(.towardZero))
            }
            bounds.append((xmin, max(xmax, 0)))
        }
        return Coefficients(size: ksize, bounds: bounds, weights: weights)
    }

    @inline(__always) static func clip8(_ v: Int32) -> UInt8 {
        // PIL's clip8: the sum is 32-bit, shifted down then clamped to 0…255.
        let shifted = v >> Int32(precisionBits)
        return UInt8(truncatingIfNeeded: max(0, min(255, shifted)))
    }

    private func horizontal(_ c: Coefficients, _ w: Int, rows: Range<Int>) -> RGBImage {
        let h = rows.count
        let starts = c.bounds.map(\.start), counts = c.bounds.map(\.count)
        let out = [UInt8](unsafeUninitializedCapacity: w * h * 3) { dst, n in
            pixels.withUnsafeBufferPointer { src in
                c.weights.withUnsafeBufferPointer { k in
                    let bias = Int32(1 << (Self.precisionBits - 1))
                    for (yy, y) in rows.enumerated() {
                        let row = src.baseAddress! + y * width * 3
                        let o = dst.baseAddress! + yy * w * 3
                        for x in 0..<w {
                            let kx = k.baseAddress! + x * c.size
                            var s0 = bias, s1 = bias, s2 = bias
                            var p = row + starts[x] * 3
                            for i in 0..<counts[x] {
                                let wt = kx[i]
                                s0 &+= Int32(p[0]) &* wt; s1 &+= Int32(p[1]) &* wt; s2 &+= Int32(p[2]) &* wt
                                p += 3
                            }
                            o[3 * x] = Self.clip8(s0); o[3 * x + 1] = Self.clip8(s1); o[3 * x + 2] = Self.clip8(s2)
                        }
                    }
                }
            }
            n = w * h * 3
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    private func vertical(_ c: Coefficients, _ h: Int) -> RGBImage {
        let rowBytes = width * 3
        // Row by row: every tap adds a whole source row, so the inner loop is contiguous (and vectorises).
        var acc = [Int32](repeating: 0, count: rowBytes)
        let out = [UInt8](unsafeUninitializedCapacity: rowBytes * h) { dst, n in
            pixels.withUnsafeBufferPointer { src in
                c.weights.withUnsafeBufferPointer { k in
                    acc.withUnsafeMutableBufferPointer { a in
                        let bias = Int32(1 << (Self.precisionBits - 1))
                        for y in 0..<h {
                            let (ymin, taps) = c.bounds[y]
                            for x in 0..<rowBytes { a[x] = bias }
                            for i in 0..<taps {
                                let wt = k[y * c.size + i]
                                let r = src.baseAddress! + (ymin + i) * rowBytes
                                for x in 0..<rowBytes { a[x] &+= Int32(r[x]) &* wt }
                            }
                            let o = dst.baseAddress! + y * rowBytes
                            for x in 0..<rowBytes { o[x] = Self.clip8(a[x]) }
                        }
                    }
                }
            }
            n = rowBytes * h
        }
        return RGBImage(width: width, height: h, pixels: out)
    }
}
