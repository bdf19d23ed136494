import FerryCore
import Foundation

extension ModelFormat {
    /// An ONNX model file (`onnx.save_model`, skl2onnx's `to_onnx(...).SerializeToString()`).
    public static let onnx = ModelFormat(rawValue: "onnx")
}

/// Runs ONNX models of tabular pipelines natively: the graph is decoded from protobuf by Ferry's own reader and
/// each node runs on a Swift kernel of its operator (`ONNXOperators`). Operators outside that set, sub-graphs,
/// external data and operator sets newer than Ferry knows are refused at registration, naming the node.
public struct ONNXRuntime: ModelRuntime {
    /// Threads a large batch is split across (batches under `TreeParallelism.minimumRows` use one).
    public let threads: Int

    public init(threads: Int = TreeParallelism.defaultThreads) {
        self.threads = max(1, threads)
    }

    public var format: ModelFormat { .onnx }

    public func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription {
        try checkOptions(options, known: [ONNXModel.mapKeysOption])
        return try ONNXModel(parsing: artifact, options: options).description
    }

    public func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor {
        try await loadDescribed(artifact, options: options).predictor
    }

    public func loadDescribed(_ artifact: Data, options: [String: String]) async throws -> (predictor: any Predictor, description: ModelDescription) {
        try checkOptions(options, known: [ONNXModel.mapKeysOption])
        var model = try ONNXModel(parsing: artifact, options: options)
        model.threads = threads
        return (model, model.description)
    }

    /// A ModelProto opens with its ir_version (field 1, a varint: byte 0x08) and a small version number.
    public func recognizes(_ artifact: Data) -> Bool {
        artifact.count > 2 && artifact[artifact.startIndex] == 0x08 && (1...30).contains(artifact[artifact.startIndex + 1])
    }
}

/// A loaded ONNX graph behind Ferry's feature-matrix interface.
///
/// The input schema comes from the graph: each graph input of shape `[N, k]` (or `[N]`) gives k features (named
/// after the input when k is 1, `input_j` otherwise). A string input is a categorical feature whose categories are
/// the strings the graph compares it with; any other string reaches the graph as one value none of them equals,
/// which is what every string operator Ferry runs does with an unseen category.
///
/// A `map(int64, float)` input read only by CastMap gives features `input_0 ... input_{K-1}`, one per key: a row's
/// map holds key k when `input_k` is not missing. K is the largest `max_map` of its SPARSE CastMaps, or the
/// `map_keys` runtime option.
struct ONNXModel: Predictor {
    /// The runtime option that gives the number of keys of a map input (keys 0 to K-1).
    static let mapKeysOption = "map_keys"

    struct Input {
        var name: String
        var element: ONNXArray.Element
        /// Columns of the feature matrix this input reads.
        var columns: Range<Int>
        var rank: Int
        /// For a string input: the strings by category code, and the stand-in for any other string.
        var vocabulary: [String]
        var unseen: String
    }

    let graph: ONNXGraph
    let inputs: [Input]
    let outputTypes: [DataType]
    let featureCount: Int
    let outputSchema: OutputSchema
    let description: ModelDescription
    /// What `contributions` explains, or why the graph cannot be explained.
    let explainable: Result<ExplainableTrees, FerryError>
    var threads = 1

    init(parsing artifact: Data, options: [String: String] = [:]) throws {
        let file = try ONNXModelFile(parsing: [UInt8](artifact))
        for (domain, version) in file.opsets.sorted(by: { $0.key < $1.key }) {
            guard let newest = ONNXOperators.newestOpsets[domain] else { continue }
            guard version <= newest else {
                throw FerryError(.unsupported, "ONNX opset \(version) of domain \(domain.isEmpty ? "ai.onnx" : domain) is newer than Ferry supports (up to \(newest)); convert with target_opset=\(newest)")
            }
        }
        guard file.graph.sparseInitializerCount == 0 else {
            throw FerryError(.unsupported, "ONNX graph has sparse initializers, which Ferry does not run")
        }
        let initialized = Set(file.graph.initializers.map(\.name))
        var inputs: [Input] = []
        var features: [FeatureSpec] = []
        for info in file.graph.inputs where !initialized.contains(info.name) {
            if case .map = info.type {
                let width = try Self.mapKeys(of: info, in: file.graph, options: options)
                inputs.append(Input(
                    name: info.name, element: .float, columns: features.count..<(features.count + width), rank: 2, vocabulary: [], unseen: ""))
                features += (0..<width).map { FeatureSpec(name: "\(info.name)_\($0)", datatype: .fp32, description: "the map's value at key \($0) (null: no such key)") }
                continue
            }
            guard case .tensor(let code, let shape) = info.type else {
                throw FerryError(.unsupported, "ONNX graph input '\(info.name)' is a sequence; Ferry takes tensors [N, k] and maps read by CastMap")
            }
            guard let element = ONNXDataType.element(code) else {
                throw FerryError(.unsupported, "ONNX graph input '\(info.name)' has element type \(ONNXDataType.name(code)), which Ferry does not take")
            }
            let dims = shape ?? [nil, 1]
            guard dims.count == 1 || dims.count == 2 else {
                throw FerryError(.unsupported, "ONNX graph input '\(info.name)' has rank \(dims.count); a tabular model takes [N, k] or [N]")
            }
            let width: Int
            if dims.count == 1 { width = 1 } else {
                guard let k = dims[1], k > 0 else {
                    throw FerryError(.unsupported, "ONNX graph input '\(info.name)' has no fixed second dimension; Ferry needs [N, k] with k fixed")
                }
                width = k
            }
            let vocabulary = element == .string ? Self.vocabulary(of: info.name, in: file.graph) : []
            var unseen = "\u{0}"
            while vocabulary.contains(unseen) { unseen += "\u{0}" }
            inputs.append(Input(
                name: info.name, element: element, columns: features.count..<(features.count + width), rank: dims.count,
                vocabulary: vocabulary, unseen: unseen))
            for j in 0..<width {
                let name = width == 1 ? info.name : "\(info.name)_\(j)"
                let spec: FeatureSpec = switch element {
                case .string: FeatureSpec(name: name, datatype: .bytes, categories: vocabulary)
                case .int64: FeatureSpec(name: name, datatype: ONNXDataType.wireType(code) ?? .int64, nullable: false)
                case .bool: FeatureSpec(name: name, datatype: .bool, nullable: false)
                case .double: FeatureSpec(name: name, datatype: .fp64)
                case .float: FeatureSpec(name: name, datatype: .fp32)
                }
                features.append(spec)
            }
        }
        guard !inputs.isEmpty else { throw FerryError.invalid("ONNX graph has no inputs") }
        graph = try ONNXGraph(file.graph, opsets: file.opsets)
        self.inputs = inputs
        featureCount = features.count
        explainable = ExplainableTrees.find(in: file.graph, inputs: inputs)

        var outputs: [OutputSpec] = []
        var types: [DataType] = []
        var zipMapLabels: [String: [String]] = [:]
        for node in file.graph.nodes where node.opType == "ZipMap" {
            let a = ONNXAttributes(node: node)
            let labels = a.has("classlabels_strings") ? a.strings("classlabels_strings") : a.ints("classlabels_int64s").map { "\($0)" }
            for output in node.outputs { zipMapLabels[output] = labels }
        }
        for info in file.graph.outputs {
            switch info.type {
            case .tensor(let code, let shape):
                guard let wire = ONNXDataType.wireType(code) else {
                    throw FerryError(.unsupported, "ONNX graph output '\(info.name)' has element type \(ONNXDataType.name(code)), which Ferry does not answer")
                }
                let perRow = (shape ?? []).dropFirst().map { $0 ?? -1 }
                outputs.append(OutputSpec(name: info.name, datatype: wire, shape: Array(perRow)))
                types.append(wire)
            case .sequence(.map) where zipMapLabels[info.name] != nil:
                let labels = zipMapLabels[info.name]!
                outputs.append(OutputSpec(
                    name: info.name, datatype: .fp32, shape: [labels.count],
                    description: "probability per class, in the order of the classes [\(labels.joined(separator: ", "))] (ONNX ZipMap, answered as a tensor)"))
                types.append(.fp32)
            default:
                throw FerryError(.unsupported, "ONNX graph output '\(info.name)' is not a tensor (nor a ZipMap of class probabilities); Ferry answers tensors")
            }
        }
        outputTypes = types
        outputSchema = OutputSchema(outputs: outputs)

        let operators = Set(file.graph.nodes.map { $0.domain.isEmpty ? $0.opType : "\($0.domain).\($0.opType)" }).sorted()
        var details: [String: JSONValue] = [
            "producer": .string([file.producer, file.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")),
            "ir_version": .number(Double(file.irVersion)),
            "opsets": .object(file.opsets.reduce(into: [:]) { $0[$1.key.isEmpty ? "ai.onnx" : $1.key] = .number(Double($1.value)) }),
            "operators": .array(operators.map { .string($0) }),
            "nodes": .number(Double(file.graph.nodes.count)),
        ]
        if let task = Self.task(outputs: outputs, zipMapLabels: zipMapLabels, file: file) { details["task"] = .string(task.rawValue) }
        description = ModelDescription(
            inputSchema: InputSchema(features: features, tensors: inputs.map { input in
                InputTensor(
                    name: input.name, datatype: features[input.columns.lowerBound].datatype, width: input.columns.count,
                    perRowShape: input.rank == 1 ? [] : [input.columns.count])
            }),
            outputSchema: outputSchema, details: details)
    }

    /// The number of keys of a map input: it must be a `map(int64, float)` that only CastMap nodes read.
    static func mapKeys(of info: ONNXModelFile.ValueInfo, in graph: ONNXModelFile.Graph, options: [String: String]) throws -> Int {
        guard case .map(let key, let value) = info.type, key == 7, case .tensor(1, _) = value else {
            throw FerryError(.unsupported, "ONNX graph input '\(info.name)' is a map other than map(int64, float); Ferry takes tensors [N, k] and map(int64, float) inputs read by CastMap")
        }
        let readers = graph.nodes.filter { $0.inputs.contains(info.name) }
        if let other = readers.first(where: { $0.opType != "CastMap" || $0.domain != "ai.onnx.ml" }) {
            throw FerryError(.unsupported, "ONNX graph input '\(info.name)' is a map read by \(other.opType) (node '\(other.name)'); Ferry takes a map input only where CastMap reads it")
        }
        if let text = options[mapKeysOption] {
            guard let k = Int(text), (1...4096).contains(k) else {
                throw FerryError.invalid("runtime option \(mapKeysOption) '\(text)' is not a number of keys between 1 and 4096")
            }
            return k
        }
        let sparse = readers.filter { ONNXAttributes(node: $0).string("map_form") == "SPARSE" }.compactMap { ONNXAttributes(node: $0).int("max_map") }
        guard let k = sparse.max(), (1...4096).contains(k) else {
            throw FerryError(.unsupported, "ONNX graph input '\(info.name)' is a map whose keys no SPARSE CastMap bounds; give their number with the runtime option \(mapKeysOption)=K (keys 0 to K-1)")
        }
        return k
    }

    /// The strings a string input is compared with anywhere downstream of it (categories, label keys, constants).
    static func vocabulary(of input: String, in graph: ONNXModelFile.Graph) -> [String] {
        var reached: Set<String> = [input]
        var seen: Set<String> = []
        var words: [String] = []
        func add(_ bytes: [UInt8]) {
            let word = String(decoding: bytes, as: UTF8.self)
            if seen.insert(word).inserted { words.append(word) }
        }
        let stringConstants = Dictionary(graph.initializers.filter { $0.dataType == 8 }.map { ($0.name, $0.stringData) }) { a, _ in a }
        for node in graph.nodes where node.inputs.contains(where: reached.contains) {
            for name in ["cats_strings", "keys_strings", "classes_strings"] { node.attributes[name]?.strings.forEach(add) }
            if let keys = node.attributes["keys_tensor"]?.tensor, keys.dataType == 8 { keys.stringData.forEach(add) }
            for input in node.inputs { stringConstants[input]?.forEach(add) }
            node.outputs.forEach { reached.insert($0) }
        }
        return words
    }

    static func task(outputs: [OutputSpec], zipMapLabels: [String: [String]], file: ONNXModelFile) -> ModelTask? {
        let classifiers = ["LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier"]
        if let labels = zipMapLabels.values.first { return labels.count == 2 ? .binaryClassification : .multiclassClassification }
        if let node = file.graph.nodes.first(where: { classifiers.contains($0.opType) }) {
            let a = ONNXAttributes(node: node)
            let classes = max(a.strings("classlabels_strings").count, a.ints("classlabels_ints").count)
            return classes == 2 ? .binaryClassification : .multiclassClassification
        }
        return outputs.count == 1 ? .regression : nil
    }

    var memoryBytes: Int {
        graph.constants.reduce(0) { $0 + $1.value.storageCount * 8 }
    }

    func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
        guard batch.columns == featureCount else {
            throw FerryError.invalid("batch has \(batch.columns) columns; the model takes \(featureCount)")
        }
        let results = try graph.run(graphInputs(batch, rows: 0..<batch.rows))
        return zip(results, zip(outputSchema.outputs, outputTypes)).map { value, output in
            Self.tensor(value, name: output.0.name, type: output.1)
        }
    }

    /// The graph's inputs for some rows of the batch.
    func graphInputs(_ batch: FeatureMatrix, rows: Range<Int>) throws -> [ONNXArray] {
        let f = batch.columns
        return try inputs.map { input in
            let k = input.columns.count
            let shape = input.rank == 1 ? [rows.count] : [rows.count, k]
            if input.element == .float {
                // The common case, without an intermediate copy.
                var floats = [Float](repeating: 0, count: rows.count * k)
                batch.values.withUnsafeBufferPointer { x in
                    floats.withUnsafeMutableBufferPointer { out in
                        var o = 0
                        for r in rows {
                            let row = x.baseAddress! + r * f + input.columns.lowerBound
                            for c in 0..<k { out[o + c] = Float(row[c]) }
                            o += k
                        }
                    }
                }
                return .float(floats, shape: shape)
            }
            var values: [Double] = []
            values.reserveCapacity(rows.count * k)
            for r in rows { for c in input.columns { values.append(batch.values[r * f + c]) } }
            switch input.element {
            case .float: return .float(values.map(Float.init), shape: shape)
            case .double: return ONNXArray(shape: shape, .double(values))
            case .int64:
                return .int64(try values.map { v in
                    guard v.isFinite, v == v.rounded(), abs(v) < 9.0e15 else {
                        throw FerryError.invalid("input '\(input.name)' takes integers; got \(v)")
                    }
                    return Int64(v)
                }, shape: shape)
            case .bool: return .bool(values.map { $0 != 0 }, shape: shape)
            case .string:
                return ONNXArray(shape: shape, .string(values.map { v in
                    v.isFinite && v >= 0 && v < Double(input.vocabulary.count) && v == v.rounded() ? input.vocabulary[Int(v)] : input.unseen
                }))
            }
        }
    }

    static func tensor(_ value: ONNXArray, name: String, type: DataType) -> Tensor {
        let data: TensorData = switch value.storage {
        case .float(let v): type == .fp64 ? .float64(v.map(Double.init)) : .float32(v)
        case .double(let v): type == .fp32 ? .float32(v.map(Float.init)) : .float64(v)
        case .int64(let v): type == .uint64 ? .uint64(v.map { UInt64(bitPattern: $0) }) : .int64(v)
        case .bool(let v): .bool(v)
        case .string(let v): .bytes(v.map { Array($0.utf8) })
        }
        return Tensor(name: name, datatype: type, shape: value.shape, data: data)
    }
}
