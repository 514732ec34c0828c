import Foundation
import Testing
import ZooCore
import ZooTestSupport
@testable import ZooVision

/// Decoded pixels against PIL's `Image.open(p).convert("RGB")` (fixtures/generator/make_vision.py).
@Suite struct DecodingTests {
    nonisolated(unsafe) static let manifest = try! VisionFixtures.json("images.json")
    static let reference = try! NPZ.read(VisionFixtures.url("decoded.npz"))

    static var imageNames: [String] { ((manifest["images"] as! [String: Any]).keys).sorted() }

    @Test(arguments: imageNames)
    func decodedPixelsEqualPIL(_ name: String) throws {
        let info = (Self.manifest["images"] as! [String: Any])[name] as! [String: Any]
        let image = try ImageLoader.load(path: VisionFixtures.url("images/\(name)").path)
        let expected = try #require(Self.reference[name], "no PIL reference for \(name)")
        #expect(expected.shape == [image.height, image.width, 3], "\(name): size")
        guard expected.shape == [image.height, image.width, 3] else { return }
        let want = expected.scalars(as: UInt8.self)
        var maxDiff = 0, differing = 0
        for (a, b) in zip(image.pixels, want) {
            let d = abs(Int(a) - Int(b))
            maxDiff = max(maxDiff, d)
            if d != 0 { differing += 1 }
        }
        if info["format"] as? String == "JPEG" {
            // Same accurate integer IDCT as PIL; libjpeg-turbo versions may differ by one level in upsampling.
            #expect(maxDiff <= 1, "\(name): max difference \(maxDiff) over \(differing) samples")
        } else {
            #expect(maxDiff == 0, "\(name): max difference \(maxDiff) over \(differing) samples")
        }
    }

    @Test func everyFormatAndLayoutIsCovered() {
        let formats = Set((Self.manifest["images"] as! [String: Any]).values.compactMap { ($0 as? [String: Any])?["format"] as? String })
        #expect(formats == ["JPEG", "PNG", "BMP", "GIF"])
        #expect(Self.imageNames.count >= 40)
    }

    static var badNames: [String] { ((manifest["bad"] as! [String: Any]).keys).sorted() }

    @Test(arguments: badNames)
    func damagedFilesAreRefusedNamingTheFile(_ name: String) throws {
        let path = VisionFixtures.url("bad/\(name)").path
        do {
            let image = try ImageLoader.load(path: path)
            Issue.record("\(name) decoded as \(image.width)×\(image.height); expected an error")
        } catch let e as VisionError {
            let message = e.localizedDescription
            #expect(message.hasPrefix(path), "\(name): \(message)")
            #expect(message.count < 400)
            if name.contains("huge") {
                guard case .tooLarge = e else { Issue.record("\(name): \(e) is not tooLarge"); return }
            }
        }
    }

    @Test func sniffingIgnoresTheExtension() throws {
        // A PNG named .jpg is read as the PNG it is.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-vision-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let renamed = dir.appendingPathComponent("really-a-png.jpg")
        try FileManager.default.copyItem(at: VisionFixtures.url("images/png_rgb8.png"), to: renamed)
        let a = try ImageLoader.load(path: renamed.path), b = try ImageLoader.load(path: VisionFixtures.url("images/png_rgb8.png").path)
        #expect(a == b)
        #expect(ImageLoader.format(path: renamed.path) == .png)
    }

    @Test func imageNetClassIndexIsKerasFile() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: VisionFixtures.url("imagenet_class_index.json"))) as! [String: [String]]
        #expect(json.count == 1000)
        #expect(ImageNetClassIndex.entries.count == 1000)
        for (i, e) in ImageNetClassIndex.entries.enumerated() {
            #expect(json[String(i)] == [e.wnid, e.name], "class \(i)")
        }
        #expect(ImageNetClassIndex.entries.first == .init(wnid: "n01440764", name: "tench"))
    }
}
