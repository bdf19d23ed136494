/// LightGBM trees with only numeric splits and constant leaves, laid out for speed (see `CompactForest`).
///
/// Leaves become nodes that point at themselves, so rows take a fixed number of steps per tree and several rows
/// go down a tree side by side. Each node keeps LightGBM's own rule (`NumericalDecision`): results are the
/// generic traversal's exactly.
struct CompactLightGBM: Sendable {
    struct Node {
        var threshold: Double
        var feature: UInt32
        /// 0 no missing handling (NaN reads as 0), 1 zero is missing, 2 NaN is missing; +4 when missing goes left.
        var rule: UInt32
        var left: UInt32
        var right: UInt32
    }

    let nodes: [Node]
    let roots: [UInt32]
    let depths: [Int]
    /// Leaf values by node index (0 for split nodes).
    let leafValues: [Double]

    init?(_ model: LightGBMModel) {
        guard model.categoryWords.isEmpty, model.linearLeaves.isEmpty else { return nil }
        // Split nodes keep their indexes; leaf j of the model becomes node `model.nodes.count + j`.
        let leafBase = model.nodes.count
        func index(_ child: Int32) -> UInt32 { child >= 0 ? UInt32(child) : UInt32(leafBase + Int(~child)) }
        var nodes = model.nodes.map { n in
            Node(threshold: n.threshold, feature: UInt32(n.feature), rule: UInt32(n.missingType) | (n.defaultLeft ? 4 : 0),
                 left: index(n.left), right: index(n.right))
        }
        var leafValues = [Double](repeating: 0, count: leafBase)
        for (j, value) in model.leafValues.enumerated() {
            let me = UInt32(leafBase + j)
            nodes.append(Node(threshold: 0, feature: 0, rule: 0, left: me, right: me))
            leafValues.append(value)
        }
        self.nodes = nodes
        self.leafValues = leafValues
        roots = model.trees.map { $0.isConstant ? UInt32(leafBase + Int($0.leafBase)) : UInt32($0.rootNode) }
        depths = model.trees.map { tree in
            guard !tree.isConstant else { return 0 }
            func depth(_ i: Int32) -> Int {
                i < 0 ? 0 : 1 + max(depth(model.nodes[Int(i)].left), depth(model.nodes[Int(i)].right))
            }
            return depth(tree.rootNode)
        }
    }

    @inline(__always)
    static func step(_ nodes: UnsafePointer<Node>, _ i: UInt32, _ x: UnsafePointer<Double>) -> UInt32 {
        let n = nodes[Int(i)]
        var v = x[Int(n.feature)]
        switch n.rule & 3 {
        case 2:
            if v.isNaN { return n.rule & 4 != 0 ? n.left : n.right }
        case 1:
            if v.isNaN { v = 0 }
            if v == 0 { return n.rule & 4 != 0 ? n.left : n.right }
        default:
            if v.isNaN { v = 0 }
        }
        return v <= n.threshold ? n.left : n.right
    }

    /// Adds every tree's leaf to `out` (class `t % k` for tree `t`) for `rows` prepared rows.
    func accumulate(_ x: UnsafePointer<Double>, rows: Int, featureCount f: Int, out: UnsafeMutablePointer<Double>, classes k: Int) {
        nodes.withUnsafeBufferPointer { buffer in
            leafValues.withUnsafeBufferPointer { leaves in
                let nodes = buffer.baseAddress!
                for t in roots.indices {
                    let root = roots[t]
                    let depth = depths[t]
                    let o = out + t % k
                    var r = 0
                    while r + 4 <= rows {
                        let x0 = x + r * f
                        var i = (root, root, root, root)
                        for _ in 0..<depth {
                            i.0 = Self.step(nodes, i.0, x0)
                            i.1 = Self.step(nodes, i.1, x0 + f)
                            i.2 = Self.step(nodes, i.2, x0 + 2 * f)
                            i.3 = Self.step(nodes, i.3, x0 + 3 * f)
                        }
                        o[r * k] += leaves[Int(i.0)]
                        o[(r + 1) * k] += leaves[Int(i.1)]
                        o[(r + 2) * k] += leaves[Int(i.2)]
                        o[(r + 3) * k] += leaves[Int(i.3)]
                        r += 4
                    }
                    while r < rows {
                        // A lone row stops at its leaf (a leaf steps to itself) instead of taking `depth` steps.
                        var i = root
                        for _ in 0..<depth {
                            let next = Self.step(nodes, i, x + r * f)
                            if next == i { break }
                            i = next
                        }
                        o[r * k] += leaves[Int(i)]
                        r += 1
                    }
                }
            }
        }
    }
}
