import Foundation
import Testing
import ZooCore
import ZooTestSupport
@testable import ZooVision

/// Preprocessed tensors against Keras (`load_img` + `preprocess_input`) and torchvision's ImageNet transform.
@Suite struct PreprocessingTests {
    nonisolated(unsafe) static let keras = try! VisionFixtures.json("preprocess.json")
    nonisolated(unsafe) static let torch = try! VisionFixtures.json("preprocess_torch.json")
    static let kerasArrays = try! NPZ.read(VisionFixtures.url("preprocess.npz"))
    static let torchArrays = try! NPZ.read(VisionFixtures.url("preprocess_torch.npz"))

    static var kerasCases: [String] { (keras["cases"] as! [[String: Any]]).map { $0["key"] as! String } }
    static var torchCases: [String] { (torch["cases"] as! [[String: Any]]).map { $0["key"] as! String } }

    static func values(_ t: Tensor) -> [Float] {
        t.dtype == .u8 ? t.scalars(as: UInt8.self).map(Float.init) : t.scalars(as: Float.self)
    }

    func compare(_ got: [Float], _ want: [Float], tolerance: Float, _ key: String) {
        #expect(got.count == want.count, "\(key): \(got.count) values, expected \(want.count)")
        var worst: Float = 0, at = 0
        for (i, (a, b)) in zip(got, want).enumerated() where abs(a - b) > worst { worst = abs(a - b); at = i }
        #expect(worst <= tolerance, "\(key): max difference \(worst) at element \(at)")
    }

    @Test(arguments: kerasCases)
    func kerasLoadImgAndPreprocessInput(_ key: String) throws {
        let c = (Self.keras["cases"] as! [[String: Any]]).first { $0["key"] as? String == key }!
        let size = c["target_size"] as! [Int]
        let image = try ImageLoader.load(path: VisionFixtures.url("images/\(c["source"] as! String)").path)
        let mode = (c["mode"] as? String).flatMap(Preprocessing.Mode.init(rawValue:)) ?? .none
        let p = try Preprocessing(mode: mode, height: size[0], width: size[1], layout: .nhwc,
                                  resize: (c["keep_aspect_ratio"] as? Bool) == true ? .aspectCrop : .stretch,
                                  interpolation: Resampling(rawValue: c["interpolation"] as! String)!)
        let want = Self.values(try #require(Self.kerasArrays[key]))
        if c["stage"] as? String == "pixels" {
            // Resizing is PIL's, bit for bit: nearest and every convolution filter.
            compare(p.pixels(image).pixels.map(Float.init), want, tolerance: 0, key)
        } else {
            compare(try p.tensor([image]).scalars(as: Float.self), want, tolerance: 1e-5, key)
        }
    }

    @Test(arguments: torchCases)
    func torchvisionImageNetTransform(_ key: String) throws {
        let c = (Self.torch["cases"] as! [[String: Any]]).first { $0["key"] as? String == key }!
        let crop = c["crop_size"] as! Int
        let filter = Resampling(rawValue: c["interpolation"] as! String)!
        let image = try ImageLoader.load(path: VisionFixtures.url("images/\(c["source"] as! String)").path)
        var p = try Preprocessing(mode: .torchvision, height: crop, width: crop, layout: .nchw, shorterSide: c["resize_size"] as? Int, interpolation: filter)
        if let pair = c["resize_size"] as? [Int] {
            // Resize((h, w)) is a stretch to that size, then the crop.
            let stretched = image.resized(width: pair[1], height: pair[0], filter: filter)
            p = try Preprocessing(mode: .torchvision, height: crop, width: crop, layout: .nchw, resize: .shorterSide, shorterSide: min(pair[0], pair[1]), interpolation: filter)
            let pixels = Preprocessing.centerCrop(stretched, width: crop, height: crop)
            try check(c, key, pixels: pixels, p)
            return
        }
        try check(c, key, pixels: p.pixels(image), p)
    }

    func check(_ c: [String: Any], _ key: String, pixels: RGBImage, _ p: Preprocessing) throws {
        let want = Self.values(try #require(Self.torchArrays[key]))
        if c["stage"] as? String == "pixels" {
            compare(pixels.pixels.map(Float.init), want, tolerance: 0, key)
        } else {
            var out = [Float](repeating: 0, count: p.width * p.height * 3)
            out.withUnsafeMutableBufferPointer { p.write(pixels, into: $0.baseAddress!) }
            compare(out, want, tolerance: 1e-5, key)
        }
    }

    @Test func cardRecipeRoundTrips() throws {
        for mode in Preprocessing.Mode.allCases {
            let p = try Preprocessing(mode: mode, height: 224, width: 224, layout: .nchw)
            let card = ModelCard(name: "m", inputs: [.init(name: "x", dtype: .f32, shape: [.symbolic("N"), .fixed(3), .fixed(224), .fixed(224)], layout: "NCHW")],
                                 preprocessing: p.cardValue)
            #expect(try Preprocessing.from(card: card) == p, "\(mode)")
        }
        // torchvision's ImageNet recipe for 224 resizes the shorter side to 256.
        #expect(try Preprocessing(mode: .torchvision, height: 224, width: 224).shorterSide == 256)
    }

    @Test func aModelWithoutARecipeAsksForOne() throws {
        let card = ModelCard(name: "mine", inputs: [.init(name: "x", dtype: .f32, shape: [.symbolic("N"), .symbolic("H"), .symbolic("W"), .fixed(3)])])
        #expect(throws: VisionError.self) { try Preprocessing.from(card: card) }
        #expect(throws: VisionError.self) { try Preprocessing.from(card: card, mode: .tf) }
        let p = try Preprocessing.from(card: card, mode: .tf, size: (64, 48))
        #expect(p.layout == .nhwc && p.height == 64 && p.width == 48)
        let vector = ModelCard(name: "mlp", inputs: [.init(name: "x", dtype: .f32, shape: [.symbolic("N"), .fixed(4)])])
        #expect(throws: VisionError.self) { try Preprocessing.from(card: vector, mode: .tf, size: (8, 8)) }
    }
}
