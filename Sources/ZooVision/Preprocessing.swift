import Foundation
import ZooCore

/// How decoded pixels become a model's input tensor, exactly as the source
/// framework prepares them.
///
/// Two pipelines exist in the wild and they give different numbers, so the
/// recipe names one:
/// - **Keras** (`caffe`, `tf`, `torch`, `none`): `keras.utils.load_img(path,
///   target_size=size)` (PIL resize straight to the size, nearest by default;
///   with `keep_aspect_ratio`, a centred crop to the target's aspect first),
///   then `imagenet_utils.preprocess_input(x, mode)`.
/// - **torchvision** (`torchvision`): `Resize(shorter)` (bilinear, antialiased:
///   PIL's BILINEAR), `CenterCrop(size)` (zero-padded when larger), `ToTensor`,
///   `Normalize(ImageNet mean, std)`.
///
/// The model card says which (`ModelCard.Preprocessing`); a user's own model
/// takes it from the command line. The layout (NHWC or NCHW) follows the
/// model's input.
public struct Preprocessing: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case caffe, tf, torch, torchvision, none
    }
    public enum Layout: String, Sendable { case nhwc = "NHWC", nchw = "NCHW" }
    public enum Resize: String, Sendable {
        /// Straight to the size, ignoring the aspect ratio (Keras `load_img`).
        case stretch
        /// Shorter side to `shorterSide`, then a centred crop (torchvision).
        case shorterSide = "shorter-side"
        /// Centred crop to the target's aspect ratio, then resize (Keras `keep_aspect_ratio=True`).
        case aspectCrop = "aspect-crop"
    }

    public var mode: Mode
    /// Network input height and width.
    public var height: Int
    public var width: Int
    public var resize: Resize
    /// For `.shorterSide`: the shorter side after resizing (torchvision's `resize_size`).
    public var shorterSide: Int?
    public var interpolation: Resampling
    public var layout: Layout

    public init(mode: Mode, height: Int, width: Int, layout: Layout = .nhwc, resize: Resize? = nil,
                shorterSide: Int? = nil, interpolation: Resampling? = nil) throws {
        guard height > 0, width > 0, height <= 16384, width <= 16384 else {
            throw VisionError.invalidPreprocessing(detail: "input size \(height)×\(width) must be between 1 and 16384")
        }
        self.mode = mode
        self.height = height
        self.width = width
        self.layout = layout
        let r = resize ?? (mode == .torchvision || shorterSide != nil ? .shorterSide : .stretch)
        self.resize = r
        if r == .shorterSide {
            // torchvision's ImageNet recipe: 256 for 224 (crop ratio 0.875), 342 for 299.
            let s = shorterSide ?? Int((Double(min(height, width)) / 0.875).rounded())
            guard s > 0, s <= 16384 else { throw VisionError.invalidPreprocessing(detail: "resize size \(s) must be between 1 and 16384") }
            self.shorterSide = s
        } else {
            self.shorterSide = nil
        }
        self.interpolation = interpolation ?? (r == .shorterSide ? .bilinear : .nearest)
    }

    /// The recipe a model card describes, or nil when the card has none. `size`
    /// and `mode` override the card (a user's own model); otherwise a fixed
    /// input shape supplies the size.
    public static func from(card: ModelCard, mode: Mode? = nil, size: (Int, Int)? = nil) throws -> Preprocessing {
        guard let input = card.inputs.first else {
            throw VisionError.invalidPreprocessing(detail: "the model has no inputs, so it cannot take images")
        }
        let shape = input.shape
        guard shape.count == 4 else {
            throw VisionError.invalidPreprocessing(detail: "input '\(input.name)' has shape \(shape.map(\.description)); an image model takes a 4-D batch (NHWC or NCHW)")
        }
        let layout: Layout
        switch input.layout {
        case "NHWC": layout = .nhwc
        case "NCHW": layout = .nchw
        default:
            if shape[3].value == 3 { layout = .nhwc } else if shape[1].value == 3 { layout = .nchw } else {
                throw VisionError.invalidPreprocessing(detail: "cannot tell whether input '\(input.name)' is NHWC or NCHW; its channel dimension is not 3")
            }
        }
        let channels = layout == .nhwc ? shape[3] : shape[1]
        if let c = channels.value, c != 3 {
            throw VisionError.invalidPreprocessing(detail: "input '\(input.name)' takes \(c) channels; images give 3 (RGB)")
        }
        let p = card.preprocessing
        let chosenMode: Mode
        if let mode { chosenMode = mode } else if let m = p?.mode {
            guard let known = Mode(rawValue: m) else {
                throw VisionError.invalidPreprocessing(detail: "the card's mode '\(m)' is not one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            // A card in torch mode with a shorter-side resize is torchvision's recipe.
            chosenMode = known == .torch && (p?.resizeShorterSide != nil || p?.resize == "shorter-side") ? .torchvision : known
        } else {
            throw VisionError.invalidPreprocessing(detail: "the model card does not say how to prepare images; pass --preprocess caffe|tf|torch|torchvision|none")
        }
        let hw: (Int, Int)
        if let size { hw = size } else if let s = p?.inputSize, s.count == 2 { hw = (s[0], s[1]) } else {
            let (hd, wd) = layout == .nhwc ? (shape[1], shape[2]) : (shape[2], shape[3])
            guard let h = hd.value, let w = wd.value else {
                throw VisionError.invalidPreprocessing(detail: "input '\(input.name)' takes any image size and the card names none; pass --size H,W")
            }
            hw = (h, w)
        }
        let resize = p?.resize.flatMap(Resize.init(rawValue:))
        let interpolation = try p?.interpolation.map { name -> Resampling in
            guard let r = Resampling(rawValue: name) else { throw VisionError.invalidPreprocessing(detail: "unknown interpolation '\(name)'") }
            return r
        }
        return try Preprocessing(mode: chosenMode, height: hw.0, width: hw.1, layout: layout,
                                 resize: mode == nil ? resize : nil, shorterSide: mode == nil || mode == .torchvision ? p?.resizeShorterSide : nil,
                                 interpolation: mode == nil ? interpolation : nil)
    }

    /// What to record in a model card so `from(card:)` gives this recipe back.
    public var cardValue: ModelCard.Preprocessing {
        var p = ModelCard.Preprocessing(mode: mode.rawValue, inputSize: [height, width])
        switch mode {
        case .caffe: p.channelOrder = "BGR"; p.scale = 1; p.mean = Self.caffeMean
        case .tf: p.channelOrder = "RGB"; p.scale = 1 / 127.5; p.mean = [1, 1, 1]
        case .torch, .torchvision: p.channelOrder = "RGB"; p.scale = 1 / 255; p.mean = Self.imagenetMean; p.std = Self.imagenetStd
        case .none: p.channelOrder = "RGB"
        }
        p.resize = resize.rawValue
        p.resizeShorterSide = shorterSide
        if interpolation != (resize == .shorterSide ? .bilinear : .nearest) { p.interpolation = interpolation.rawValue }
        return p
    }

    /// The card record for `mode` (and `size`, when the model takes any size): what
    /// `zoo convert --preprocess MODE --size H,W` writes.
    public static func card(mode: Mode, size: (Int, Int)?) throws -> ModelCard.Preprocessing {
        var p = try Preprocessing(mode: mode, height: size?.0 ?? 224, width: size?.1 ?? 224).cardValue
        if size == nil {
            p.inputSize = nil
            if mode == .torchvision { p.resizeShorterSide = nil }
        }
        return p
    }

    static let caffeMean: [Float] = [103.939, 116.779, 123.68]
    static let imagenetMean: [Float] = [0.485, 0.456, 0.406]
    static let imagenetStd: [Float] = [0.229, 0.224, 0.225]

    /// The pixels the network sees, before the float arithmetic: resized (and cropped) to the input size.
    public func pixels(_ image: RGBImage) -> RGBImage {
        switch resize {
        case .stretch:
            return image.resized(width: width, height: height, filter: interpolation)
        case .aspectCrop:
            // keras.utils.load_img(keep_aspect_ratio=True): integer crop box centred on the image.
            let cropH = min(image.height, image.width * height / width)
            let cropW = min(image.width, image.height * width / height)
            let y0 = (image.height - cropH) / 2, x0 = (image.width - cropW) / 2
            return image.resized(width: width, height: height, filter: interpolation,
                                 box: ResizeBox(x0: Double(x0), y0: Double(y0), x1: Double(x0 + cropW), y1: Double(y0 + cropH)))
        case .shorterSide:
            let s = shorterSide!
            // torchvision: the shorter side becomes s, the longer int(s * long / short).
            let (w, h): (Int, Int) = image.width <= image.height
                ? (s, Int(Double(s) * Double(image.height) / Double(image.width)))
                : (Int(Double(s) * Double(image.width) / Double(image.height)), s)
            return Self.centerCrop(image.resized(width: w, height: h, filter: interpolation), width: width, height: height)
        }
    }

    /// torchvision's CenterCrop: zero padding when the crop is larger, then offsets `int(round((H − crop) / 2))`.
    static func centerCrop(_ image: RGBImage, width cw: Int, height ch: Int) -> RGBImage {
        var img = image
        if cw > img.width || ch > img.height {
            let padL = max(0, (cw - img.width) / 2), padT = max(0, (ch - img.height) / 2)
            let padR = max(0, (cw - img.width + 1) / 2), padB = max(0, (ch - img.height + 1) / 2)
            let nw = img.width + padL + padR, nh = img.height + padT + padB
            var out = [UInt8](repeating: 0, count: nw * nh * 3)
            for y in 0..<img.height {
                let s = y * img.width * 3, d = ((y + padT) * nw + padL) * 3
                for i in 0..<(img.width * 3) { out[d + i] = img.pixels[s + i] }
            }
            img = RGBImage(width: nw, height: nh, pixels: out)
            if nw == cw && nh == ch { return img }
        }
        let top = Int((Double(img.height - ch) / 2).rounded(.toNearestOrEven))
        let left = Int((Double(img.width - cw) / 2).rounded(.toNearestOrEven))
        return img.cropped(x0: left, y0: top, width: cw, height: ch)
    }

    /// Writes the network input for `image` (already at the input size) into
    /// `out` (height × width × 3 floats) in the model's layout, with the
    /// framework's float arithmetic in its order (float32 throughout).
    public func write(_ image: RGBImage, into out: UnsafeMutablePointer<Float>) {
        precondition(image.width == width && image.height == height)
        let n = width * height
        // Each output is a function of one 8-bit sample and its channel: a table
        // computed with the framework's operations, in its order, gives the same floats.
        let table = lookup
        let order = mode == .caffe ? [2, 1, 0] : [0, 1, 2]
        image.pixels.withUnsafeBufferPointer { px in
            table.withUnsafeBufferPointer { t in
                if layout == .nchw {
                    for c in 0..<3 {
                        let dst = out + order[c] * n, tc = t.baseAddress! + c * 256
                        for i in 0..<n { dst[i] = tc[Int(px[3 * i + c])] }
                    }
                } else {
                    for i in 0..<n {
                        for c in 0..<3 { out[3 * i + order[c]] = t[c * 256 + Int(px[3 * i + c])] }
                    }
                }
            }
        }
    }

    /// The float each 8-bit value of each input channel (RGB) becomes.
    var lookup: [Float] {
        var t = [Float](repeating: 0, count: 768)
        for c in 0..<3 {
            for v in 0..<256 {
                var x = Float(v)
                switch mode {
                case .caffe:
                    // RGB→BGR, then the BGR mean: input channel c lands in 2 − c.
                    x -= Self.caffeMean[2 - c]
                case .tf:
                    x /= 127.5
                    x -= 1
                case .torch, .torchvision:
                    x /= 255
                    x -= Self.imagenetMean[c]
                    x /= Self.imagenetStd[c]
                case .none:
                    break
                }
                t[c * 256 + v] = x
            }
        }
        return t
    }

    /// The batch tensor for `images` (decoded, any size): N × H × W × 3 or N × 3 × H × W.
    public func tensor(_ images: [RGBImage]) throws -> Tensor {
        let per = width * height * 3
        var values = [Float](repeating: 0, count: per * images.count)
        values.withUnsafeMutableBufferPointer { v in
            for (k, image) in images.enumerated() { write(pixels(image), into: v.baseAddress! + k * per) }
        }
        return try Tensor(floats: values, shape: layout == .nhwc ? [images.count, height, width, 3] : [images.count, 3, height, width])
    }
}
