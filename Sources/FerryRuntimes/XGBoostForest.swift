import FerryCore
import Foundation

/// A loaded XGBoost tree ensemble, laid out as one flat node array.
struct XGBoostForest: Predictor {
    struct Node {
        /// Split threshold, or the leaf value (already scaled by eta) when `feature < 0`.
        var value: Float
        var feature: Int32
        var left: Int32
        var right: Int32
        var defaultLeft: Bool
        /// For a categorical split: where its category bitset starts in `categoryWords`, and how many words it has.
        var categoryStart: Int32 = -1
        var categoryWordCount: Int32 = 0
        /// For a leaf of a multi-target tree: where its weight vector starts in `leafVectors` (-1 for scalar leaves).
        var vectorStart: Int32 = -1
    }

    let nodes: [Node]
    let roots: [Int32]
    let groups: [Int32]
    /// Dart: per-tree output weight; nil for gbtree.
    let treeWeights: [Float]?
    /// Bitsets of the categories that go right, for all categorical splits.
    let categoryWords: [UInt32]
    /// Weight vectors of multi-target leaves, `groupCount` floats each.
    let leafVectors: [Float]
    /// Each node's cover (`sum_hessian`), for TreeSHAP; empty when the model does not carry it.
    let covers: [Double]
    let baseMargins: [Float]
    let objective: XGBoostObjective
    let featureCount: Int
    let groupCount: Int
    var threads = 1
    /// The fast layout, when every split is numeric and every leaf scalar.
    private(set) var compact: CompactForest?

    var memoryBytes: Int {
        byteCount(nodes) + byteCount(roots) + byteCount(groups) + byteCount(categoryWords) + byteCount(leafVectors)
            + byteCount(covers) + (treeWeights.map(byteCount) ?? 0)
            + (compact?.memoryBytes ?? 0)
    }
    let outputSchema: OutputSchema
    let description: ModelDescription

    init(parsing artifact: Data, iterations: String? = nil) throws {
        var json = artifact
        if Self.looksLikeUBJSON(artifact) {
            // One decoding path for both encodings: UBJSON is re-expressed as JSON (float32 values round-trip exactly).
            json = try JSONEncoder().encode(UBJSON.decode(artifact))
        }
        let file = try XGBoostJSONReader.read(json)
        try self.init(file, iterations: iterations)
    }

    init(_ file: XGBoostModelFile, iterations: String? = nil) throws {
        let learner = file.learner
        let booster = learner.gradient_booster
        switch booster.name {
        case "gbtree", "dart": break
        case "gblinear":
            throw FerryError(.unsupported, "gradient_booster 'gblinear' (linear booster) is not supported by Ferry's XGBoost runtime yet; only tree boosters ('gbtree', 'dart') are")
        default:
            throw FerryError(.unsupported, "gradient_booster '\(booster.name)' is not supported; only 'gbtree' and 'dart' are")
        }
        guard let objective = XGBoostObjective(rawValue: learner.objective.name) else {
            let supported = XGBoostObjective.allCases.map(\.rawValue).joined(separator: ", ")
            throw FerryError(.unsupported, "objective '\(learner.objective.name)' is not supported by Ferry's XGBoost runtime yet (supported: \(supported))")
        }
        guard var model = booster.model else {
            throw FerryError.invalid("not a valid XGBoost JSON model: gradient_booster.model is missing")
        }
        let param = learner.learner_model_param
        guard let featureCount = Int(param.num_feature), featureCount > 0 else {
            throw FerryError.invalid("not a valid XGBoost JSON model: learner_model_param.num_feature '\(param.num_feature)' is not a positive integer")
        }
        let numTarget = Int(param.num_target ?? "1") ?? 1
        let numClass = Int(param.num_class ?? "0") ?? 0
        let isMulticlass = objective.isMulticlass
        let groupCount = isMulticlass ? max(numClass, 1) : max(numTarget, 1)
        if isMulticlass && numClass < 2 {
            throw FerryError.invalid("not a valid XGBoost JSON model: objective '\(objective.rawValue)' needs num_class ≥ 2, found '\(param.num_class ?? "")'")
        }

        let names = learner.feature_names ?? []
        if !names.isEmpty && names.count != featureCount {
            throw FerryError.invalid("not a valid XGBoost JSON model: \(names.count) feature_names for num_feature \(featureCount)")
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
        let treeCount = try Self.treesUsed(model: model, attributes: learner.attributes ?? [:], iterations: iterations)
        if treeCount < model.trees.count {
            model.trees.removeLast(model.trees.count - treeCount)
            model.tree_info.removeLast(model.tree_info.count - treeCount)
        }
        if let weights = booster.weightDrop, weights.count != model.trees.count {
            throw FerryError.invalid("not a valid XGBoost JSON model: dart has \(weights.count) weight_drop entries for \(model.trees.count) trees")
        }
        var nodes: [Node] = []
        var roots: [Int32] = []
        var categoryWords: [UInt32] = []
        var leafVectors: [Float] = []
        var covers: [Double] = []
        var hasCovers = true
        var importance = FeatureImportance(featureCount: featureCount)
        for (t, tree) in model.trees.enumerated() {
            let n = tree.left_children.count
            let vectorSize = Int(tree.tree_param.size_leaf_vector ?? "1") ?? 1
            var leafRank = 0
            if vectorSize > 1 {
                let leaves = tree.left_children.filter { $0 < 0 }.count
                guard vectorSize == groupCount, let weights = tree.leaf_weights, weights.count == leaves * vectorSize else {
                    throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) has size_leaf_vector \(vectorSize) but \(groupCount) targets or leaf_weights of the wrong length")
                }
            }
            guard n > 0, tree.right_children.count == n, tree.split_indices.count == n,
                  tree.split_conditions.count == n, tree.default_left.values.count == n else {
                throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) has node arrays of different lengths")
            }
            let categorical = try Self.categorySets(tree, tree: t)
            if let hessians = tree.sum_hessian, hessians.count == n { covers += hessians.map(Double.init) } else { hasCovers = false }
            let base = Int32(nodes.count)
            roots.append(base)
            for i in 0..<n {
                let left = tree.left_children[i]
                if left < 0 {
                    var leaf = Node(value: tree.split_conditions[i], feature: -1, left: 0, right: 0, defaultLeft: false)
                    if vectorSize > 1, let weights = tree.leaf_weights {
                        leaf.vectorStart = Int32(leafVectors.count)
                        leafVectors += weights[(leafRank * vectorSize)..<((leafRank + 1) * vectorSize)]
                        leafRank += 1
                    }
                    nodes.append(leaf)
                    continue
                }
                let right = tree.right_children[i]
                let feature = tree.split_indices[i]
                guard left < n, right >= 0, right < n, feature >= 0, feature < featureCount else {
                    throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) node \(i) points outside the tree or at feature \(feature)")
                }
                importance.add(feature: Int(feature), gain: Double(tree.loss_changes?[safe: i] ?? 0))
                var node = Node(
                    value: tree.split_conditions[i], feature: Int32(feature),
                    left: base + left, right: base + right, defaultLeft: tree.default_left.values[i])
                if tree.split_type?.values[i] == true {
                    guard let set = categorical[i] else {
                        throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) node \(i) is a categorical split without categories")
                    }
                    let words = (set.max().map { $0 / 32 + 1 }) ?? 0
                    node.categoryStart = Int32(categoryWords.count)
                    node.categoryWordCount = Int32(words)
                    var bits = [UInt32](repeating: 0, count: words)
                    for c in set { bits[c / 32] |= 1 << UInt32(c % 32) }
                    categoryWords += bits
                }
                nodes.append(node)
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
        self.treeWeights = booster.weightDrop
        self.categoryWords = categoryWords
        self.leafVectors = leafVectors
        self.covers = hasCovers ? covers : []
        self.baseMargins = baseMargins
        self.objective = objective
        self.featureCount = featureCount
        self.groupCount = groupCount

        let outputShape = objective == .multiSoftmax || groupCount == 1 ? [] : [groupCount]
        let outputs = OutputSchema(outputs: [OutputSpec(name: "predict", datatype: .fp32, shape: outputShape, description: objective.meaning)])
        self.outputSchema = outputs
        let featureNames = names.isEmpty ? (0..<featureCount).map { "f\($0)" } : names
        let task: ModelTask = switch objective.transform {
        case .sigmoid, .hinge: .binaryClassification
        case .softmax, .argmax: .multiclassClassification
        default: .regression
        }
        var details: [String: JSONValue] = [
            "task": .string(task.rawValue),
            "booster": .string(booster.name),
            "objective": .string(objective.rawValue),
            "num_trees": .number(Double(model.trees.count)),
            "num_feature": .number(Double(featureCount)),
            "base_score": .string(param.base_score),
        ]
        if isMulticlass { details["num_class"] = .number(Double(numClass)) }
        if groupCount > 1 && !isMulticlass { details["num_target"] = .number(Double(groupCount)) }
        if let types = learner.feature_types, types.contains("c") {
            details["categorical_features"] = .array(types.indices.filter { types[$0] == "c" }.map { .string(featureNames[$0]) })
        }
        if let v = file.version { details["xgboost_version"] = .string(v.map(String.init).joined(separator: ".")) }
        if let best = learner.attributes?["best_iteration"] { details["best_iteration"] = .string(best) }
        details["iterations"] = .string(iterations ?? "all")
        details["feature_importance"] = importance.json(names: featureNames)
        self.description = ModelDescription(
            inputSchema: InputSchema(features: featureNames.map { FeatureSpec(name: $0) }),
            outputSchema: outputs, details: details)
        self.compact = CompactForest(self)
    }
}

// MARK: - Parsing helpers

extension XGBoostForest {
    /// How many trees the `iterations` option keeps (trees are stored iteration after iteration).
    static func treesUsed(model: XGBoostModelFile.GBTree, attributes: [String: String], iterations: String?) throws -> Int {
        let rounds: Int
        switch iterations {
        case nil, "all": return model.trees.count
        case "best":
            guard let text = attributes["best_iteration"], let best = Int(text) else {
                throw FerryError.invalid("runtime option iterations=best needs a model trained with early stopping, but it has no best_iteration attribute")
            }
            rounds = best + 1
        case let text?:
            guard let n = Int(text), n > 0 else {
                throw FerryError.invalid("runtime option iterations='\(text)' must be 'all', 'best' or a positive number of rounds")
            }
            rounds = n
        }
        // iteration_indptr[i] is the first tree of round i; without it, rounds are equal-sized.
        if let indptr = model.iteration_indptr, indptr.count > 1 {
            guard rounds < indptr.count else {
                throw FerryError.invalid("runtime option iterations=\(rounds) exceeds the model's \(indptr.count - 1) boosting rounds")
            }
            return indptr[rounds]
        }
        let perRound = max(1, (Int(model.gbtree_model_param.num_parallel_tree ?? "1") ?? 1))
        guard rounds * perRound <= model.trees.count else {
            throw FerryError.invalid("runtime option iterations=\(rounds) exceeds the model's boosting rounds")
        }
        return rounds * perRound
    }

    /// A tree's categorical splits: node id → the categories that go right.
    static func categorySets(_ tree: XGBoostModelFile.Tree, tree t: Int) throws -> [Int: [Int]] {
        guard let nodes = tree.categories_nodes, !nodes.isEmpty else { return [:] }
        guard let segments = tree.categories_segments, let sizes = tree.categories_sizes, let categories = tree.categories,
              segments.count == nodes.count, sizes.count == nodes.count else {
            throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) has inconsistent categories_* arrays")
        }
        var sets: [Int: [Int]] = [:]
        for k in nodes.indices {
            let start = segments[k]
            let end = start + sizes[k]
            guard start >= 0, sizes[k] >= 0, end <= categories.count else {
                throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) categories segment \(k) is out of range")
            }
            let set = Array(categories[start..<end])
            guard set.allSatisfy({ $0 >= 0 && $0 < 16_777_216 }) else {
                throw FerryError.invalid("not a valid XGBoost JSON model: tree \(t) has a category outside [0, 2^24)")
            }
            sets[nodes[k]] = set
        }
        return sets
    }

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
}
