import Foundation
import ZooCore
import ZooVision

/// Files to extract features from, and their labels when they come from class folders.
///
/// A directory whose subdirectories hold the files is a labelled dataset, as
/// Keras's `image_dataset_from_directory` reads it: each subdirectory is a
/// class, class names are the sorted subdirectory names, files are found
/// recursively inside each and sorted by path, and only the listed
/// extensions count (case-insensitive). Any other argument is a file, or a
/// directory whose files (not subdirectories) are used unlabelled.
public struct Dataset: Sendable, Equatable {
    public var files: [String]
    /// Class index per file (nil for unlabelled input).
    public var labels: [Int]?
    /// Sorted class names (nil for unlabelled input).
    public var classes: [String]?

    public init(files: [String], labels: [Int]? = nil, classes: [String]? = nil) {
        self.files = files
        self.labels = labels
        self.classes = classes
    }

    /// At most `limit` names, then how many more: error messages stay one short line.
    static func listed(_ names: [String], limit: Int = 8) -> String {
        MessageText.list(names.map { "'\($0)'" }, limit: limit)
    }

    /// File extensions of text documents (`zoo fit` on word vectors).
    public static let textExtensions: Set<String> = ["txt"]

    /// The class-folder dataset at `directory`. It must have at least two
    /// classes, each with at least one file.
    public static func classFolders(_ directory: String, extensions: Set<String>) throws -> Dataset {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw TransferError.invalidDataset(path: directory, detail: "not a directory; give a folder with one subfolder per class")
        }
        let entries = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
        let classes = entries.filter { !$0.hasPrefix(".") }.filter { name in
            var d: ObjCBool = false
            return fm.fileExists(atPath: (directory as NSString).appendingPathComponent(name), isDirectory: &d) && d.boolValue
        }.sorted()
        guard !classes.isEmpty else {
            throw TransferError.invalidDataset(path: directory, detail: "has no class subfolders; put each class's files in its own subfolder (e.g. \(directory)/cats/1.jpg)")
        }
        guard classes.count >= 2 else {
            throw TransferError.invalidDataset(path: directory, detail: "has only one class ('\(classes[0])'); a classifier needs at least two class subfolders")
        }
        var files: [String] = [], labels: [Int] = []
        for (k, c) in classes.enumerated() {
            let dir = (directory as NSString).appendingPathComponent(c)
            let found = Self.walk(dir, extensions: extensions)
            guard !found.isEmpty else {
                throw TransferError.invalidDataset(path: dir, detail: "class '\(c)' has no \(extensions.sorted().map { "." + $0 }.joined(separator: "/")) files; add some or remove the folder")
            }
            files += found
            labels += Array(repeating: k, count: found.count)
        }
        return Dataset(files: files, labels: labels, classes: classes)
    }

    /// Unlabelled inputs: files as given, directories' matching files (recursively, sorted).
    /// A single directory with class subfolders keeps its labels.
    public static func inputs(_ arguments: [String], extensions: Set<String>) throws -> Dataset {
        let fm = FileManager.default
        if arguments.count == 1, let labelled = try? classFolders(arguments[0], extensions: extensions) { return labelled }
        var files: [String] = []
        for a in arguments {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: a, isDirectory: &isDir) else {
                throw TransferError.badInput(path: a, detail: "no such file or directory")
            }
            if isDir.boolValue {
                let found = walk(a, extensions: extensions)
                guard !found.isEmpty else {
                    throw TransferError.invalidDataset(path: a, detail: "has no \(extensions.sorted().map { "." + $0 }.joined(separator: "/")) files")
                }
                files += found
            } else {
                files.append(a)
            }
        }
        guard !files.isEmpty else { throw TransferError.invalidDataset(path: Dataset.listed(arguments), detail: "no input files") }
        return Dataset(files: files)
    }

    /// Files under `dir` with one of `extensions`, sorted by path (hidden entries skipped).
    static func walk(_ dir: String, extensions: Set<String>) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            let name = (rel as NSString).lastPathComponent
            if name.hasPrefix(".") { e.skipDescendants(); continue }
            guard extensions.contains((name as NSString).pathExtension.lowercased()) else { continue }
            let full = (dir as NSString).appendingPathComponent(rel)
            var d: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue { out.append(full) }
        }
        return out.sorted()
    }

    /// A deterministic split: the files are shuffled with `seed` and the last
    /// `fraction` become the validation set (as Keras's `validation_split`
    /// takes the tail), then both parts are put back in dataset order.
    public func split(validationFraction fraction: Double, seed: UInt64) throws -> (train: Dataset, validation: Dataset) {
        guard fraction > 0, fraction < 1 else { throw TransferError.invalidOptions(detail: "--val-split must be between 0 and 1 (exclusive), got \(fraction)") }
        var order = Array(files.indices)
        var rng = SplitMix64(seed: seed)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let nVal = Int((Double(files.count) * fraction).rounded())
        guard nVal >= 1, nVal < files.count else {
            throw TransferError.invalidDataset(path: files.first.map { ($0 as NSString).deletingLastPathComponent } ?? ".",
                                               detail: "\(files.count) files cannot be split \(fraction) for validation")
        }
        let valSet = Set(order.suffix(nVal))
        func subset(_ keep: (Int) -> Bool) -> Dataset {
            let idx = files.indices.filter(keep)
            return Dataset(files: idx.map { files[$0] }, labels: labels.map { l in idx.map { l[$0] } }, classes: classes)
        }
        return (subset { !valSet.contains($0) }, subset { valSet.contains($0) })
    }
}

/// A small, fast, seedable generator (Steele et al.'s SplitMix64): the same seed gives the same split on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
