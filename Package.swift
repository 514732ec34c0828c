// swift-tools-version: 6.0
import PackageDescription

// One responsibility per target; see README.md, "Architecture".
let package = Package(
    name: "zoo",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "zoo", targets: ["zoo"]),
        .library(name: "ZooCore", targets: ["ZooCore"]),
        .library(name: "ZooFormat", targets: ["ZooFormat"]),
        .library(name: "ZooONNX", targets: ["ZooONNX"]),
        .library(name: "ZooKeras", targets: ["ZooKeras"]),
        .library(name: "ZooRuntime", targets: ["ZooRuntime"]),
        .library(name: "ZooRegistry", targets: ["ZooRegistry"]),
        .library(name: "ZooEmbeddings", targets: ["ZooEmbeddings"]),
        .library(name: "ZooConvert", targets: ["ZooConvert"]),
        .library(name: "ZooVision", targets: ["ZooVision"]),
        .library(name: "ZooTransfer", targets: ["ZooTransfer"]),
        .library(name: "ZooCommands", targets: ["ZooCommands"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // System-library shims. C modules stay out of public API.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c",
                       providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZooZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        .target(name: "ZooCore"),
        // libjpeg-turbo and libpng behind entry points that return errors instead of longjmp-ing.
        .target(name: "CZooImage", linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "ZooVision", dependencies: ["ZooCore", "CZooImage"]),
        // Feature extraction, head training, and writing the trained model back.
        .target(name: "ZooTransfer", dependencies: [
            "ZooCore", "ZooFormat", "ZooRuntime", "ZooVision", "ZooEmbeddings", "ZooRegistry", "CBLAS",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // OS helpers Swift cannot call directly (prctl is variadic).
        .target(name: "CZooSupport"),
        .target(name: "ZooFormat", dependencies: [
            "ZooCore", "CZooSupport", "CZooZlib",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // protobuf-c code generated from Protos/onnx.proto (scripts/regen-proto.sh).
        .target(name: "CONNXProto", dependencies: ["CProtobufC"]),
        .target(name: "ZooONNX", dependencies: ["ZooCore", "ZooFormat", "ZooRuntime", "CONNXProto", "CProtobufC"]),
        .target(name: "ZooKeras", dependencies: [
            "ZooCore", "ZooFormat", "CHDF5", "CZooZlib",
        ]),
        .target(name: "ZooRuntime", dependencies: ["ZooCore", "ZooFormat", "CBLAS", "CZooSupport"]),
        .target(name: "ZooEmbeddings", dependencies: [
            "ZooCore", "ZooFormat", "CZooZlib", "CBLAS", "CZooSupport",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The conversion pipeline: importer table, content sniffing, card completion, writer.
        .target(name: "ZooConvert", dependencies: ["ZooCore", "ZooFormat", "ZooONNX", "ZooKeras", "ZooEmbeddings", "ZooVision", "CZooZlib"]),
        .target(name: "ZooRegistry", dependencies: [
            "ZooCore", "ZooFormat", "ZooConvert",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "ZooCommands", dependencies: [
            "ZooCore", "ZooFormat", "ZooONNX", "ZooKeras", "ZooRuntime", "ZooConvert", "ZooRegistry", "ZooEmbeddings", "CZooSupport",
            "ZooVision", "ZooTransfer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            // Writes .npz (`zoo run --output x.npz`); zips are read by ZooFormat.ZipArchive only.
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        .executableTarget(name: "zoo", dependencies: ["ZooCommands"]),
        // Driver for bench/transfer.sh (decode + preprocess and head-training timings).
        .executableTarget(name: "zoo-bench", dependencies: ["ZooVision", "ZooTransfer"]),

        // Fixture manifests and helpers shared by the test targets.
        .target(name: "ZooTestSupport", dependencies: ["ZooCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")], path: "Tests/ZooTestSupport"),
        .testTarget(name: "CShimTests", dependencies: ["CHDF5", "CProtobufC", "CBLAS", "CZooSupport", "ZooTestSupport"]),
        .testTarget(name: "ZooCoreTests", dependencies: ["ZooCore"]),
        .testTarget(name: "ZooFormatTests", dependencies: [
            "ZooCore", "ZooFormat", "ZooTestSupport", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "ZooONNXTests", dependencies: [
            "ZooONNX", "ZooCore", "ZooFormat", "ZooTestSupport", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "ZooRuntimeTests", dependencies: ["ZooRuntime", "ZooONNX", "ZooKeras", "ZooCore", "ZooFormat", "ZooTestSupport",
                                                     .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        .testTarget(name: "ZooKerasTests", dependencies: ["ZooKeras", "ZooRuntime", "ZooCore", "ZooFormat"]),
        .testTarget(name: "ZooEmbeddingsTests", dependencies: [
            "ZooEmbeddings", "ZooCore", "ZooFormat", "ZooTestSupport", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "ZooVisionTests", dependencies: ["ZooVision", "ZooCore", "ZooTestSupport"]),
        .testTarget(name: "ZooTransferTests", dependencies: ["ZooTransfer", "ZooVision", "ZooConvert", "ZooRegistry", "ZooFormat", "ZooCore", "ZooEmbeddings", "ZooTestSupport"]),
        .testTarget(name: "ZooCommandsTests", dependencies: ["ZooCommands", "ZooConvert", "ZooRegistry", "ZooFormat", "ZooCore", "ZooVision", "ZooEmbeddings", "ZooTestSupport", "CZooSupport",
                                                             .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
    ]
)
