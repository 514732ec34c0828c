import Foundation
import Testing
import ZooCore
import ZooFormat
@testable import ZooKeras
import ZooRuntime

/// fixtures/keras/legacy (make_keras_legacy.py): tf_keras files rewritten into the
/// Keras 2.0–2.2 layout, every dataset under a renamed group with names that match
/// nothing; Keras loads them by position, and so must zoo.
@Suite struct KerasLegacyLayoutTests {
    struct Entry: Decodable { var name: String; var files: [String: String]; var architecture: String; var inputs: [String]; var outputs: [String]; var moved_datasets: Int }
    struct ManifestFile: Decodable { var models: [Entry] }
    static let directory = KerasManifest.directory.appendingPathComponent("legacy")
    static let models = try! JSONDecoder().decode(ManifestFile.self, from: Data(contentsOf: directory.appendingPathComponent("manifest.json"))).models
    static var cases: [String] { models.flatMap { e in e.files.keys.sorted().map { "\(e.name):\($0)" } } }

    @Test(arguments: cases)
    func renamedNestedWeightGroupsConvertByPositionAndMatchKeras(_ testCase: String) throws {
        let parts = testCase.split(separator: ":").map(String.init)
        let e = Self.models.first { $0.name == parts[0] }!
        #expect(e.moved_datasets > 0)
        let file = Self.directory.appendingPathComponent(e.files[parts[1]]!).path
        let arch = parts[1].contains("weights") ? Self.directory.appendingPathComponent(e.architecture).path : nil
        let model = try KerasImporter.load(path: file, options: .init(architecture: arch))
        let session = try InferenceSession(model: model, threads: 2)
        var inputs: [String: Tensor] = [:]
        for (f, spec) in zip(e.inputs, session.graph.inputs) { inputs[spec.name] = try NPY.read(path: Self.directory.appendingPathComponent(f).path) }
        let outputs = try session.run(inputs)
        for (k, f) in e.outputs.enumerated() {
            let expected = try NPY.read(path: Self.directory.appendingPathComponent(f).path)
            let r = try Parity.compare(try #require(outputs[session.graph.outputs[k].name]), expected, output: f)
            #expect(r.passed, "\(testCase) \(f): max abs \(r.maxAbsError)")
        }
    }

    @Test func aMismatchErrorListsTheFirstTenProblemsAndTheCount() throws {
        // vgg_block's weights against xception_block's architecture: dozens of problems.
        let vgg = Self.models.first { $0.name == "vgg_block" }!, xception = Self.models.first { $0.name == "xception_block" }!
        let e = #expect(throws: KerasError.self) {
            try KerasImporter.load(path: Self.directory.appendingPathComponent(vgg.files["k20_weights_h5"]!).path,
                                   options: .init(architecture: Self.directory.appendingPathComponent(xception.architecture).path))
        }
        let problems = try #require(e?.problems)
        #expect(problems.count > KerasError.shownProblems)
        let message = e?.localizedDescription ?? ""
        #expect(message.contains("(\(problems.count) problems)") && message.contains("… and \(problems.count - KerasError.shownProblems) more"), "\(message)")
        #expect(message.count < 2000, "\(message.count) characters")
    }
}

/// Mutants the mutation survey found (fixtures/keras/mutants/README.md).
@Suite struct KerasMutantTests {
    static let directory = KerasManifest.directory.appendingPathComponent("mutants")

    @Test func aFailedDatasetReadIsATypedErrorNotADoubleFree() {
        #expect(throws: KerasError.self) { try KerasImporter.load(path: Self.directory.appendingPathComponent("failed_read_double_free.h5").path) }
    }
}
