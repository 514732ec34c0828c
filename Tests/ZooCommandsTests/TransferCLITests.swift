import Foundation
import Testing
import ZooCore
import ZooFormat
import ZooTestSupport

/// `zoo classify`, `zoo features` and `zoo fit` end to end through the binary.
@Suite struct TransferCLITests {
    static let vision = CLI.repoRoot.appendingPathComponent("fixtures/vision")
    static func path(_ p: String) -> String { vision.appendingPathComponent(p).path }

    func json(_ s: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(s.utf8))) as? [String: Any] ?? [:] }

    @Test func fitFeaturesAndClassifyThroughTheCLI() throws {
        let dir = try Scratch(), home = try Scratch()
        let env = ["ZOO_HOME": home.url.path]
        let backbone = dir.url.appendingPathComponent("backbone.zoo").path
        let c = try CLI.run(["convert", Self.path("backbone.keras"), "-o", backbone, "--preprocess", "tf", "--size", "64,64"])
        #expect(c.status == 0, "\(c.stderr)")
        let info = try CLI.run(["inspect", backbone])
        #expect(info.stdout.contains("mode tf, size 64×64"), "\(info.stdout)")

        let f = try CLI.run(["fit", backbone, Self.path("demo/train"), "--val", Self.path("demo/val"), "--name", "shapes", "--json"], env: env)
        #expect(f.status == 0, "\(f.stderr)")
        let report = json(f.stdout)
        let val = try #require(report["valAccuracy"] as? Double)
        #expect(val >= 0.9)
        #expect((report["history"] as? [Any])?.count == report["epochs"] as? Int)
        #expect(report["classes"] as? [String] == ["blobs", "checkers", "circles", "stripes"])

        let k = try CLI.run(["classify", "shapes", Self.path("demo/test"), "--top", "1", "--json"], env: env)
        #expect(k.status == 0, "\(k.stderr)")
        let predictions = json(k.stdout)["predictions"] as? [[String: Any]] ?? []
        #expect(predictions.count == 8)
        let right = predictions.filter { p in
            let truth = ((p["path"] as! String) as NSString).lastPathComponent.split(separator: "_")[0]
            return ((p["top"] as? [[String: Any]])?.first?["label"] as? String) == String(truth)
        }.count
        #expect(right >= 6, "\(right) of 8 held-out images right")
        let text = try CLI.run(["classify", "shapes", Self.path("demo/test/stripes_1.jpg")], env: env)
        #expect(text.stdout.contains("1. stripes"), "\(text.stdout)")

        let out = dir.url.appendingPathComponent("f.npz")
        let e = try CLI.run(["features", backbone, Self.path("demo/val"), "-o", out.path, "--batch", "7"], env: env)
        #expect(e.status == 0, "\(e.stderr)")
        let arrays = try NPZ.read(out), strings = try NPZ.strings(out)
        #expect(arrays["features"]?.shape == [40, 64])
        #expect(arrays["labels"]?.scalars(as: Int64.self) == (0..<4).flatMap { Array(repeating: Int64($0), count: 10) })
        #expect(strings["classes"] == ["blobs", "checkers", "circles", "stripes"])
        #expect(strings["paths"]?.first?.hasSuffix("demo/val/blobs/000.jpg") == true)
        let maps = try CLI.run(["features", backbone, Self.path("demo/test/blobs_1.jpg"), "--pool", "none", "-o", out.path], env: env)
        #expect(maps.status == 0, "\(maps.stderr)")
        #expect(try NPZ.read(out)["features"]?.shape == [1, 8, 8, 64])
    }

    @Test func anImageNetModelAnswersWithWordNetIdsAndNames() throws {
        let home = try Scratch(), dir = try Scratch()
        let top = CLI.repoRoot.appendingPathComponent("fixtures/keras/applications/mobilenet_0_25_top.h5").path
        let sha = try SourceDigest(file: MappedFile(path: top)).value()
        try FileManager.default.copyItem(atPath: top, toPath: dir.url.appendingPathComponent("mobilenet_top").path)
        let catalog = dir.url.appendingPathComponent("catalog.json")
        try Data("""
            {"schema": 1, "models": [{"name": "mobilenet-small", "task": "image-classification", "format": "keras-h5", "labels": "imagenet-1k",
              "preprocessing": {"mode": "tf", "inputSize": [224, 224]},
              "sources": [{"fixture": "mobilenet_top", "sha256": "\(sha)"}]}]}
            """.utf8).write(to: catalog)
        let env = ["ZOO_HOME": home.url.path]
        let p = try CLI.run(["pull", "mobilenet-small", "--catalog", catalog.path], env: env)
        #expect(p.status == 0, "\(p.stderr)")
        let info = try CLI.run(["inspect", "mobilenet-small"], env: env)
        #expect(info.stdout.contains("1000 classes (tench, goldfish, great_white_shark"), "\(info.stdout)")
        let k = try CLI.run(["classify", "mobilenet-small", Self.path("images/photo.jpg"), "--top", "3", "--json"], env: env)
        #expect(k.status == 0, "\(k.stderr)")
        let top3 = ((json(k.stdout)["predictions"] as? [[String: Any]])?.first?["top"] as? [[String: Any]]) ?? []
        #expect(top3.count == 3)
        for l in top3 {
            let wnid = l["wnid"] as? String ?? ""
            #expect(wnid.hasPrefix("n") && wnid.count == 9, "\(l)")
            #expect((l["label"] as? String)?.isEmpty == false)
        }
    }

    @Test func missingRecipesAndBadFilesAreClearErrors() throws {
        let dir = try Scratch(), home = try Scratch()
        let env = ["ZOO_HOME": home.url.path]
        let backbone = dir.url.appendingPathComponent("b.zoo").path
        _ = try CLI.run(["convert", Self.path("backbone.keras"), "-o", backbone])
        // (None, None, 3) input and no recipe: the user must say how.
        let r = try CLI.run(["features", backbone, Self.path("demo/test"), "-o", dir.url.appendingPathComponent("x.npz").path], env: env)
        #expect(r.status == 65 && r.stderr.contains("--preprocess"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("x.npz").path))
        // A damaged file among good ones: named, or skipped and counted.
        let images = dir.url.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.path("demo/test/blobs_1.jpg"), toPath: images.appendingPathComponent("a.jpg").path)
        try FileManager.default.copyItem(atPath: Self.path("bad/truncated.png"), toPath: images.appendingPathComponent("b.png").path)
        try Data().write(to: images.appendingPathComponent("c.jpg"))
        let args = ["classify", backbone, images.path, "--preprocess", "tf", "--size", "64,64"]
        let bad = try CLI.run(args, env: env)
        #expect(bad.status == 65 && bad.stderr.contains("b.png"), "\(bad.stderr)")
        let skip = try CLI.run(["features", backbone, images.path, "--preprocess", "tf", "--size", "64,64", "--skip-bad",
                                "-o", dir.url.appendingPathComponent("y.npz").path], env: env)
        #expect(skip.status == 0, "\(skip.stderr)")
        #expect(skip.stderr.contains("skipped 2 files"), "\(skip.stderr)")
        // A folder with one class cannot train a classifier.
        let one = dir.url.appendingPathComponent("one/cats")
        try FileManager.default.createDirectory(at: one, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.path("demo/test/blobs_1.jpg"), toPath: one.appendingPathComponent("a.jpg").path)
        let fit = try CLI.run(["fit", backbone, dir.url.appendingPathComponent("one").path, "--name", "x", "--preprocess", "tf", "--size", "64,64"], env: env)
        #expect(fit.status == 65 && fit.stderr.contains("only one class"), "\(fit.stderr)")
        // A model that takes no images.
        let mlp = try CLI.run(["classify", CLI.demo, Self.path("demo/test/blobs_1.jpg"), "--preprocess", "tf", "--size", "8,8"], env: env)
        #expect(mlp.status == 65 && mlp.stderr.contains("4-D"), "\(mlp.stderr)")
    }
}
