import FerryCore
import Foundation

/// Runs XGBoost models saved as JSON (`booster.save_model("model.json")`, xgboost ≥ 2.0) natively.
///
/// Supported: `gbtree` with numeric splits (compared in float32 with `<`, missing values following `default_left`),
/// `num_parallel_tree` ≥ 1, multi-class through `tree_info`, and the objectives in `Objective`. Everything else is
/// refused by `inspect` with a message naming the construct, so a model never gets a wrong answer. All trees are
/// used, as `Booster.predict` does; `best_iteration` is not applied.
public struct XGBoostRuntime: ModelRuntime {
    public init() {}

    public var format: ModelFormat { .xgboostJSON }

    public func inspect(_ artifact: Data) throws -> ModelDescription {
        try XGBoostForest(parsing: artifact).description
    }

    public func load(_ artifact: Data) async throws -> any Predictor {
        try XGBoostForest(parsing: artifact)
    }
}

/// The objectives whose output transform Ferry implements.
enum XGBoostObjective: String, CaseIterable {
    case binaryLogistic = "binary:logistic"
    case binaryLogitraw = "binary:logitraw"
    case regLogistic = "reg:logistic"
    case regSquaredError = "reg:squarederror"
    case multiSoftprob = "multi:softprob"
    case multiSoftmax = "multi:softmax"
    case countPoisson = "count:poisson"

    /// XGBoost's `ProbToMargin` for `base_score` (float arithmetic, as in the library).
    func margin(fromBaseScore b: Float) -> Float {
        switch self {
        case .binaryLogistic, .regLogistic: -logf(1.0 / b - 1.0)
        case .countPoisson: logf(b)
        case .binaryLogitraw, .regSquaredError, .multiSoftprob, .multiSoftmax: b
        }
    }
}

/// A loaded XGBoost tree ensemble, laid out as one flat node array.
struct XGBoostForest: Predictor {
    struct Node {
        /// Split threshold, or the leaf value (already scaled by eta) when `feature < 0`.
        var value: Float
        var feature: Int32
        var left: Int32
        var right: Int32
        var defaultLeft: Bool
    }

    let nodes: [Node]
    let roots: [Int32]
    let groups: [Int32]
    let baseMargins: [Float]
    let objective: XGBoostObjective
    let featureCount: Int
    let groupCount: Int
    let outputSchema: OutputSchema
    let description: ModelDescription

    init(parsing artifact: Data) throws {
        if Self.looksLikeUBJSON(artifact) {
            throw FerryError(.unsupported, "this looks like an XGBoost UBJSON model (.ubj), which Ferry cannot read yet; save it as JSON with booster.save_model(\"model.json\")")
        }
        let file: XGBoostModelFile
        do {
            file = try JSONDecoder().decode(XGBoostModelFile.self, from: artifact)
        } catch let error as DecodingError {
            throw FerryError.invalid("not a valid XGBoost JSON model: \(Self.describe(error))")
        } catch {
            throw FerryError.invalid("not a valid XGBoost JSON model: \(error)")
        }
        try self.init(file)
    }

    init(_ file: XGBoostModelFile) throws {
        let learner = file.learner
        let booster = learner.gradient_booster
        switch booster.name {
        case "gbtree": break
        case "dart":
            throw FerryError(.unsupported, "gradient_booster 'dart' (tree weight_drop) is not supported by Ferry's XGBoost runtime yet; only 'gbtree' is")
        case "gblinear":
            throw FerryError(.unsupported, "gradient_booster 'gblinear' (linear booster) is not supported by Ferry's XGBoost runtime yet; only 'gbtree' is")
        default:
            throw FerryError(.unsupported, "gradient_booster '\(booster.name)' is not supported; only 'gbtree' is")
        }
        guard let objective = XGBoostObjective(rawValue: learner.objective.name) else {
            let supported = XGBoostObjective.allCases.map(\.rawValue).joined(separator: ", ")
            throw FerryError(.unsupported, "objective '\(learner.objective.name)' is not supported by Ferry's XGBoost runtime yet (supported: \(supported))")
        }
        guard let model = booster.model else {
            throw FerryError.invalid("not a valid XGBoost JSON model: gradient_booster.model is missing")
        }
        let param = learner.learner_model_param
        guard let featureCount = Int(param.num_feature), featureCount > 0 else {
            throw FerryError.invalid("not a valid XGBoost JSON model: learner_model_param.num_feature '\(param.num_feature)' is not a positive integer")
        }
        if let t = param.num_target, let targets = Int(t), targets > 1 {
            throw FerryError(.unsupported, "multi-target models (num_target \(targets)) are not supported by Ferry's XGBoost runtime yet")
        }
        let numClass = Int(param.num_class ?? "0") ?? 0
        let isMulticlass = objective == .multiSoftprob || objective == .multiSoftmax
        let groupCount = isMulticlass ? max(numClass, 1) : 1
        if isMulticlass && numClass < 2 {
            throw FerryError.invalid("not a valid XGBoost JSON model: objective '\(objective.rawValue)' needs num_class ≥ 2, found '\(param.num_class ?? "")'")
        }

        let names = learner.feature_names ?? []
        if !names.isEmpty && names.count != featureCount {
            throw FerryError.invalid("not a valid XGBoost JSON model: \(names.count) feature_names for num_feature \(featureCount)")
        }
        if let types = learner.feature_types,
           let c = types.firstIndex(where: { $0 == "c" }) {
            let name = c < names.count ? names[c] : "f\(c)"
            throw FerryError(.unsupported, "categorical feature '\(name)' (feature_types 'c') is not supported by Ferry's XGBoost runtime yet")
        }

        // base_score: "0.5", "5E-1" or (xgboost ≥ 3.0) "[5E-1]" / one value per class.
        let scores = try Self.parseBaseScore(param.base_score)
        guard scores.count == 1 || scores.count == groupCount else {
            throw FerryError.invalid("not a valid XGBoost JSON model: base_score has \(scores.count) values for \(groupCount) outputs")
        }
        let baseMargins = (0..<groupCount).map { objective.margin(fromBaseScore: scores.count == 1 ? scores[0] : scores[$0]) }

        guard model.tree_info.count == model.trees.count else {
            throw FerryError.invalid("not a valid XGBoost JSON model: \(model.trees.count) trees but \(model.tree_info.count) tree_info entries")
        }
        var nodes: [Node] = []
        var roots: [Int32] = []
        for (t, tree) in model.trees.enumerated() {
            let n = tree.left_children.count
            if let size = tree.tree_param.size_leaf_vector, let s = Int(size), s > 1 {
                throw FerryError(.unsupported, "tree \(t) has vector leaves (size_leaf_vector \(s)); multi-target trees are not supported yet")
            }
            guard n > 0, tree.right_children.count == n, tree.split_indices.count == n,
                  tree.split_conditions.count == n, tree.default_left.values.count == n else {
                throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) has node arrays of different lengths")
            }
            if let types = tree.split_type?.values, let node = types.firstIndex(of: true) {
                throw FerryError(.unsupported, "tree \(t) node \(node) is a categorical split, which Ferry's XGBoost runtime does not support yet")
            }
            let base = Int32(nodes.count)
            roots.append(base)
            for i in 0..<n {
                let left = tree.left_children[i]
                if left < 0 {
                    nodes.append(Node(value: tree.split_conditions[i], feature: -1, left: 0, right: 0, defaultLeft: false))
                    continue
                }
                let right = tree.right_children[i]
                let feature = tree.split_indices[i]
                guard left < n, right >= 0, right < n, feature >= 0, feature < featureCount else {
                    throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) node \(i) points outside the tree or at feature \(feature)")
                }
                nodes.append(Node(
                    value: tree.split_conditions[i], feature: Int32(feature),
                    left: base + left, right: base + right, defaultLeft: tree.default_left.values[i]))
            }
        }
        let groups = try model.tree_info.map { g -> Int32 in
            guard g >= 0, g < groupCount else {
                throw FerryError.invalid("not a valid XGBoost JSON model: tree_info names output group \(g) of \(groupCount)")
            }
            return Int32(g)
        }
        try Self.checkAcyclic(nodes: nodes, roots: roots)

        self.nodes = nodes
        self.roots = roots
        self.groups = groups
        self.baseMargins = baseMargins
        self.objective = objective
        self.featureCount = featureCount
        self.groupCount = groupCount

        let outputShape = objective == .multiSoftprob ? [groupCount] : []
        let meaning: String = switch objective {
        case .binaryLogistic, .regLogistic: "probability of the positive class"
        case .binaryLogitraw: "raw margin (log-odds)"
        case .regSquaredError: "predicted value"
        case .countPoisson: "predicted mean count"
        case .multiSoftprob: "probability of each class"
        case .multiSoftmax: "predicted class index"
        }
        let outputs = OutputSchema(outputs: [OutputSpec(name: "predict", datatype: .fp32, shape: outputShape, description: meaning)])
        self.outputSchema = outputs
        let featureNames = names.isEmpty ? (0..<featureCount).map { "f\($0)" } : names
        var details: [String: JSONValue] = [
            "objective": .string(objective.rawValue),
            "num_trees": .number(Double(model.trees.count)),
            "num_feature": .number(Double(featureCount)),
            "base_score": .string(param.base_score),
        ]
        if isMulticlass { details["num_class"] = .number(Double(numClass)) }
        if let v = file.version { details["xgboost_version"] = .string(v.map(String.init).joined(separator: ".")) }
        self.description = ModelDescription(
            inputSchema: InputSchema(features: featureNames.map { FeatureSpec(name: $0) }),
            outputSchema: outputs, details: details)
    }

    // MARK: Prediction

    func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
        guard batch.columns == featureCount else {
            throw FerryError.invalid("batch has \(batch.columns) columns; the model takes \(featureCount)")
        }
        return [transform(margins(batch), rows: batch.rows)]
    }

    /// Raw scores per row and output group: base margin plus the leaves, summed in tree order in float32.
    func margins(_ batch: FeatureMatrix) -> [Float] {
        let k = groupCount
        var margins = [Float](repeating: 0, count: batch.rows * k)
        nodes.withUnsafeBufferPointer { nodes in
            batch.values.withUnsafeBufferPointer { x in
                margins.withUnsafeMutableBufferPointer { out in
                    for r in 0..<batch.rows {
                        let row = x.baseAddress! + r * featureCount
                        let o = r * k
                        for g in 0..<k { out[o + g] = baseMargins[g] }
                        for t in roots.indices {
                            var i = Int(roots[t])
                            while true {
                                let node = nodes[i]
                                if node.feature < 0 { break }
                                let v = Float(row[Int(node.feature)])
                                if v.isNaN {
                                    i = Int(node.defaultLeft ? node.left : node.right)
                                } else {
                                    i = Int(v < node.value ? node.left : node.right)
                                }
                            }
                            out[o + Int(groups[t])] += nodes[i].value
                        }
                    }
                }
            }
        }
        return margins
    }

    private func transform(_ margins: [Float], rows: Int) -> Tensor {
        switch objective {
        case .binaryLogistic, .regLogistic:
            return Tensor(name: "predict", datatype: .fp32, shape: [rows], data: .float32(margins.map(Self.sigmoid)))
        case .binaryLogitraw, .regSquaredError:
            return Tensor(name: "predict", datatype: .fp32, shape: [rows], data: .float32(margins))
        case .countPoisson:
            return Tensor(name: "predict", datatype: .fp32, shape: [rows], data: .float32(margins.map { expf($0) }))
        case .multiSoftprob:
            var p = margins
            for r in 0..<rows { Self.softmax(&p, from: r * groupCount, count: groupCount) }
            return Tensor(name: "predict", datatype: .fp32, shape: [rows, groupCount], data: .float32(p))
        case .multiSoftmax:
            var labels = [Float](repeating: 0, count: rows)
            for r in 0..<rows {
                var best = 0
                for g in 1..<groupCount where margins[r * groupCount + g] > margins[r * groupCount + best] { best = g }
                labels[r] = Float(best)
            }
            return Tensor(name: "predict", datatype: .fp32, shape: [rows], data: .float32(labels))
        }
    }

    /// XGBoost's float sigmoid (`common::Sigmoid`), including its overflow guard.
    static func sigmoid(_ x: Float) -> Float {
        let e = min(-x, 88.7)
        return 1.0 / (expf(e) + 1.0 + 1e-16)
    }

    static func softmax(_ v: inout [Float], from start: Int, count: Int) {
        var m = v[start]
        for i in start..<(start + count) { m = max(m, v[i]) }
        var sum: Float = 0
        for i in start..<(start + count) {
            v[i] = expf(v[i] - m)
            sum += v[i]
        }
        for i in start..<(start + count) { v[i] /= sum }
    }

    // MARK: Parsing helpers

    static func parseBaseScore(_ text: String) throws -> [Float] {
        var body = text.trimmingCharacters(in: .whitespaces)
        if body.hasPrefix("[") && body.hasSuffix("]") { body = String(body.dropFirst().dropLast()) }
        let parts = body.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Float($0) }
        guard !values.isEmpty, values.count == parts.count, values.allSatisfy(\.isFinite) else {
            throw FerryError.invalid("not a valid XGBoost JSON model: base_score '\(text)' is not a number or a list of numbers")
        }
        return values
    }

    /// UBJSON documents open with `{` followed by a length marker, where JSON has a quote or white space.
    static func looksLikeUBJSON(_ data: Data) -> Bool {
        guard data.count >= 2, data[data.startIndex] == UInt8(ascii: "{") else { return false }
        let next = data[data.startIndex + 1]
        return [UInt8(ascii: "i"), UInt8(ascii: "U"), UInt8(ascii: "I"), UInt8(ascii: "l"), UInt8(ascii: "L"),
                UInt8(ascii: "$"), UInt8(ascii: "#")].contains(next)
    }

    /// Refuses trees whose child links loop, which would hang prediction.
    static func checkAcyclic(nodes: [Node], roots: [Int32]) throws {
        var depth = [Int32](repeating: -1, count: nodes.count)
        for (t, root) in roots.enumerated() {
            var stack: [(Int, Int32)] = [(Int(root), 0)]
            while let (i, d) = stack.popLast() {
                guard depth[i] < 0 else {
                    throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) node \(i - Int(root)) is reached twice")
                }
                depth[i] = d
                let node = nodes[i]
                if node.feature >= 0 {
                    stack.append((Int(node.left), d + 1))
                    stack.append((Int(node.right), d + 1))
                }
            }
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key '\(key.stringValue)' at \(path(context).isEmpty ? "top level" : path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context).isEmpty ? "top level" : path(context))"
        @unknown default: return "\(error)"
        }
    }
}
