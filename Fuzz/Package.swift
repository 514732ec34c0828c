// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses, one executable per parser entry point (issue #18). A separate
// package so the main build never links them: bench/fuzz.sh builds it with
// -sanitize=fuzzer,address (coverage for zoo's modules too) and -enable-testing
// (the harnesses reach a few internal parsers with @testable import).
let harnesses: [(name: String, products: [String])] = [
    ("zoo-header", ["ZooFormat"]),
    ("onnx-import", ["ZooONNX", "ZooCore"]),
    ("keras-config", ["ZooKeras"]),
    ("keras-archive", ["ZooKeras"]),
    ("embeddings", ["ZooEmbeddings"]),
    ("npy", ["ZooCore"]),
    ("catalog", ["ZooRegistry"]),
    ("oci-manifest", ["ZooRegistry"]),
    ("http-headers", ["ZooRegistry"]),
    ("image-decode", ["ZooVision"]),
]

let package = Package(
    name: "zoo-fuzz",
    dependencies: [.package(name: "zoo", path: "..")],
    targets: [.target(name: "CFuzzDriver", path: "CFuzzDriver"),
              .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"], path: "Support")] + harnesses.map { h in
        .executableTarget(
            name: "fuzz-\(h.name)",
            dependencies: ["FuzzSupport"] + h.products.map { .product(name: $0, package: "zoo") },
            path: "Harnesses/\(h.name)",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
