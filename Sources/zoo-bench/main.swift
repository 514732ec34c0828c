// Benchmark driver for bench/transfer.sh (not installed, not part of the CLI):
//   zoo-bench decode DIR H W MODE [RESIZE]   decode + preprocess every image, on all cores
//   zoo-bench head FEATURES.f32 LABELS.i64 N D K [EPOCHS]   train a softmax head (L-BFGS)
// Prints one JSON line with the measured figures.
import Dispatch
import Foundation
import ZooTransfer
import ZooVision

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("zoo-bench: \(message)\n".utf8))
    exit(64)
}

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: zoo-bench decode DIR H W MODE [RESIZE] | head FEATURES LABELS N D K [EPOCHS]") }
switch args[1] {
case "decode":
    guard args.count >= 6, let h = Int(args[3]), let w = Int(args[4]), let mode = Preprocessing.Mode(rawValue: args[5]) else { fail("decode DIR H W MODE [RESIZE]") }
    let prep = try Preprocessing(mode: mode, height: h, width: w, layout: .nchw, shorterSide: args.count > 6 ? Int(args[6]) : nil)
    let files = try Dataset.inputs([args[2]], extensions: ImageFormat.extensions).files
    let per = h * w * 3
    let out = UnsafeMutablePointer<Float>.allocate(capacity: per * files.count)
    defer { out.deallocate() }
    nonisolated(unsafe) let base = out
    let t0 = DispatchTime.now().uptimeNanoseconds
    DispatchQueue.concurrentPerform(iterations: files.count) { i in
        guard let image = try? ImageLoader.load(path: files[i]) else { return }
        prep.write(prep.pixels(image), into: base + i * per)
    }
    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print("{\"images\": \(files.count), \"seconds\": \(s), \"imagesPerSecond\": \(Double(files.count) / s), \"threads\": \(ProcessInfo.processInfo.activeProcessorCount)}")
case "head":
    guard args.count >= 7, let n = Int(args[4]), let d = Int(args[5]), let k = Int(args[6]) else { fail("head FEATURES LABELS N D K [EPOCHS]") }
    let epochs = args.count > 7 ? Int(args[7]) ?? 100 : 100
    let x = try Data(contentsOf: URL(fileURLWithPath: args[2])).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    let y = try Data(contentsOf: URL(fileURLWithPath: args[3])).withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }.map { Int($0) }
    guard x.count == n * d, y.count == n else { fail("sizes do not match N×D") }
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try HeadTrainer.train(.init(features: x, labels: y, dim: d), classes: k, options: .init(epochs: epochs))
    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print("{\"examples\": \(n), \"dim\": \(d), \"classes\": \(k), \"epochs\": \(r.history.count), \"seconds\": \(s), \"trainAccuracy\": \(r.history.last?.trainAccuracy ?? 0), \"objective\": \(r.history.last?.objective ?? 0)}")
default:
    fail("unknown mode \(args[1])")
}
