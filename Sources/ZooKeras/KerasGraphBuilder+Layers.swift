import Foundation
import ZooCore

extension KerasGraphBuilder {
    /// Emits the IR for one call of `spec` on `inputs`; returns its outputs.
    func apply(_ spec: LayerSpec, _ inputs: [KValue], path layerPath: [String]) throws -> [KValue] {
        let name = layerPath.joined(separator: "/")
        func one() throws -> KValue {
            guard inputs.count == 1 else { throw fail(name, "expects one input, got \(inputs.count)") }
            return inputs[0]
        }
        func out(_ n: String, nhwc: Bool) -> [KValue] { [KValue(name: n, shape: shapes[n]!, nhwc: nhwc)] }
        let cls = spec.className
        if Self.identityLayers.contains(cls) { return [try one()] }
        if cls != "Flatten", let fmt = spec.string("data_format"), (fmt == "channels_first") != channelsFirst {
            throw fail(name, "mixes data_format '\(fmt)' with the rest of the model")
        }
        switch cls {
        case "Conv2D", "DepthwiseConv2D", "SeparableConv2D":
            return out(try conv(spec, try one(), layerPath), nhwc: !channelsFirst)
        case "Dense":
            return [try dense(spec, try one(), layerPath)]
        case "BatchNormalization":
            let x = try one()
            var ax = spec.config["axis"] as? Int ?? (spec.config["axis"] as? [Int])?.first ?? -1
            if ax < 0 { ax += x.shape.count }
            let internalAxis = try axis(ax, of: x, layer: name)
            guard internalAxis == 1 || (x.shape.count == 2 && internalAxis == 1) else { throw fail(name, "BatchNormalization over axis \(ax) (only the channel axis is supported)") }
            guard let c = x.shape[1].value else { throw fail(name, "unknown channel count") }
            let scale = spec.bool("scale", true), center = spec.bool("center", true)
            var exp: [(String, [Int])] = []
            if scale { exp.append(("gamma", [c])) }
            if center { exp.append(("beta", [c])) }
            exp += [("moving_mean", [c]), ("moving_variance", [c])]
            let w = try variables(layerPath, spec, expected: exp)
            let gamma = try w["gamma"] ?? constant("\(name)/gamma", try Tensor(floats: [Float](repeating: 1, count: c), shape: [c]))
            let beta = try w["beta"] ?? constant("\(name)/beta", try Tensor(floats: [Float](repeating: 0, count: c), shape: [c]))
            let n = try emit("BatchNormalization", [x.name, gamma, beta, w["moving_mean"]!, w["moving_variance"]!],
                             ["epsilon": .float(Float(spec.double("epsilon") ?? 1e-3))], name: name, layer: name)
            return out(n, nhwc: x.nhwc)
        case "Activation":
            guard let a = spec.activation else { throw KerasError.refusedLayer(path: path, layer: name, className: cls, reason: "custom activation functions are never executed") }
            return [try activation(a, try one(), name: name)]
        case "Softmax":
            let x = try one()
            let a = spec.config["axis"] as? Int ?? -1
            let n = try emit("Softmax", [x.name], ["axis": .int(try axis(a, of: x, layer: name))], name: name, layer: name)
            return out(n, nhwc: x.nhwc)
        case "ReLU":
            return [try relu(spec, try one(), name: name)]
        case "LeakyReLU":
            let x = try one()
            let alpha = spec.double("negative_slope") ?? spec.double("alpha") ?? 0.3
            return out(try emit("LeakyRelu", [x.name], ["alpha": .float(Float(alpha))], name: name, layer: name), nhwc: x.nhwc)
        case "ZeroPadding2D":
            let x = try one()
            let p: [[Int]]
            if let v = spec.config["padding"] as? Int { p = [[v, v], [v, v]] } else if let v = spec.config["padding"] as? [Int], v.count == 2 {
                p = [[v[0], v[0]], [v[1], v[1]]]
            } else if let v = spec.config["padding"] as? [[Int]], v.count == 2 { p = v } else { throw fail(name, "unreadable padding") }
            let n = try emit("Pad", [x.name], ["pads": .ints([0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]]), "mode": .string("constant"), "value": .float(0)], name: name, layer: name)
            return out(n, nhwc: x.nhwc)
        case "MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D":
            let x = try one()
            let k = try positive(spec.pair("pool_size", [2, 2]), "pool_size", name)
            let s = try positive(spec.pair("strides") ?? k, "strides", name)
            var attrs = try windowAttributes(spec, x, kernel: k, strides: s, dilations: [1, 1], layer: name)
            attrs["ceil_mode"] = .int(0)
            let isMax = cls.hasPrefix("Max")
            if !isMax { attrs["count_include_pad"] = .int(0) }
            return out(try emit(isMax ? "MaxPool" : "AveragePool", [x.name], attrs, name: name, layer: name), nhwc: x.nhwc)
        case "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D":
            let x = try one()
            guard x.shape.count == 4 else { throw fail(name, "input rank \(x.shape.count)") }
            let g = try emit(cls.contains("Max") ? "GlobalMaxPool" : "GlobalAveragePool", [x.name], name: name + (spec.bool("keepdims", false) ? "" : "/pool"), layer: name)
            if spec.bool("keepdims", false) { return out(g, nhwc: x.nhwc) }
            return out(try emit("Flatten", [g], ["axis": .int(1)], name: name, layer: name), nhwc: false)
        case "Flatten":
            // Flatten(data_format="channels_first") flattens in channels-last order.
            var x = try kerasLayout(try one(), layer: name)
            if spec.string("data_format") == "channels_first", x.shape.count == 4 {
                let t = try emit("Transpose", [x.name], ["perm": .ints([0, 2, 3, 1])], name: "\(name)/to_channels_last", layer: name)
                x = KValue(name: t, shape: shapes[t]!, nhwc: false)
            }
            return out(try emit("Flatten", [x.name], ["axis": .int(1)], name: name, layer: name), nhwc: false)
        case "Reshape":
            let x = try kerasLayout(try one(), layer: name)
            guard let target = spec.config["target_shape"] as? [Int] else { throw fail(name, "unreadable target_shape") }
            let n = try emit("Reshape", [x.name], ["shape": .ints([0] + target), "allowzero": .int(0)], name: name, layer: name)
            return [try internalLayout(KValue(name: n, shape: shapes[n]!, nhwc: false), layer: name)]
        case "Add", "Subtract", "Multiply", "Average":
            guard inputs.count >= 2 else { throw fail(name, "needs at least two inputs") }
            let xs = try sameLayout(inputs, layer: name)
            let op = cls == "Subtract" ? "Sub" : cls == "Multiply" ? "Mul" : "Add"
            var acc = xs[0].name
            for (i, x) in xs.dropFirst().enumerated() {
                acc = try emit(op, [acc, x.name], name: i == xs.count - 2 && cls != "Average" ? name : "\(name)/\(i)", layer: name)
            }
            if cls == "Average" { acc = try emit("Mul", [acc, try scalar("\(name)/inv_n", 1 / Float(xs.count))], name: name, layer: name) }
            return out(acc, nhwc: xs[0].nhwc)
        case "Concatenate":
            let xs = try sameLayout(inputs, layer: name)
            let a = try axis(spec.config["axis"] as? Int ?? -1, of: xs[0], layer: name)
            return out(try emit("Concat", xs.map(\.name), ["axis": .int(a)], name: name, layer: name), nhwc: xs[0].nhwc)
        case "Rescaling":
            let x = try one()
            let scale = try channelConstant(spec.config["scale"], x, name: "\(name)/scale", layer: name, default: 1)
            let offset = try channelConstant(spec.config["offset"], x, name: "\(name)/offset", layer: name, default: 0)
            let m = try emit("Mul", [x.name, scale], name: "\(name)/mul", layer: name)
            return out(try emit("Add", [m, offset], name: name, layer: name), nhwc: x.nhwc)
        case "Normalization":
            return [try normalization(spec, try one(), layerPath)]
        default:
            throw KerasError.unsupportedLayers(path: path, layers: ["\(name) (\(cls))"])
        }
    }

    /// A config value that must be one or two positive integers of sane size.
    func positive(_ v: [Int]?, _ what: String, _ layer: String) throws -> [Int] {
        guard let v, !v.isEmpty, v.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else {
            throw KerasError.invalidConfig(path: path, detail: "layer '\(layer)': '\(what)' is missing or not a positive integer")
        }
        return v
    }

    /// Window attributes with TF padding: "valid" → zero pads; "same" → explicit
    /// pads (the odd pixel at the end) for a fixed size, `auto_pad` SAME_UPPER
    /// (resolved per run, same rule) for a symbolic one.
    func windowAttributes(_ spec: LayerSpec, _ x: KValue, kernel: [Int], strides: [Int], dilations: [Int], layer: String) throws -> [String: Attribute] {
        var attrs: [String: Attribute] = ["kernel_shape": .ints(kernel), "strides": .ints(strides), "dilations": .ints(dilations)]
        if let pads = try samePads(spec, x, kernel: kernel, strides: strides, dilations: dilations, layer: layer) {
            attrs["pads"] = .ints(pads)
        } else {
            attrs["auto_pad"] = .string("SAME_UPPER")
        }
        return attrs
    }

    /// TF "same" padding as explicit pads (the odd pixel at the end), nil when
    /// the spatial size is symbolic; "valid" → zeros.
    func samePads(_ spec: LayerSpec, _ x: KValue, kernel: [Int], strides: [Int], dilations: [Int], layer: String) throws -> [Int]? {
        let padding = spec.string("padding") ?? "valid"
        switch padding {
        case "valid": return [0, 0, 0, 0]
        case "same":
            var begin: [Int] = [], end: [Int] = []
            for i in 0..<2 {
                guard let size = x.shape[i + 2].value else { return nil }
                let out = (size + strides[i] - 1) / strides[i]
                let total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size)
                begin.append(total / 2)
                end.append(total - total / 2)
            }
            return begin + end
        default: throw fail(layer, "padding '\(padding)'")
        }
    }

    func conv(_ spec: LayerSpec, _ x: KValue, _ layerPath: [String]) throws -> String {
        let name = layerPath.joined(separator: "/")
        guard x.shape.count == 4, let cin = x.shape[1].value else { throw fail(name, "expects a 4-D image input, got \(x.shape.rendered)") }
        let k = try positive(spec.pair("kernel_size"), "kernel_size", name)
        let s = try positive(spec.pair("strides", [1, 1]), "strides", name)
        let d = try positive(spec.pair("dilation_rate", [1, 1]), "dilation_rate", name)
        let window = try windowAttributes(spec, x, kernel: k, strides: s, dilations: d, layer: name)
        let useBias = spec.bool("use_bias", true)
        let attrs: (Int) -> [String: Attribute] = { g in window.merging(["group": .int(g)]) { a, _ in a } }
        var y: String
        switch spec.className {
        case "Conv2D":
            let filters = try positive(spec.int("filters").map { [$0] }, "filters", name)[0]
            let groups = try positive([spec.int("groups") ?? 1], "groups", name)[0]
            guard cin % groups == 0, filters % groups == 0 else { throw fail(name, "groups \(groups) do not divide \(cin) input and \(filters) output channels") }
            var exp = [("kernel", [k[0], k[1], cin / groups, filters])]
            if useBias { exp.append(("bias", [filters])) }
            let w = try variables(layerPath, spec, expected: exp, layout: ["kernel": { try $0.transposed([3, 2, 0, 1]) }])
            let kernel = w["kernel"]!
            y = try emit("Conv", [x.name, kernel] + (useBias ? [w["bias"]!] : []), attrs(groups), name: name, layer: name)
        case "DepthwiseConv2D":
            let mult = try positive([spec.int("depth_multiplier") ?? 1], "depth_multiplier", name)[0]
            var exp = [("depthwise_kernel", [k[0], k[1], cin, mult])]
            if useBias { exp.append(("bias", [cin * mult])) }
            let depthwise: (Tensor) throws -> Tensor = { try $0.transposed([2, 3, 0, 1]).reshaped([cin * mult, 1, k[0], k[1]]) }
            let w = try variables(layerPath, spec, expected: exp, layout: ["depthwise_kernel": depthwise])
            let kernel = w["depthwise_kernel"]!
            y = try emit("Conv", [x.name, kernel] + (useBias ? [w["bias"]!] : []), attrs(cin), name: name, layer: name)
        default: // SeparableConv2D
            let mult = try positive([spec.int("depth_multiplier") ?? 1], "depth_multiplier", name)[0]
            let filters = try positive(spec.int("filters").map { [$0] }, "filters", name)[0]
            var exp = [("depthwise_kernel", [k[0], k[1], cin, mult]), ("pointwise_kernel", [1, 1, cin * mult, filters])]
            if useBias { exp.append(("bias", [filters])) }
            let w = try variables(layerPath, spec, expected: exp, layout: [
                "depthwise_kernel": { try $0.transposed([2, 3, 0, 1]).reshaped([cin * mult, 1, k[0], k[1]]) },
                "pointwise_kernel": { try $0.transposed([3, 2, 0, 1]) },
            ])
            let dk = w["depthwise_kernel"]!, pk = w["pointwise_kernel"]!
            let dw = try emit("Conv", [x.name, dk], attrs(cin), name: "\(name)/depthwise", layer: name)
            y = try emit("Conv", [dw, pk] + (useBias ? [w["bias"]!] : []),
                         ["kernel_shape": .ints([1, 1]), "strides": .ints([1, 1]), "dilations": .ints([1, 1]), "pads": .ints([0, 0, 0, 0]), "group": .int(1)],
                         name: name, layer: name)
        }
        guard let a = spec.activation else { throw KerasError.refusedLayer(path: path, layer: name, className: spec.className, reason: "custom activation functions are never executed") }
        return try activation(a, KValue(name: y, shape: shapes[y]!, nhwc: !channelsFirst), name: "\(name)/\(a)").name
    }

    func dense(_ spec: LayerSpec, _ input: KValue, _ layerPath: [String]) throws -> KValue {
        let name = layerPath.joined(separator: "/")
        let x = try kerasLayout(input, layer: name)
        guard let units = spec.int("units"), units > 0, units <= 1 << 24, let last = x.shape.last else { throw fail(name, "unknown input or invalid unit count") }
        // After a Flatten of a symbolic size the input width is known only per run
        // (Keras fixes it when the model is built): the stored kernel says what it
        // must be, and the Gemm named after this layer checks it at run time.
        let inDim = last.value ?? WeightBinding.anySize
        let useBias = spec.bool("use_bias", true)
        var exp = [("kernel", [inDim, units])]
        if useBias { exp.append(("bias", [units])) }
        let w = try variables(layerPath, spec, expected: exp)
        var y: String
        if x.shape.count == 2 {
            y = try emit("Gemm", [x.name, w["kernel"]!] + (useBias ? [w["bias"]!] : []),
                         ["alpha": .float(1), "beta": .float(1), "transA": .int(0), "transB": .int(0)], name: name, layer: name)
        } else {
            y = try emit("MatMul", [x.name, w["kernel"]!], name: useBias ? "\(name)/matmul" : name, layer: name)
            if useBias { y = try emit("Add", [y, w["bias"]!], name: name, layer: name) }
        }
        guard let a = spec.activation else { throw KerasError.refusedLayer(path: path, layer: name, className: "Dense", reason: "custom activation functions are never executed") }
        let v = try activation(a, KValue(name: y, shape: shapes[y]!, nhwc: false), name: "\(name)/\(a)")
        return try internalLayout(v, layer: name)
    }

    /// Keras activations by name. hard_sigmoid changed in Keras 3 (relu6(x + 3) / 6).
    func activation(_ a: String, _ x: KValue, name: String) throws -> KValue {
        func out(_ n: String) -> KValue { KValue(name: n, shape: shapes[n]!, nhwc: x.nhwc) }
        switch a {
        case "linear": return x
        case "relu": return out(try emit("Relu", [x.name], name: name, layer: name))
        case "relu6": return out(try emit("Clip", [x.name], ["min": .float(0), "max": .float(6)], name: name, layer: name))
        case "sigmoid": return out(try emit("Sigmoid", [x.name], name: name, layer: name))
        case "tanh": return out(try emit("Tanh", [x.name], name: name, layer: name))
        case "hard_sigmoid":
            let (alpha, beta): (Float, Float) = keras3 ? (1.0 / 6.0, 0.5) : (0.2, 0.5)
            return out(try emit("HardSigmoid", [x.name], ["alpha": .float(alpha), "beta": .float(beta)], name: name, layer: name))
        case "hard_swish", "hard_silu": return out(try emit("HardSwish", [x.name], name: name, layer: name))
        case "elu": return out(try emit("Elu", [x.name], ["alpha": .float(1)], name: name, layer: name))
        case "selu":
            return out(try emit("Selu", [x.name], ["alpha": .float(1.6732632423543772), "gamma": .float(1.0507009873554805)], name: name, layer: name))
        case "gelu": return out(try emit("Gelu", [x.name], ["approximate": .string("none")], name: name, layer: name))
        case "softplus": return out(try emit("Softplus", [x.name], name: name, layer: name))
        case "softsign": return out(try emit("Softsign", [x.name], name: name, layer: name))
        case "swish", "silu":
            let s = try emit("Sigmoid", [x.name], name: "\(name)/sigmoid", layer: name)
            return out(try emit("Mul", [x.name, s], name: name, layer: name))
        case "softmax":
            let ax = x.nhwc ? 1 : x.shape.count - 1
            return out(try emit("Softmax", [x.name], ["axis": .int(ax)], name: name, layer: name))
        default:
            throw fail(name, "activation '\(a)'")
        }
    }

    /// Keras ReLU(max_value, negative_slope, threshold).
    func relu(_ spec: LayerSpec, _ x: KValue, name: String) throws -> KValue {
        let maxValue = spec.double("max_value"), slope = spec.double("negative_slope") ?? 0, threshold = spec.double("threshold") ?? 0
        if let m = maxValue, slope == 0, threshold == 0 {
            let y = try emit("Clip", [x.name], ["min": .float(0), "max": .float(Float(m))], name: name, layer: name)
            return KValue(name: y, shape: shapes[y]!, nhwc: x.nhwc)
        }
        // The general form, as Keras computes it:
        // y = clip(x · [x > t], 0, max) − slope · relu(t − x)
        var y: String
        if threshold == 0 && slope != 0 && maxValue == nil {
            y = try emit("LeakyRelu", [x.name], ["alpha": .float(Float(slope))], name: name, layer: name)
            return KValue(name: y, shape: shapes[y]!, nhwc: x.nhwc)
        }
        y = threshold == 0 ? try emit("Relu", [x.name], name: "\(name)/positive", layer: name)
            : try emit("ThresholdedRelu", [x.name], ["alpha": .float(Float(threshold))], name: "\(name)/positive", layer: name)
        if let m = maxValue { y = try emit("Clip", [y], ["min": .float(0), "max": .float(Float(m))], name: "\(name)/clip", layer: name) }
        if slope != 0 {
            let shifted = try emit("Sub", [try scalar("\(name)/threshold", Float(threshold)), x.name], name: "\(name)/shift", layer: name)
            let negative = try emit("Relu", [shifted], name: "\(name)/negative", layer: name)
            let scaled = try emit("Mul", [negative, try scalar("\(name)/slope", Float(slope))], name: "\(name)/scaled", layer: name)
            y = try emit("Sub", [y, scaled], name: name, layer: name)
        } else {
            y = try emit("Identity", [y], name: name, layer: name)
        }
        return KValue(name: y, shape: shapes[y]!, nhwc: x.nhwc)
    }

    func normalization(_ spec: LayerSpec, _ x: KValue, _ layerPath: [String]) throws -> KValue {
        let name = layerPath.joined(separator: "/")
        guard let c = x.shape[x.nhwc ? 1 : x.shape.count - 1].value else { throw fail(name, "unknown channel count") }
        var mean: [Float], variance: [Float]
        if let m = spec.config["mean"] as? [Double], let v = spec.config["variance"] as? [Double] {
            mean = m.map(Float.init); variance = v.map(Float.init)
        } else if let m = spec.double("mean"), let v = spec.double("variance") {
            mean = [Float(m)]; variance = [Float(v)]
        } else {
            let key = weights.key(names: layerPath, storage: storagePath(layerPath))
            let stored = try weights.variables(of: key)
            let found = stored?.variables ?? []
            if let stored { binding.markUsed(stored.path) }
            let byName = Dictionary(found.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
            guard let m = byName["mean"] ?? byName["0"], let v = byName["variance"] ?? byName["1"] else {
                binding.record(.missing(layer: name, weight: "mean", shape: [c]))
                binding.record(.missing(layer: name, weight: "variance", shape: [c]))
                return x
            }
            mean = m.scalars(as: Float.self); variance = v.scalars(as: Float.self)
        }
        guard spec.bool("invert", false) == false else { throw fail(name, "Normalization(invert=True)") }
        if mean.count == 1 { mean = Array(repeating: mean[0], count: c) }
        if variance.count == 1 { variance = Array(repeating: variance[0], count: c) }
        guard mean.count == c, variance.count == c else {
            binding.record(.shape(layer: name, weight: "mean", expected: [c], found: [mean.count]))
            return x
        }
        let shape = x.nhwc ? [c, 1, 1] : [c]
        let m = constant("\(name)/mean", try Tensor(floats: mean, shape: shape))
        let inv = constant("\(name)/inv_std", try Tensor(floats: variance.map { 1 / max($0.squareRoot(), 1e-7) }, shape: shape))
        let centered = try emit("Sub", [x.name, m], name: "\(name)/center", layer: name)
        let y = try emit("Mul", [centered, inv], name: name, layer: name)
        return KValue(name: y, shape: shapes[y]!, nhwc: x.nhwc)
    }

    /// A per-channel or scalar constant in the value's broadcast layout.
    func channelConstant(_ raw: Any?, _ x: KValue, name: String, layer: String, default d: Float) throws -> String {
        if raw == nil || raw is NSNull { return try scalar(name, d) }
        if let v = raw as? Double { return try scalar(name, Float(v)) }
        if let v = raw as? Int { return try scalar(name, Float(v)) }
        if let v = raw as? [Double] {
            return constant(name, try Tensor(floats: v.map(Float.init), shape: x.nhwc ? [v.count, 1, 1] : [v.count]))
        }
        throw fail(layer, "unreadable constant \(String(describing: raw))")
    }

    /// Inputs of a merge layer in one layout (NCHW internal unless all are plain).
    func sameLayout(_ xs: [KValue], layer: String) throws -> [KValue] {
        if xs.allSatisfy({ $0.nhwc == xs[0].nhwc }) { return xs }
        return try xs.map { try internalLayout($0, layer: layer) }
    }
}
