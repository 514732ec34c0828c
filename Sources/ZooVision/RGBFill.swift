/// Filling decoded canvases with one colour by copying, not pixel by pixel: a
/// tiny hostile file (a GIF frame or an RLE bitmap) may declare a canvas of
/// hundreds of megabytes whose pixels are almost all that colour.
enum RGBFill {
    /// Writes `pixels` copies of one RGB colour, doubling the filled part each copy.
    static func fill(_ p: UnsafeMutablePointer<UInt8>, pixels: Int, with c: (UInt8, UInt8, UInt8)) {
        guard pixels > 0 else { return }
        p[0] = c.0; p[1] = c.1; p[2] = c.2
        var filled = 3
        let total = pixels * 3
        while filled < total {
            let n = min(filled, total - filled)
            (p + filled).update(from: p, count: n)
            filled += n
        }
    }
}
