/// What a user needs to know to trust and reuse a converted model: where it
/// came from (and the hash to prove it), what produced it, what it expects as
/// input and how to preprocess it, and what its outputs mean.
public struct ModelCard: Hashable, Sendable, Codable {
    public var name: String
    /// Architecture family, e.g. "resnet", "vgg", "mobilenet", "embedding".
    public var family: String?
    /// e.g. "image-classification", "feature-extraction", "word-embedding".
    public var task: String?
    public var source: Source?
    public var converter: Converter
    public var framework: Framework?
    public var inputs: [IOSpec]
    public var outputs: [IOSpec]
    public var preprocessing: Preprocessing?
    /// Class names for classifier outputs, index-aligned with the logits.
    public var labels: [String]?
    public var license: String?
    /// Free-form provenance (e.g. ONNX metadata_props), sorted for determinism.
    public var metadata: [String: String]?
    /// What each layer name of the source model means as an output (Keras:
    /// the layer's output after its activation, in Keras's layout), so
    /// `--output LAYER` gives what the framework gives for that layer.
    public var layers: [String: LayerValue]?
    /// For a model zoo trained (`zoo fit`): the base model it was built on and how.
    public var lineage: Lineage?

    /// Where a trained model came from: the frozen base, the feature it reads,
    /// and the training run, so the result can be reproduced and audited.
    public struct Lineage: Hashable, Sendable, Codable {
        /// The base model's name and model digest (`sha256:…`).
        public var base: String
        public var baseDigest: String
        /// The base's value (or layer) the head reads, and the pooling applied to it.
        public var featureLayer: String
        public var pooling: String
        /// e.g. "softmax-regression".
        public var head: String
        public var training: Training

        public init(base: String, baseDigest: String, featureLayer: String, pooling: String, head: String, training: Training) {
            self.base = base
            self.baseDigest = baseDigest
            self.featureLayer = featureLayer
            self.pooling = pooling
            self.head = head
            self.training = training
        }
    }

    /// The figures of one head-training run.
    public struct Training: Hashable, Sendable, Codable {
        public var trainExamples: Int
        public var validationExamples: Int
        public var epochs: Int
        public var optimizer: String
        public var l2: Double
        public var learningRate: Double?
        public var seed: UInt64?
        public var trainAccuracy: Double
        public var trainLoss: Double
        public var validationAccuracy: Double?
        public var validationLoss: Double?

        public init(trainExamples: Int, validationExamples: Int, epochs: Int, optimizer: String, l2: Double, learningRate: Double?,
                    seed: UInt64?, trainAccuracy: Double, trainLoss: Double, validationAccuracy: Double?, validationLoss: Double?) {
            self.trainExamples = trainExamples
            self.validationExamples = validationExamples
            self.epochs = epochs
            self.optimizer = optimizer
            self.l2 = l2
            self.learningRate = learningRate
            self.seed = seed
            self.trainAccuracy = trainAccuracy
            self.trainLoss = trainLoss
            self.validationAccuracy = validationAccuracy
            self.validationLoss = validationLoss
        }
    }

    /// A layer's output: the graph value, and the permutation that puts it in the source's layout.
    public struct LayerValue: Hashable, Sendable, Codable {
        public var value: String
        public var perm: [Int]?
        public init(value: String, perm: [Int]? = nil) {
            self.value = value
            self.perm = perm
        }
    }

    public init(name: String, family: String? = nil, task: String? = nil, source: Source? = nil,
                converter: Converter = .current, framework: Framework? = nil,
                inputs: [IOSpec] = [], outputs: [IOSpec] = [], preprocessing: Preprocessing? = nil,
                labels: [String]? = nil, license: String? = nil, layers: [String: LayerValue]? = nil, metadata: [String: String]? = nil) {
        self.name = name
        self.family = family
        self.task = task
        self.source = source
        self.converter = converter
        self.framework = framework
        self.inputs = inputs
        self.outputs = outputs
        self.preprocessing = preprocessing
        self.labels = labels
        self.license = license
        self.layers = layers
        self.metadata = metadata
    }

    /// The original file a model was converted from.
    public struct Source: Hashable, Sendable, Codable {
        public var url: String?
        /// File name (not the full path: paths would make output depend on the machine).
        public var file: String?
        /// "onnx", "keras-h5", "keras-v3", "word2vec-bin", "glove-txt", ...
        public var format: String
        public var byteSize: Int?
        /// Lower-case hex SHA-256 of the source file.
        public var sha256: String?

        public init(url: String? = nil, file: String? = nil, format: String, byteSize: Int? = nil, sha256: String? = nil) {
            self.url = url
            self.file = file
            self.format = format
            self.byteSize = byteSize
            self.sha256 = sha256
        }
    }

    /// The tool (and version) that wrote the `.zoo` file.
    public struct Converter: Hashable, Sendable, Codable {
        public var name: String
        public var version: String
        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
        public static let current = Converter(name: "zoo", version: ZooVersion.string)
    }

    /// The framework the source came from and the versions that matter for semantics.
    public struct Framework: Hashable, Sendable, Codable {
        /// "onnx", "keras", "gensim", ...
        public var name: String
        public var version: String?
        /// ONNX default-domain opset.
        public var opset: Int?
        /// Producer recorded in the file (e.g. "pytorch 2.3").
        public var producer: String?
        public var backend: String?

        public init(name: String, version: String? = nil, opset: Int? = nil, producer: String? = nil, backend: String? = nil) {
            self.name = name
            self.version = version
            self.opset = opset
            self.producer = producer
            self.backend = backend
        }
    }

    /// A public input or output, in the source framework's layout.
    public struct IOSpec: Hashable, Sendable, Codable {
        public var name: String
        public var dtype: DType
        public var shape: [Dim]
        /// "NCHW", "NHWC", "NC", or nil when it has no image meaning.
        public var layout: String?

        public init(name: String, dtype: DType, shape: [Dim], layout: String? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.layout = layout
        }
    }

    /// How raw pixels become the model's input (docs/FORMAT.md §4.3).
    public struct Preprocessing: Hashable, Sendable, Codable {
        /// "caffe", "tf", "torch" or "none" (the Keras Applications modes), or
        /// "torchvision" (torch's normalisation after a bilinear shorter-side
        /// resize and a centre crop).
        public var mode: String?
        public var mean: [Float]?
        public var std: [Float]?
        public var scale: Float?
        /// "RGB" or "BGR".
        public var channelOrder: String?
        /// [height, width].
        public var inputSize: [Int]?
        /// Resize so the shorter side is this long (aspect kept), then centre-crop `inputSize`.
        public var resizeShorterSide: Int?
        /// "stretch" (straight to `inputSize`), "shorter-side", or "aspect-crop"
        /// (Keras `keep_aspect_ratio`: centre-crop to the target's aspect, then resize).
        public var resize: String?
        /// PIL filter name: "nearest" (Keras's default), "bilinear" (torchvision's), …
        public var interpolation: String?

        public init(mode: String? = nil, mean: [Float]? = nil, std: [Float]? = nil, scale: Float? = nil,
                    channelOrder: String? = nil, inputSize: [Int]? = nil, resizeShorterSide: Int? = nil,
                    resize: String? = nil, interpolation: String? = nil) {
            self.mode = mode
            self.mean = mean
            self.std = std
            self.scale = scale
            self.channelOrder = channelOrder
            self.inputSize = inputSize
            self.resizeShorterSide = resizeShorterSide
            self.resize = resize
            self.interpolation = interpolation
        }
    }
}
