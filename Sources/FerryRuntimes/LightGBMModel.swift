import FerryCore
import Foundation

/// A loaded LightGBM model: all trees in one flat node array.
struct LightGBMModel: Predictor {
    struct Node {
        var threshold: Double
        var feature: Int32
        /// Child indexes: ≥ 0 an internalCount node of the same tree, < 0 the leaf `~child`; both made absolute.
        var left: Int32
        var right: Int32
        var decisionType: UInt8
        /// Categorical splits: bitset words in `categoryWords`.
        var categoryStart: Int32
        var categoryWordCount: Int32

        var isCategorical: Bool { decisionType & 1 != 0 }
        var defaultLeft: Bool { decisionType & 2 != 0 }
        /// 0 none, 1 zero, 2 NaN.
        var missingType: UInt8 { (decisionType >> 2) & 3 }
    }

    struct Tree {
        var rootNode: Int32
        /// First leaf in `leafValues` (and linear-leaf arrays).
        var leafBase: Int32
        /// A tree with one leaf has no nodes.
        var isConstant: Bool
        var isLinear: Bool
    }

    struct LinearLeaf {
        var constant: Double
        var features: [Int32]
        var coefficients: [Double]
    }

    let nodes: [Node]
    let trees: [Tree]
    let leafValues: [Double]
    /// Training rows that reached each leaf / internal node (`leaf_count`, `internal_count`), for TreeSHAP;
    /// empty when the model does not carry them.
    let leafCounts: [Double]
    let internalCounts: [Double]
    let linearLeaves: [Int: LinearLeaf]
    let categoryWords: [UInt32]
    let treesPerIteration: Int
    let averageOutput: Bool
    var threads = 1
    /// The fast layout, when every split is numeric and no leaf is linear.
    private(set) var compact: CompactLightGBM?

    var memoryBytes: Int {
        byteCount(nodes) + byteCount(trees) + byteCount(leafValues) + byteCount(leafCounts) + byteCount(internalCounts)
            + byteCount(categoryWords) + linearLeaves.values.reduce(0) { $0 + 64 + byteCount($1.features) + byteCount($1.coefficients) }
            + (compact.map { byteCount($0.nodes) + byteCount($0.leafValues) + byteCount($0.roots) + byteCount($0.depths) } ?? 0)
    }
    let objective: LightGBMObjective
    let featureCount: Int
    let outputSchema: OutputSchema
    let description: ModelDescription

    var groupCount: Int { treesPerIteration }

    init(parsing artifact: Data) throws {
        guard let text = String(data: artifact, encoding: .utf8) else {
            throw FerryError.invalid("not a valid LightGBM text model: the file is not UTF-8 text")
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        guard lines.first.map({ $0.trimmingCharacters(in: .whitespaces) == "tree" }) == true else {
            throw FerryError.invalid("not a valid LightGBM text model: it must start with the line 'tree' (save it with booster.save_model(\"model.txt\"))")
        }
        var header: [String: String] = [:]
        var headerFlags: Set<String> = []
        var blocks: [[String: String]] = []
        var current: [String: String]?
        var pandasCategorical: String?
        var inTrees = true
        for raw in lines.dropFirst() {
            let line = String(raw)
            if line.hasPrefix("pandas_categorical:") {
                pandasCategorical = String(line.dropFirst("pandas_categorical:".count))
                continue
            }
            if line == "end of trees" {
                if let block = current { blocks.append(block) }
                current = nil
                inTrees = false
                continue
            }
            guard inTrees else { continue }
            if line.hasPrefix("Tree=") {
                if let block = current { blocks.append(block) }
                current = ["Tree": String(line.dropFirst(5))]
                continue
            }
            guard !line.isEmpty else { continue }
            let (key, value) = line.firstIndex(of: "=").map { (String(line[..<$0]), String(line[line.index(after: $0)...])) } ?? (line, "")
            if current != nil { current![key] = value } else if value.isEmpty { headerFlags.insert(key) } else { header[key] = value }
        }
        if let block = current { blocks.append(block) }

        guard let objectiveLine = header["objective"] else {
            throw FerryError.invalid("not a valid LightGBM text model: no 'objective=' line in the header")
        }
        let objective = try LightGBMObjective(line: objectiveLine)
        guard let maxFeature = header["max_feature_idx"].flatMap(Int.init), maxFeature >= 0 else {
            throw FerryError.invalid("not a valid LightGBM text model: missing or invalid 'max_feature_idx='")
        }
        let featureCount = maxFeature + 1
        let perIteration = header["num_tree_per_iteration"].flatMap(Int.init) ?? 1
        guard perIteration >= 1 else { throw FerryError.invalid("not a valid LightGBM text model: num_tree_per_iteration < 1") }
        guard !blocks.isEmpty else { throw FerryError.invalid("not a valid LightGBM text model: it has no trees") }
        guard blocks.count % perIteration == 0 else {
            throw FerryError.invalid("not a valid LightGBM text model: \(blocks.count) trees is not a multiple of num_tree_per_iteration \(perIteration)")
        }

        var nodes: [Node] = []
        var trees: [Tree] = []
        var leafValues: [Double] = []
        var linearLeaves: [Int: LinearLeaf] = [:]
        var categoryWords: [UInt32] = []
        var leafCounts: [Double] = []
        var internalCounts: [Double] = []
        var hasCounts = true
        var importance = FeatureImportance(featureCount: featureCount)
        for (t, block) in blocks.enumerated() {
            func field(_ key: String) throws -> String {
                guard let v = block[key] else { throw FerryError.invalid("not a valid LightGBM text model: tree \(t) has no '\(key)='") }
                return v
            }
            func numbers<T>(_ key: String, _ count: Int, _ parse: (Substring) -> T?) throws -> [T] {
                let text = count == 0 ? (block[key] ?? "") : try field(key)
                let items = text.split(separator: " ")
                let values = items.compactMap(parse)
                guard values.count == count, items.count == count else {
                    throw FerryError.invalid("not a valid LightGBM text model: tree \(t) '\(key)' has \(items.count) numbers, expected \(count)")
                }
                return values
            }
            guard let leaves = Int(try field("num_leaves")), leaves >= 1 else {
                throw FerryError.invalid("not a valid LightGBM text model: tree \(t) has an invalid num_leaves")
            }
            let internalCount = leaves - 1
            let leafBase = Int32(leafValues.count)
            leafValues += try numbers("leaf_value", leaves) { Double($0) }
            if block["leaf_count"] != nil, leaves == 1 || block["internal_count"] != nil {
                leafCounts += try numbers("leaf_count", leaves) { Double($0) }
                internalCounts += try numbers("internal_count", leaves - 1) { Double($0) }
            } else {
                hasCounts = false
            }
            let isLinear = (block["is_linear"] ?? "0") == "1"
            if isLinear {
                let consts = try numbers("leaf_const", leaves) { Double($0) }
                let counts = try numbers("num_features", leaves) { Int($0) }
                let total = counts.reduce(0, +)
                let features = try numbers("leaf_features", total) { Int32($0) }
                let coefficients = try numbers("leaf_coeff", total) { Double($0) }
                var offset = 0
                for leaf in 0..<leaves {
                    let range = offset..<(offset + counts[leaf])
                    guard features[range].allSatisfy({ $0 >= 0 && Int($0) < featureCount }) else {
                        throw FerryError.invalid("not a valid LightGBM text model: tree \(t) leaf \(leaf) uses a feature out of range")
                    }
                    linearLeaves[Int(leafBase) + leaf] = LinearLeaf(
                        constant: consts[leaf], features: Array(features[range]), coefficients: Array(coefficients[range]))
                    offset += counts[leaf]
                }
            }
            let root = Int32(nodes.count)
            trees.append(Tree(rootNode: root, leafBase: leafBase, isConstant: internalCount == 0, isLinear: isLinear))
            guard internalCount > 0 else { continue }

            let splitFeature = try numbers("split_feature", internalCount) { Int32($0) }
            let thresholds = try numbers("threshold", internalCount) { Double($0) }
            let decision = try numbers("decision_type", internalCount) { UInt8($0) }
            let left = try numbers("left_child", internalCount) { Int32($0) }
            let right = try numbers("right_child", internalCount) { Int32($0) }
            let gains = (try? numbers("split_gain", internalCount) { Double($0) }) ?? []
            let numCat = Int(block["num_cat"] ?? "0") ?? 0
            var boundaries: [Int] = []
            var catThreshold: [UInt32] = []
            if numCat > 0 {
                boundaries = try numbers("cat_boundaries", numCat + 1) { Int($0) }
                catThreshold = try numbers("cat_threshold", boundaries.last ?? 0) { UInt32($0) }
            }
            for i in 0..<internalCount {
                func child(_ c: Int32) throws -> Int32 {
                    if c >= 0 {
                        guard Int(c) < internalCount, Int(c) > i else {
                            throw FerryError.invalid("not a valid LightGBM text model: tree \(t) node \(i) points at node \(c)")
                        }
                        return root + c
                    }
                    guard Int(~c) < leaves else {
                        throw FerryError.invalid("not a valid LightGBM text model: tree \(t) node \(i) points at leaf \(~c) of \(leaves)")
                    }
                    return ~(leafBase + ~c)
                }
                guard splitFeature[i] >= 0, Int(splitFeature[i]) < featureCount else {
                    throw FerryError.invalid("not a valid LightGBM text model: tree \(t) node \(i) splits on feature \(splitFeature[i]) of \(featureCount)")
                }
                importance.add(feature: Int(splitFeature[i]), gain: gains[safe: i] ?? 0)
                var node = Node(
                    threshold: thresholds[i], feature: splitFeature[i], left: try child(left[i]), right: try child(right[i]),
                    decisionType: decision[i], categoryStart: -1, categoryWordCount: 0)
                if node.isCategorical {
                    let index = Int(thresholds[i])
                    guard index >= 0, index < numCat else {
                        throw FerryError.invalid("not a valid LightGBM text model: tree \(t) node \(i) names category set \(index) of \(numCat)")
                    }
                    node.categoryStart = Int32(categoryWords.count)
                    node.categoryWordCount = Int32(boundaries[index + 1] - boundaries[index])
                    categoryWords += catThreshold[boundaries[index]..<boundaries[index + 1]]
                }
                nodes.append(node)
            }
        }

        self.nodes = nodes
        self.trees = trees
        self.leafValues = leafValues
        self.leafCounts = hasCounts ? leafCounts : []
        self.internalCounts = hasCounts ? internalCounts : []
        self.linearLeaves = linearLeaves
        self.categoryWords = categoryWords
        self.treesPerIteration = perIteration
        self.averageOutput = headerFlags.contains("average_output")
        self.objective = objective
        self.featureCount = featureCount

        let outputs = OutputSchema(outputs: [OutputSpec(
            name: "predict", datatype: .fp64, shape: perIteration > 1 ? [perIteration] : [], description: objective.meaning)])
        self.outputSchema = outputs
        var names = header["feature_names"].map { $0.split(separator: " ").map(String.init) } ?? []
        if names.count != featureCount { names = (0..<featureCount).map { "Column_\($0)" } }
        let infos = header["feature_infos"].map { $0.split(separator: " ").map(String.init) } ?? []
        let categorical = infos.indices.filter { !infos[$0].hasPrefix("[") && infos[$0] != "none" && $0 < names.count }
        let task: ModelTask = switch objective.transform {
        case .softmax, .ovaSigmoid: .multiclassClassification
        case .sigmoid: objective.name == "binary" ? .binaryClassification : .regression
        default: .regression
        }
        var details: [String: JSONValue] = [
            "task": .string(task.rawValue),
            "objective": .string(objectiveLine),
            "num_trees": .number(Double(trees.count)),
            "num_feature": .number(Double(featureCount)),
            "num_tree_per_iteration": .number(Double(perIteration)),
        ]
        if let v = header["version"] { details["lightgbm_format"] = .string(v) }
        if averageOutput { details["average_output"] = .bool(true) }
        if !categorical.isEmpty { details["categorical_features"] = .array(categorical.map { .string(names[$0]) }) }
        if linearLeaves.count > 0 { details["linear_tree"] = .bool(true) }
        details["feature_importance"] = importance.json(names: names)
        var features = names.map { FeatureSpec(name: $0, datatype: .fp64) }
        // pandas_categorical lists each pandas category column's categories, in column order; a code is an index.
        if let pandasCategorical, let json = pandasCategorical.data(using: .utf8),
           let lists = try? JSONSerialization.jsonObject(with: json) as? [[Any]], lists.count == categorical.count {
            for (feature, list) in zip(categorical, lists) {
                features[feature].categories = list.map { "\($0)" }
            }
        }
        self.description = ModelDescription(
            inputSchema: InputSchema(features: features), outputSchema: outputs, details: details)
        self.compact = CompactLightGBM(self)
    }
}
