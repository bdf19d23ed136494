import FerryCore
import Foundation

/// The trees of an ONNX TreeEnsembleClassifier, TreeEnsembleRegressor or TreeEnsemble (ai.onnx.ml 5), in one flat
/// node array, with onnxruntime's rules: the comparison in the thresholds' precision (float unless the
/// `*_as_tensor` attributes give doubles), a missing value going to the true branch only where the node tracks it,
/// leaf weights added per target in tree order, then averaged, minimized or maximized as the ensemble says.
struct ONNXTreeEnsemble: Sendable {
    enum Mode: UInt8 { case leq, lt, gte, gt, eq, neq, member, leaf }
    enum Aggregate: Sendable { case sum, average, min, max }

    struct Node {
        var feature: Int32 = 0
        var mode = Mode.leaf
        var missingTracksTrue = false
        var threshold: Double = 0
        var trueChild: Int32 = -1
        var falseChild: Int32 = -1
        /// For a leaf: where its (target, weight) pairs start in `weights`, and how many. For a MEMBER split: where its
        /// set starts in `sets` and its size.
        var start: Int32 = 0
        var count: Int32 = 0
    }

    let nodes: [Node]
    let roots: [Int32]
    let weights: [(target: Int32, weight: Double)]
    let sets: [Double]
    let targets: Int
    let aggregate: Aggregate
    let featureCount: Int
    /// The fast layout (`CompactForest`) when every split is an ordered comparison, every leaf writes one weight and
    /// each tree one target, and the ensemble sums or averages; float inputs run on it.
    let compact: (forest: CompactForest, groups: [Int32], targetsWritten: [Bool])?

    init(nodes: [Node], roots: [Int32], weights: [(target: Int32, weight: Double)], sets: [Double], targets: Int,
         aggregate: Aggregate) throws {
        self.nodes = nodes
        self.roots = roots
        self.weights = weights
        self.sets = sets
        self.targets = targets
        self.aggregate = aggregate
        featureCount = Int(nodes.filter { $0.mode != .leaf }.map(\.feature).max() ?? -1) + 1
        for (i, n) in nodes.enumerated() where n.mode != .leaf {
            guard n.trueChild >= 0, n.trueChild < nodes.count, n.falseChild >= 0, n.falseChild < nodes.count, n.feature >= 0 else {
                throw ONNXError.message("tree node \(i) points outside the ensemble")
            }
        }
        for w in weights where w.target < 0 || w.target >= targets {
            throw ONNXError.message("a leaf weight names target \(w.target) of \(targets)")
        }
        try Self.checkAcyclic(nodes, roots: roots)
        compact = Self.compacted(nodes, roots: roots, weights: weights, targets: targets, aggregate: aggregate)
    }

    /// Each tree in CompactForest's layout, where "go left" is `v < threshold` (NaN left when flagged): x <= t is
    /// x < nextUp(t) in float; >= and > swap the branches. Nil when the ensemble does not fit it.
    static func compacted(_ nodes: [Node], roots: [Int32], weights: [(target: Int32, weight: Double)], targets: Int,
                          aggregate: Aggregate) -> (forest: CompactForest, groups: [Int32], targetsWritten: [Bool])? {
        guard aggregate == .sum || aggregate == .average else { return nil }
        var compact: [CompactForest.Node] = []
        var leaves: [Float] = []
        var compactRoots: [UInt32] = []
        var groups: [Int32] = []
        var written = [Bool](repeating: false, count: targets)
        for root in roots {
            // Each tree is copied on its own (trees may share nodes in ONNX; the copy never does).
            var target: Int32?
            func copy(_ i: Int) -> UInt32? {
                let n = nodes[i]
                let index = compact.count
                if n.mode == .leaf {
                    guard n.count == 1 else { return nil }
                    let w = weights[Int(n.start)]
                    guard target == nil || target == w.target else { return nil }
                    target = w.target
                    compact.append(CompactForest.leaf(at: index))
                    leaves.append(Float(w.weight))
                    return UInt32(index)
                }
                // An infinite threshold (a split for missing values only) is kept: x <= +inf is x < +inf for every
                // finite x, and `scores` runs rows with an infinite value on the generic path.
                let t = Float(n.threshold)
                guard !t.isNaN, n.feature < 0x7FFF_FFFF else { return nil }
                let swap: Bool
                let threshold: Float
                switch n.mode {
                case .leq: (swap, threshold) = (false, t.nextUp)
                case .lt: (swap, threshold) = (false, t)
                case .gte: (swap, threshold) = (true, t)
                case .gt: (swap, threshold) = (true, t.nextUp)
                default: return nil
                }
                // NaN goes to the true branch when tracked, else to the false one.
                let nanLeft = swap ? !n.missingTracksTrue : n.missingTracksTrue
                compact.append(CompactForest.Node(
                    threshold: threshold, featureAndFlag: UInt32(n.feature) | (nanLeft ? 0x8000_0000 : 0), left: 0, right: 0))
                leaves.append(0)
                guard let a = copy(Int(swap ? n.falseChild : n.trueChild)), let b = copy(Int(swap ? n.trueChild : n.falseChild)) else { return nil }
                compact[index].left = a
                compact[index].right = b
                return UInt32(index)
            }
            guard let r = copy(Int(root)), let target else { return nil }
            compactRoots.append(r)
            groups.append(target)
            written[Int(target)] = true
        }
        guard let forest = CompactForest(nodes: compact, leafValues: leaves, roots: compactRoots) else { return nil }
        return (forest, groups, written)
    }

    static func checkAcyclic(_ nodes: [Node], roots: [Int32]) throws {
        // Every path from a root must reach a leaf within as many steps as there are nodes.
        var depth = [Int](repeating: -1, count: nodes.count)
        for root in roots {
            var stack: [(Int, Int)] = [(Int(root), 0)]
            while let (i, d) = stack.popLast() {
                guard d <= nodes.count else { throw ONNXError.message("the trees have a cycle") }
                if depth[i] >= d { continue }
                depth[i] = d
                let n = nodes[i]
                if n.mode != .leaf { stack.append((Int(n.trueChild), d + 1)); stack.append((Int(n.falseChild), d + 1)) }
            }
        }
    }

    @inline(__always)
    func goesTrue(_ n: Node, _ x: Double) -> Bool {
        if x.isNaN && n.missingTracksTrue { return true }
        switch n.mode {
        case .leq: return x <= n.threshold
        case .lt: return x < n.threshold
        case .gte: return x >= n.threshold
        case .gt: return x > n.threshold
        case .eq: return x == n.threshold
        case .neq: return x != n.threshold
        case .member:
            // onnxruntime implements set membership for integers only: the value is truncated first.
            let set = sets[Int(n.start)..<Int(n.start + n.count)]
            return set.contains(x.rounded(.towardZero))
        case .leaf: return false
        }
    }

    /// Per row, per target: the aggregated score (a sum, an average over all trees, a minimum or a maximum), and
    /// whether any leaf wrote to the target.
    /// `singlePrecision`: the input is not double, so values, thresholds and sums are float32 (onnxruntime's
    /// ThresholdType follows the input type).
    func scores(_ x: [Double], rows: Int, columns: Int, singlePrecision: Bool) -> (scores: [Double], hasScore: [Bool]) {
        if singlePrecision, let compact, !x.contains(where: \.isInfinite) {
            return compactScores(compact, x, rows: rows, columns: columns)
        }
        var scores = [Double](repeating: 0, count: rows * targets)
        var has = [Bool](repeating: false, count: rows * targets)
        var row = [Double](repeating: 0, count: columns)
        var sum = [Float](repeating: 0, count: targets)
        for r in 0..<rows {
            for c in 0..<columns { row[c] = singlePrecision ? Double(Float(x[r * columns + c])) : x[r * columns + c] }
            for t in 0..<targets { sum[t] = 0 }
            var dsum = [Double](repeating: 0, count: targets)
            let base = r * targets
            for root in roots {
                var i = Int(root)
                while nodes[i].mode != .leaf {
                    let n = nodes[i]
                    i = Int(goesTrue(n, row[Int(n.feature)]) ? n.trueChild : n.falseChild)
                }
                let leaf = nodes[i]
                for w in weights[Int(leaf.start)..<Int(leaf.start + leaf.count)] {
                    let t = Int(w.target)
                    switch aggregate {
                    case .sum, .average:
                        if singlePrecision { sum[t] += Float(w.weight) } else { dsum[t] += w.weight }
                    case .min:
                        scores[base + t] = has[base + t] ? Swift.min(scores[base + t], w.weight) : w.weight
                    case .max:
                        scores[base + t] = has[base + t] ? Swift.max(scores[base + t], w.weight) : w.weight
                    }
                    has[base + t] = true
                }
            }
            if aggregate == .sum || aggregate == .average {
                for t in 0..<targets {
                    var s = singlePrecision ? Double(sum[t]) : dsum[t]
                    if aggregate == .average {
                        s = singlePrecision ? Double(Float(s) / Float(roots.count)) : s / Double(roots.count)
                    }
                    scores[base + t] = s
                }
            }
        }
        return (scores, has)
    }
}

extension ONNXTreeEnsemble {
    func compactScores(_ compact: (forest: CompactForest, groups: [Int32], targetsWritten: [Bool]), _ x: [Double],
                       rows: Int, columns: Int) -> (scores: [Double], hasScore: [Bool]) {
        var sums = [Float](repeating: 0, count: rows * targets)
        x.withUnsafeBufferPointer { x in
            sums.withUnsafeMutableBufferPointer { out in
                compact.forest.accumulate(
                    x.baseAddress!, rows: rows, featureCount: columns, out: out.baseAddress!, outputs: targets, groups: compact.groups, weights: nil)
            }
        }
        if aggregate == .average {
            let n = Float(roots.count)
            for i in sums.indices { sums[i] /= n }
        }
        var has = [Bool](repeating: false, count: rows * targets)
        for r in 0..<rows { for t in 0..<targets { has[r * targets + t] = compact.targetsWritten[t] } }
        return (sums.map(Double.init), has)
    }

    /// A regressor's outputs from the aggregated scores (onnxruntime's `FinalizeScores1` / `FinalizeScores`): the
    /// base value added; with one target only PROBIT is applied; with several, a target no leaf reached is 0
    /// (its base value dropped) and then every transform applies.
    func regression(_ scores: [Double], has: [Bool], base: [Double], transform: PostTransform, singlePrecision: Bool) -> [Double] {
        var out = scores
        let k = targets
        for r in 0..<(scores.count / max(k, 1)) {
            for t in 0..<k {
                let b = base.isEmpty ? 0 : base.count == 1 && k > 1 ? 0 : base[min(t, base.count - 1)]
                let i = r * k + t
                out[i] = singlePrecision ? Double(Float(scores[i]) + Float(b)) : scores[i] + b
                if k > 1 && !has[i] { out[i] = 0 }
            }
            if k == 1 {
                if transform == .probit { out[r] = Double(PostTransform.probit(Float(out[r]))) }
            } else if transform != .none {
                var row = Array(out[(r * k)..<((r + 1) * k)])
                transform.apply(&row)
                out.replaceSubrange((r * k)..<((r + 1) * k), with: row)
            }
        }
        return out
    }
}

// MARK: - Reading the ensembles from node attributes

extension ONNXTreeEnsemble {
    /// The TreeEnsembleClassifier / TreeEnsembleRegressor layout: parallel `nodes_*` arrays keyed by (tree, node)
    /// ids, and `class_*` or `target_*` arrays naming the leaves' weights.
    init(legacy a: ONNXAttributes, weightPrefix prefix: String, targets: Int, aggregate: Aggregate) throws {
        let treeIDs = a.ints("nodes_treeids"), nodeIDs = a.ints("nodes_nodeids")
        let features = a.ints("nodes_featureids"), modes = a.strings("nodes_modes")
        let trueIDs = a.ints("nodes_truenodeids"), falseIDs = a.ints("nodes_falsenodeids")
        let missing = a.ints("nodes_missing_value_tracks_true")
        let doubleValues = try a.tensor("nodes_values_as_tensor")
        let values: [Double] = try doubleValues.map { t in
            guard case .double(let v) = t.storage else { throw ONNXError.message("nodes_values_as_tensor must be double") }
            return v
        } ?? a.floats("nodes_values").map(Double.init)
        let n = treeIDs.count
        guard n > 0, nodeIDs.count == n, features.count == n, modes.count == n, trueIDs.count == n, falseIDs.count == n,
              values.count == n || values.isEmpty, missing.isEmpty || missing.count == n else {
            throw ONNXError.message("the nodes_* attributes have different lengths")
        }
        var index: [Int64: [Int64: Int]] = [:]   // tree → node id → position
        var roots: [Int32] = []
        var treeOrder: [Int64] = []
        for i in 0..<n {
            if index[treeIDs[i]] == nil { index[treeIDs[i]] = [:]; treeOrder.append(treeIDs[i]) }
            guard index[treeIDs[i]]![nodeIDs[i]] == nil else {
                throw ONNXError.message("tree \(treeIDs[i]) has node \(nodeIDs[i]) twice")
            }
            index[treeIDs[i]]![nodeIDs[i]] = i
        }
        var nodes = [Node](repeating: Node(), count: n)
        for i in 0..<n {
            let mode: Mode = switch modes[i] {
            case "BRANCH_LEQ": .leq
            case "BRANCH_LT": .lt
            case "BRANCH_GTE": .gte
            case "BRANCH_GT": .gt
            case "BRANCH_EQ": .eq
            case "BRANCH_NEQ": .neq
            case "LEAF": .leaf
            default: throw ONNXError.message("node mode '\(modes[i])' is not known")
            }
            var node = Node(mode: mode)
            if mode != .leaf {
                let tree = index[treeIDs[i]]!
                guard let t = tree[trueIDs[i]], let f = tree[falseIDs[i]] else {
                    throw ONNXError.message("tree \(treeIDs[i]) node \(nodeIDs[i]) points at a node the tree does not have")
                }
                node.feature = Int32(clamping: features[i])
                node.threshold = values.isEmpty ? 0 : values[i]
                node.trueChild = Int32(t)
                node.falseChild = Int32(f)
                node.missingTracksTrue = !missing.isEmpty && missing[i] != 0
            }
            nodes[i] = node
        }
        // A tree's root is the node no other node of the tree points at.
        var pointed = Set<Int>()
        for node in nodes where node.mode != .leaf { pointed.insert(Int(node.trueChild)); pointed.insert(Int(node.falseChild)) }
        for tree in treeOrder {
            let candidates = index[tree]!.values.filter { !pointed.contains($0) }
            guard candidates.count == 1 else { throw ONNXError.message("tree \(tree) has \(candidates.count) roots") }
            roots.append(Int32(candidates[0]))
        }
        // Leaf weights.
        let wTrees = a.ints("\(prefix)_treeids"), wNodes = a.ints("\(prefix)_nodeids"), wIDs = a.ints("\(prefix)_ids")
        let wValues: [Double] = try a.tensor("\(prefix)_weights_as_tensor").map { t in
            guard case .double(let v) = t.storage else { throw ONNXError.message("\(prefix)_weights_as_tensor must be double") }
            return v
        } ?? a.floats("\(prefix)_weights").map(Double.init)
        guard wTrees.count == wNodes.count, wIDs.count == wNodes.count, wValues.count == wNodes.count else {
            throw ONNXError.message("the \(prefix)_* attributes have different lengths")
        }
        var perLeaf: [Int: [(Int32, Double)]] = [:]
        for k in wTrees.indices {
            guard let position = index[wTrees[k]]?[wNodes[k]], nodes[position].mode == .leaf else {
                throw ONNXError.message("\(prefix) weight \(k) names tree \(wTrees[k]) node \(wNodes[k]), which is not a leaf")
            }
            perLeaf[position, default: []].append((Int32(clamping: wIDs[k]), wValues[k]))
        }
        var weights: [(target: Int32, weight: Double)] = []
        for i in 0..<n where nodes[i].mode == .leaf {
            let list = perLeaf[i] ?? []
            nodes[i].start = Int32(weights.count)
            nodes[i].count = Int32(list.count)
            weights += list.map { (target: $0.0, weight: $0.1) }
        }
        try self.init(
            nodes: nodes, roots: roots, weights: weights, sets: [], targets: targets, aggregate: aggregate)
    }

    /// TreeEnsemble (ai.onnx.ml 5): split nodes and leaves in separate arrays, tree roots given, modes as a uint8
    /// tensor, MEMBER sets in `membership_values` separated by NaN.
    init(opset5 a: ONNXAttributes) throws {
        let roots = a.ints("tree_roots").map(Int.init)
        let features = a.ints("nodes_featureids")
        let trueIDs = a.ints("nodes_truenodeids"), falseIDs = a.ints("nodes_falsenodeids")
        let trueLeaf = a.ints("nodes_trueleafs"), falseLeaf = a.ints("nodes_falseleafs")
        let missing = a.ints("nodes_missing_value_tracks_true")
        guard let splitTensor = try a.tensor("nodes_splits"), let modeTensor = try a.tensor("nodes_modes"),
              let leafTensor = try a.tensor("leaf_weights") else {
            throw ONNXError.message("TreeEnsemble needs nodes_splits, nodes_modes and leaf_weights")
        }
        let splits = try splitTensor.floats("nodes_splits").map(Double.init)
        let splitValues: [Double] = if case .double(let v) = splitTensor.storage { v } else { splits }
        let modes = try modeTensor.integers("nodes_modes")
        let leafWeights: [Double] = if case .double(let v) = leafTensor.storage { v } else { try leafTensor.floats("leaf_weights").map(Double.init) }
        let leafTargets = a.ints("leaf_targetids")
        let s = features.count
        guard trueIDs.count == s, falseIDs.count == s, trueLeaf.count == s, falseLeaf.count == s, splitValues.count == s,
              modes.count == s, missing.isEmpty || missing.count == s, leafTargets.count == leafWeights.count else {
            throw ONNXError.message("the nodes_* or leaf_* attributes have different lengths")
        }
        let sets: [Double] = try a.tensor("membership_values").map { t in
            if case .double(let v) = t.storage { return v }
            return try t.floats("membership_values").map(Double.init)
        } ?? []
        // Split nodes first, then one node per leaf.
        var nodes: [Node] = []
        var setCursor = 0
        var memberSets: [Double] = []
        for i in 0..<s {
            guard let mode = Mode(rawValue: UInt8(clamping: modes[i])), mode != .leaf else {
                throw ONNXError.message("node mode \(modes[i]) is not known")
            }
            var node = Node(feature: Int32(clamping: features[i]), mode: mode, missingTracksTrue: !missing.isEmpty && missing[i] != 0,
                            threshold: splitValues[i])
            func child(_ id: Int64, leaf: Bool) throws -> Int32 {
                let limit = leaf ? leafWeights.count : s
                guard id >= 0, id < limit else { throw ONNXError.message("node \(i) points at \(leaf ? "leaf" : "node") \(id) of \(limit)") }
                return Int32(leaf ? s + Int(id) : Int(id))
            }
            node.trueChild = try child(trueIDs[i], leaf: trueLeaf[i] != 0)
            node.falseChild = try child(falseIDs[i], leaf: falseLeaf[i] != 0)
            if mode == .member {
                node.start = Int32(memberSets.count)
                while setCursor < sets.count && !sets[setCursor].isNaN { memberSets.append(sets[setCursor]); setCursor += 1 }
                setCursor += 1
                node.count = Int32(memberSets.count) - node.start
            }
            nodes.append(node)
        }
        var weights: [(target: Int32, weight: Double)] = []
        for k in leafWeights.indices {
            nodes.append(Node(mode: .leaf, start: Int32(weights.count), count: 1))
            weights.append((Int32(clamping: leafTargets[k]), leafWeights[k]))
        }
        // A root may itself be a leaf when the tree is a single leaf: tree_roots index split nodes only, so a
        // tree of one leaf is written as a split whose both branches are that leaf.
        for r in roots where r < 0 || r >= s { throw ONNXError.message("tree root \(r) is not a split node") }
        let aggregate: Aggregate = switch a.int("aggregate_function", default: 1) {
        case 0: .average
        case 2: .min
        case 3: .max
        default: .sum
        }
        try self.init(
            nodes: nodes, roots: roots.map { Int32($0) }, weights: weights, sets: memberSets,
            targets: a.int("n_targets", default: 1), aggregate: aggregate)
    }
}
