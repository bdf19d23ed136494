/// XGBoost trees with only numeric splits and scalar leaves, laid out for speed.
///
/// Each node is 16 bytes. Leaves point at themselves, so a row can take exactly `depth` steps down a tree with
/// no "is this a leaf?" branch, and several rows go down the same tree side by side so the CPU overlaps their
/// memory loads. The missing-value rule is folded into the comparison: for a node whose missing values go left,
/// `!(v >= threshold)` is `v < threshold` for numbers and true for NaN; otherwise `v < threshold` is false for NaN.
/// The results are the generic traversal's, bit for bit (same comparisons in float32, same summation order).
struct CompactForest: Sendable {
    struct Node {
        var threshold: Float
        /// Feature index in the low 31 bits; the top bit set when missing values go left.
        var featureAndFlag: UInt32
        var left: UInt32
        var right: UInt32
    }

    let nodes: [Node]
    let roots: [UInt32]
    let depths: [Int]
    /// Leaf values by node index (0 for split nodes).
    let leafValues: [Float]

    /// Compacts a forest, or returns nil when it has categorical splits or vector leaves (the generic path runs those).
    init?(_ forest: XGBoostForest) {
        guard forest.categoryWords.isEmpty, forest.leafVectors.isEmpty else { return nil }
        var nodes: [Node] = []
        var leafValues: [Float] = []
        nodes.reserveCapacity(forest.nodes.count)
        for (i, n) in forest.nodes.enumerated() {
            if n.feature < 0 {
                nodes.append(Node(threshold: 0, featureAndFlag: 0, left: UInt32(i), right: UInt32(i)))
                leafValues.append(n.value)
            } else {
                nodes.append(Node(
                    threshold: n.value, featureAndFlag: UInt32(n.feature) | (n.defaultLeft ? 0x8000_0000 : 0),
                    left: UInt32(n.left), right: UInt32(n.right)))
                leafValues.append(0)
            }
        }
        self.init(nodes: nodes, leafValues: leafValues, roots: forest.roots.map { UInt32($0) })
    }

    /// Nodes already in the compact form (leaves pointing at themselves), with their leaf values.
    init(nodes: [Node], leafValues: [Float], roots: [UInt32]) {
        self.nodes = nodes
        self.leafValues = leafValues
        self.roots = roots
        depths = roots.map { root in
            func depth(_ i: UInt32) -> Int {
                let n = nodes[Int(i)]
                return n.left == i ? 0 : 1 + max(depth(n.left), depth(n.right))
            }
            return depth(root)
        }
    }

    /// Leaves point at themselves.
    static func leaf(at index: Int) -> Node {
        Node(threshold: 0, featureAndFlag: 0, left: UInt32(index), right: UInt32(index))
    }

    @inline(__always)
    static func step(_ nodes: UnsafePointer<Node>, _ i: UInt32, _ x: UnsafePointer<Float>) -> UInt32 {
        let n = nodes[Int(i)]
        let v = x[Int(n.featureAndFlag & 0x7FFF_FFFF)]
        let goLeft = n.featureAndFlag & 0x8000_0000 != 0 ? !(v >= n.threshold) : v < n.threshold
        return goLeft ? n.left : n.right
    }

    /// One row through every tree, eight trees side by side (a lone row has no other rows to overlap with);
    /// leaves are still added in tree order.
    func accumulateRow(_ x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, groups: [Int32], weights: [Float]?) {
        nodes.withUnsafeBufferPointer { buffer in
            leafValues.withUnsafeBufferPointer { leaves in
                let nodes = buffer.baseAddress!
                var t = 0
                while t + 8 <= roots.count {
                    var i = (roots[t], roots[t + 1], roots[t + 2], roots[t + 3], roots[t + 4], roots[t + 5], roots[t + 6], roots[t + 7])
                    let depth = max(max(max(depths[t], depths[t + 1]), max(depths[t + 2], depths[t + 3])),
                                    max(max(depths[t + 4], depths[t + 5]), max(depths[t + 6], depths[t + 7])))
                    for _ in 0..<depth {
                        i.0 = Self.step(nodes, i.0, x); i.1 = Self.step(nodes, i.1, x)
                        i.2 = Self.step(nodes, i.2, x); i.3 = Self.step(nodes, i.3, x)
                        i.4 = Self.step(nodes, i.4, x); i.5 = Self.step(nodes, i.5, x)
                        i.6 = Self.step(nodes, i.6, x); i.7 = Self.step(nodes, i.7, x)
                    }
                    withUnsafeBytes(of: i) { reached in
                        for j in 0..<8 {
                            let leaf = leaves[Int(reached.load(fromByteOffset: j * 4, as: UInt32.self))]
                            let g = Int(groups[t + j])
                            if let weights { out[g] += leaf * weights[t + j] } else { out[g] += leaf }
                        }
                    }
                    t += 8
                }
                while t < roots.count {
                    var i = roots[t]
                    for _ in 0..<depths[t] { i = Self.step(nodes, i, x) }
                    let g = Int(groups[t])
                    if let weights { out[g] += leaves[Int(i)] * weights[t] } else { out[g] += leaves[Int(i)] }
                    t += 1
                }
            }
        }
    }

    /// Adds every tree's leaf to `out` for `rows` rows of float32 features (row-major, `featureCount` wide).
    func accumulate(
        _ x: UnsafePointer<Float>, rows: Int, featureCount: Int, out: UnsafeMutablePointer<Float>, outputs k: Int,
        groups: [Int32], weights: [Float]?
    ) {
        if rows < 8 {
            for r in 0..<rows { accumulateRow(x + r * featureCount, out: out + r * k, groups: groups, weights: weights) }
            return
        }
        nodes.withUnsafeBufferPointer { buffer in
            leafValues.withUnsafeBufferPointer { leaves in
                let nodes = buffer.baseAddress!
                for t in roots.indices {
                    let root = roots[t]
                    let depth = depths[t]
                    let g = Int(groups[t])
                    let weight = weights?[t]
                    var r = 0
                    while r + 8 <= rows {
                        var i = (root, root, root, root, root, root, root, root)
                        let x0 = x + r * featureCount, f = featureCount
                        for _ in 0..<depth {
                            i.0 = Self.step(nodes, i.0, x0)
                            i.1 = Self.step(nodes, i.1, x0 + f)
                            i.2 = Self.step(nodes, i.2, x0 + 2 * f)
                            i.3 = Self.step(nodes, i.3, x0 + 3 * f)
                            i.4 = Self.step(nodes, i.4, x0 + 4 * f)
                            i.5 = Self.step(nodes, i.5, x0 + 5 * f)
                            i.6 = Self.step(nodes, i.6, x0 + 6 * f)
                            i.7 = Self.step(nodes, i.7, x0 + 7 * f)
                        }
                        let o = out + r * k + g
                        if let weight {
                            o[0] += leaves[Int(i.0)] * weight; o[k] += leaves[Int(i.1)] * weight
                            o[2 * k] += leaves[Int(i.2)] * weight; o[3 * k] += leaves[Int(i.3)] * weight
                            o[4 * k] += leaves[Int(i.4)] * weight; o[5 * k] += leaves[Int(i.5)] * weight
                            o[6 * k] += leaves[Int(i.6)] * weight; o[7 * k] += leaves[Int(i.7)] * weight
                        } else {
                            o[0] += leaves[Int(i.0)]; o[k] += leaves[Int(i.1)]
                            o[2 * k] += leaves[Int(i.2)]; o[3 * k] += leaves[Int(i.3)]
                            o[4 * k] += leaves[Int(i.4)]; o[5 * k] += leaves[Int(i.5)]
                            o[6 * k] += leaves[Int(i.6)]; o[7 * k] += leaves[Int(i.7)]
                        }
                        r += 8
                    }
                    while r < rows {
                        var i = root
                        for _ in 0..<depth { i = Self.step(nodes, i, x + r * featureCount) }
                        if let weight { out[r * k + g] += leaves[Int(i)] * weight } else { out[r * k + g] += leaves[Int(i)] }
                        r += 1
                    }
                }
            }
        }
    }
}
