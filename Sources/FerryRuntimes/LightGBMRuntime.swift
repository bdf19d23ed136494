import FerryCore
import Foundation

extension ModelFormat {
    /// LightGBM's text model (`booster.save_model("model.txt")`).
    public static let lightgbmText = ModelFormat(rawValue: "lightgbm-text")
}

/// Runs LightGBM text models natively, in double precision as LightGBM does.
///
/// Supported: numeric splits (`x <= threshold` on doubles) with LightGBM's three missing-value types, categorical
/// bitset splits, multi-class (`num_tree_per_iteration`), random-forest averaging (`average_output`), linear trees,
/// and the objectives in `LightGBMObjective`. Anything else is refused at registration, naming what and where.
public struct LightGBMRuntime: ModelRuntime {
    /// Threads a large batch is split across (batches under `TreeParallelism.minimumRows` use one).
    public let threads: Int

    public init(threads: Int = TreeParallelism.defaultThreads) {
        self.threads = max(1, threads)
    }

    public var format: ModelFormat { .lightgbmText }

    public func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription {
        try checkOptions(options, known: [])
        return try LightGBMModel(parsing: artifact).description
    }

    public func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor {
        try checkOptions(options, known: [])
        var model = try LightGBMModel(parsing: artifact)
        model.threads = threads
        return model
    }

    /// LightGBM text models open with the line `tree`.
    public func recognizes(_ artifact: Data) -> Bool {
        artifact.starts(with: Array("tree\n".utf8)) || artifact.starts(with: Array("tree\r\n".utf8))
    }
}

/// LightGBM objectives and their output transforms (`ObjectiveFunction::ConvertOutput`).
struct LightGBMObjective {
    enum Transform: Equatable {
        case identity
        case sigmoid(Double)
        case softmax
        case ovaSigmoid(Double)
        case exp
        case square
        case log1pExp
    }

    var name: String
    var transform: Transform
    var numClass: Int

    static let identityObjectives: Set<String> = [
        "regression", "regression_l2", "l2", "mean_squared_error", "mse", "regression_l1", "l1",
        "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape", "lambdarank", "rank_xendcg", "custom",
    ]

    /// Parses the `objective=` header line, e.g. `binary sigmoid:1`, `multiclass num_class:3`, `regression sqrt`.
    init(line: String) throws {
        let parts = line.split(separator: " ").map(String.init)
        guard let first = parts.first else { throw FerryError.invalid("not a valid LightGBM model: empty objective line") }
        name = first
        var params: [String: String] = [:]
        var flags: Set<String> = []
        for p in parts.dropFirst() {
            if let colon = p.firstIndex(of: ":") {
                params[String(p[..<colon])] = String(p[p.index(after: colon)...])
            } else {
                flags.insert(p)
            }
        }
        numClass = Int(params["num_class"] ?? "1") ?? 1
        let sigmoid = Double(params["sigmoid"] ?? "1") ?? 1
        switch first {
        case "binary": transform = .sigmoid(sigmoid)
        case "multiclass", "softmax": transform = .softmax
        case "multiclassova", "multiclass_ova", "ova", "ovr": transform = .ovaSigmoid(sigmoid)
        case "cross_entropy", "xentropy": transform = .sigmoid(1)
        case "cross_entropy_lambda", "xentlambda": transform = .log1pExp
        case "poisson", "gamma", "tweedie": transform = .exp
        case let other where Self.identityObjectives.contains(other):
            transform = flags.contains("sqrt") ? .square : .identity
        default:
            throw FerryError(.unsupported, "LightGBM objective '\(first)' is not supported by Ferry's LightGBM runtime yet")
        }
    }

    var meaning: String {
        switch transform {
        case .sigmoid: name == "binary" ? "probability of the positive class" : "predicted probability"
        case .softmax, .ovaSigmoid: "probability of each class"
        case .exp: "predicted mean"
        case .identity, .square, .log1pExp: name.hasPrefix("lambdarank") || name == "rank_xendcg" ? "ranking score" : "predicted value"
        }
    }
}

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

    // MARK: Prediction

    func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
        guard batch.columns == featureCount else {
            throw FerryError.invalid("batch has \(batch.columns) columns; the model takes \(featureCount)")
        }
        let k = treesPerIteration
        var scores = rawScores(batch)
        // Random forests: the raw score is the sum over trees; predictions average it over the iterations.
        let iterations = Double(trees.count / k)
        for r in 0..<batch.rows {
            if averageOutput { for g in 0..<k { scores[r * k + g] /= iterations } }
            transform(&scores, from: r * k)
        }
        return [Tensor(name: "predict", datatype: .fp64, shape: k > 1 ? [batch.rows, k] : [batch.rows], data: .float64(scores))]
    }

    /// Raw scores per row and class: the sum of the leaves reached (as `predict(raw_score=True)`).
    func rawScores(_ batch: FeatureMatrix) -> [Double] {
        let k = treesPerIteration
        var out = [Double](repeating: 0, count: batch.rows * k)
        out.withUnsafeMutableBufferPointer { scores in
            let shared = SharedPointer(base: scores.baseAddress!)
            TreeParallelism.forEachChunk(rows: batch.rows, threads: threads) { range in
                let scores = shared.base
                if let compact {
                    let blockRows = 64
                    withUnsafeTemporaryAllocation(of: Double.self, capacity: blockRows * featureCount) { block in
                        var start = range.lowerBound
                        while start < range.upperBound {
                            let end = min(start + blockRows, range.upperBound)
                            for r in start..<end {
                                for c in 0..<featureCount {
                                    let v = batch.values[r * featureCount + c]
                                    block[(r - start) * featureCount + c] = abs(v) <= Self.zeroThreshold ? 0 : v
                                }
                            }
                            compact.accumulate(block.baseAddress!, rows: end - start, featureCount: featureCount,
                                               out: scores + start * k, classes: k)
                            start = end
                        }
                    }
                    return
                }
                var row = [Double](repeating: 0, count: featureCount)
                for r in range {
                    Self.prepare(batch, row: r, into: &row)
                    row.withUnsafeBufferPointer { x in
                        for (t, tree) in trees.enumerated() {
                            scores[r * k + t % k] += leafOutput(tree, row: x.baseAddress!)
                        }
                    }
                }
            }
        }
        return out
    }

    /// LightGBM's C API reads |x| ≤ 1e-35f as 0 (it stores rows sparsely), before any split sees the value.
    static let zeroThreshold = Double(Float(1e-35))

    static func prepare(_ batch: FeatureMatrix, row r: Int, into row: inout [Double]) {
        let start = r * batch.columns
        for c in 0..<batch.columns {
            let v = batch.values[start + c]
            row[c] = abs(v) <= zeroThreshold ? 0 : v
        }
    }

    /// The leaf a row reaches, as an index into `leafValues`.
    @inline(__always)
    func leaf(_ tree: Tree, row: UnsafePointer<Double>) -> Int {
        if tree.isConstant { return Int(tree.leafBase) }
        var i = tree.rootNode
        while i >= 0 {
            let node = nodes[Int(i)]
            i = node.isCategorical ? categoricalDecision(node, row[Int(node.feature)]) : numericalDecision(node, row[Int(node.feature)])
        }
        return Int(~i)
    }

    @inline(__always)
    func leafOutput(_ tree: Tree, row: UnsafePointer<Double>) -> Double {
        let index = leaf(tree, row: row)
        guard tree.isLinear, let linear = linearLeaves[index] else { return leafValues[index] }
        // LightGBM falls back to the plain leaf value when a feature of the linear model is missing.
        var output = linear.constant
        for (f, c) in zip(linear.features, linear.coefficients) {
            let v = row[Int(f)]
            if v.isNaN { return leafValues[index] }
            output += c * v
        }
        return output
    }

    /// LightGBM's `NumericalDecision`: missing values per the node's missing type, then `x <= threshold` goes left.
    @inline(__always)
    func numericalDecision(_ node: Node, _ value: Double) -> Int32 {
        var v = value
        let missing = node.missingType
        if v.isNaN && missing != 2 { v = 0 }
        if (missing == 1 && v >= -1e-35 && v <= 1e-35) || (missing == 2 && v.isNaN) {
            return node.defaultLeft ? node.left : node.right
        }
        return v <= node.threshold ? node.left : node.right
    }

    /// LightGBM's `CategoricalDecision`: NaN and negative categories go right; a category in the bitset goes left.
    @inline(__always)
    func categoricalDecision(_ node: Node, _ value: Double) -> Int32 {
        guard !value.isNaN, value > -1, value < 2_147_483_648 else { return node.right }
        let c = Int(value)
        let word = c >> 5
        guard word < Int(node.categoryWordCount) else { return node.right }
        return categoryWords[Int(node.categoryStart) + word] & (1 << UInt32(c & 31)) != 0 ? node.left : node.right
    }

    func transform(_ scores: inout [Double], from start: Int) {
        let k = treesPerIteration
        switch objective.transform {
        case .identity: break
        case .sigmoid(let s): scores[start] = 1 / (1 + Foundation.exp(-s * scores[start]))
        case .ovaSigmoid(let s):
            for g in start..<(start + k) { scores[g] = 1 / (1 + Foundation.exp(-s * scores[g])) }
        case .exp:
            for g in start..<(start + k) { scores[g] = Foundation.exp(scores[g]) }
        case .square:
            for g in start..<(start + k) { scores[g] = (scores[g] < 0 ? -1 : 1) * scores[g] * scores[g] }
        case .log1pExp:
            for g in start..<(start + k) { scores[g] = Foundation.log1p(Foundation.exp(scores[g])) }
        case .softmax:
            var m = -Double.infinity
            for g in start..<(start + k) { m = max(m, scores[g]) }
            var sum = 0.0
            for g in start..<(start + k) {
                scores[g] = Foundation.exp(scores[g] - m)
                sum += scores[g]
            }
            for g in start..<(start + k) { scores[g] /= sum }
        }
    }
}

// MARK: - Explanations

extension LightGBMModel: Explainer {
    /// One tree as TreeSHAP sees it: internal nodes by index into `nodes`, leaves as `~leafIndex`.
    struct SHAPView: SHAPTree {
        let model: LightGBMModel

        func isLeaf(_ n: Int) -> Bool { n < 0 }
        func children(_ n: Int) -> (left: Int, right: Int) { (Int(model.nodes[n].left), Int(model.nodes[n].right)) }
        func split(_ n: Int, row: UnsafePointer<Double>) -> (feature: Int, hot: Int, cold: Int) {
            let node = model.nodes[n]
            let value = row[Int(node.feature)]
            let hot = node.isCategorical ? model.categoricalDecision(node, value) : model.numericalDecision(node, value)
            return (Int(node.feature), Int(hot), Int(hot == node.left ? node.right : node.left))
        }
        func cover(_ n: Int) -> Double { n < 0 ? model.leafCounts[~n] : model.internalCounts[n] }
        func leafValue(_ n: Int) -> Double { model.leafValues[~n] }
    }

    /// Exact TreeSHAP contributions, as lightgbm's `pred_contrib=True` (they add up to the raw score).
    func contributions(_ batch: FeatureMatrix) throws -> (values: [Double], groups: Int) {
        guard !leafCounts.isEmpty else {
            throw FerryError(.unsupported, "this LightGBM model carries no leaf_count/internal_count, so contributions cannot be computed")
        }
        guard linearLeaves.isEmpty else {
            throw FerryError(.unsupported, "contributions are not available for LightGBM linear trees (LightGBM does not define them either)")
        }
        let k = treesPerIteration
        let width = featureCount + 1
        let view = SHAPView(model: self)
        let roots = trees.map { $0.isConstant ? ~Int($0.leafBase) : Int($0.rootNode) }
        let expected = roots.map { TreeSHAP.expectedValue(view, root: $0) }
        var out = [Double](repeating: 0, count: batch.rows * k * width)
        var row = [Double](repeating: 0, count: featureCount)
        for r in 0..<batch.rows {
            Self.prepare(batch, row: r, into: &row)
            var phi = [Double](repeating: 0, count: k * width)
            row.withUnsafeBufferPointer { x in
                for t in trees.indices {
                    let g = t % k
                    phi[g * width + featureCount] += expected[t]
                    TreeSHAP.accumulate(view, root: roots[t], row: x.baseAddress!, scale: 1, into: &phi, offset: g * width)
                }
            }
            out.replaceSubrange((r * k * width)..<((r + 1) * k * width), with: phi)
        }
        return (out, k)
    }
}
