/// Trees with only ordered numeric splits and scalar leaves, laid out for speed.
///
/// Callers describe each node as "go left when `v < threshold`" (missing values left when flagged), leaves pointing
/// at themselves. The layout the kernels read turns every split into one comparison, `x > threshold`, choosing
/// between two children stored side by side:
/// - missing values left: go right when `v >= t`, which is `v > nextDown(t)` (nothing lies between the two), and
///   false for NaN;
/// - missing values right: go left when `v < t`, which is `-v > -t`, read from a negated copy of the row (so
///   false for NaN too), with the children's order swapped.
/// A leaf reads a slot that is always 0 against +infinity and stays put, so a row takes exactly `depth` steps down a
/// tree with no "is this a leaf?" branch, and several rows go down the same tree side by side so the CPU overlaps
/// their memory loads. The results are the node-by-node traversal's, bit for bit (the same comparisons in float32,
/// the same summation order).
///
/// Widened rows are stored eight to a group, lane by lane: slot `s` of lane `j` is at `s * 8 + j` from the group's
/// start, and a step's `slot` is kept multiplied by 8. The eight rows of a group are then read through one pointer,
/// each at a constant offset: with a pointer per row the kernel ran out of registers, kept the pointers on the
/// stack and turned one row's comparison into a branch the processor mispredicted about half the time (perf).
///
/// The comparison itself is arithmetic, so no compiler can turn it into a branch: `x > t` is the sign bit of `t - x`.
/// That holds for a finite threshold that is not -0 (a split at -0 is stored at +0, which compares the same) and any
/// `x` whose NaNs are positive (the widened rows store every missing value as the positive quiet NaN, which the
/// subtraction passes on with its sign); `t - x` is zero only when `x == t`, and then +0. Splits at an infinite
/// threshold (none that training produces) take the generic path.
struct CompactForest: Sendable {
    /// A node as callers describe it.
    struct Node {
        var threshold: Float
        /// Feature index in the low 31 bits; the top bit set when missing values go left.
        var featureAndFlag: UInt32
        var left: UInt32
        var right: UInt32
    }

    /// A node as the kernels read it: go to `first + 1` when `row[slot] > threshold`, else to `first` (`slot` is
    /// already multiplied by the lanes of a group).
    struct Step {
        var threshold: Float
        var slot: UInt32
        var first: UInt32
    }

    let steps: [Step]
    let roots: [UInt32]
    let depths: [Int]
    /// Leaf values by step index (0 for splits).
    let leafValues: [Float]
    /// Features the trees read (the highest index + 1); a widened row is these, their negations and a 0.
    let width: Int

    /// Rows in a group of the widened layout, read side by side.
    static let lanes = 8

    var memoryBytes: Int {
        steps.count * MemoryLayout<Step>.stride + (leafValues.count + roots.count) * 4 + depths.count * MemoryLayout<Int>.stride
    }

    /// Compacts a forest, or returns nil when it has categorical splits or vector leaves (the generic path runs those).
    init?(_ forest: XGBoostForest) {
        guard forest.categoryWords.isEmpty, forest.leafVectors.isEmpty else { return nil }
        var nodes: [Node] = []
        var leafValues: [Float] = []
        nodes.reserveCapacity(forest.nodes.count)
        for (i, n) in forest.nodes.enumerated() {
            if n.feature < 0 {
                nodes.append(Self.leaf(at: i))
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

    /// Lays out trees described node by node (leaves pointing at themselves). Nil when a tree shares or revisits
    /// nodes, or when a split's threshold is not finite after the rewrite above (at -infinity with missing values
    /// left only NaN goes left, which no single ordered comparison says): the generic path runs those.
    init?(nodes: [Node], leafValues: [Float], roots: [UInt32]) {
        let width = Int(nodes.lazy.filter { $0.left != $0.right }.map { $0.featureAndFlag & 0x7FFF_FFFF }.max() ?? 0) + 1
        let lanes = UInt32(Self.lanes)
        let zero = UInt32(2 * width) * lanes
        var steps: [Step] = []
        var leaves: [Float] = []
        var placed: [UInt32] = []
        var depths: [Int] = []
        steps.reserveCapacity(nodes.count)
        leaves.reserveCapacity(nodes.count)
        for root in roots {
            guard Int(root) < nodes.count else { return nil }
            placed.append(UInt32(steps.count))
            steps.append(Step(threshold: 0, slot: 0, first: 0))
            leaves.append(0)
            var depth = 0
            var pending = [(node: Int(root), at: steps.count - 1, depth: 0)]
            while let (i, at, level) = pending.popLast() {
                let n = nodes[i]
                if n.left == UInt32(i) && n.right == UInt32(i) {
                    steps[at] = Step(threshold: .infinity, slot: zero, first: UInt32(at))
                    leaves[at] = leafValues[i]
                    depth = max(depth, level)
                    continue
                }
                guard Int(n.left) < nodes.count, Int(n.right) < nodes.count, steps.count + 2 <= 2 * nodes.count else { return nil }
                let first = steps.count
                steps += [Step(threshold: 0, slot: 0, first: 0), Step(threshold: 0, slot: 0, first: 0)]
                leaves += [0, 0]
                let feature = n.featureAndFlag & 0x7FFF_FFFF
                let missingLeft = n.featureAndFlag & 0x8000_0000 != 0
                let threshold = missingLeft ? n.threshold.nextDown : -n.threshold
                guard threshold.isFinite else { return nil }
                steps[at] = Step(
                    threshold: threshold == 0 ? 0 : threshold, slot: ((missingLeft ? 0 : UInt32(width)) + feature) * lanes,
                    first: UInt32(first))
                pending += missingLeft
                    ? [(Int(n.left), first, level + 1), (Int(n.right), first + 1, level + 1)]
                    : [(Int(n.right), first, level + 1), (Int(n.left), first + 1, level + 1)]
            }
            depths.append(depth)
        }
        self.steps = steps
        self.leafValues = leaves
        self.roots = placed
        self.depths = depths
        self.width = width
    }

    /// Leaves point at themselves.
    static func leaf(at index: Int) -> Node {
        Node(threshold: 0, featureAndFlag: 0, left: UInt32(index), right: UInt32(index))
    }

    /// Rows widened at a time: small enough that the block stays in the first-level cache while every tree passes
    /// over it.
    static let blockRows = 64

    /// One step of the row at `lane` of a group: `first + 1` when `x > threshold`, the sign bit of `threshold - x`.
    @inline(__always)
    static func step(_ steps: UnsafePointer<Step>, _ i: UInt32, _ group: UnsafePointer<Float>, lane: Int) -> UInt32 {
        let s = steps[Int(i)]
        return s.first &+ (s.threshold - group[Int(s.slot) &+ lane]).bitPattern >> 31
    }

    /// Adds every tree's leaf to `out` (`outputs` wide per row, already holding the base scores) for `rows` rows of
    /// features (row-major, `featureCount` wide, at least `width`), read as float32 as XGBoost reads them.
    func accumulate(
        _ x: UnsafePointer<Double>, rows: Int, featureCount: Int, out: UnsafeMutablePointer<Float>, outputs k: Int,
        groups: [Int32], weights: [Float]?
    ) {
        precondition(featureCount >= width || steps.allSatisfy { $0.slot == UInt32(2 * width * Self.lanes) }, "rows narrower than the trees")
        let lanes = Self.lanes
        let groupSize = (2 * width + 1) * lanes
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.blockRows * (2 * width + 1)) { block in
            let base = block.baseAddress!
            var start = 0
            while start < rows {
                let count = min(Self.blockRows, rows - start)
                for r in 0..<count {
                    let source = x + (start + r) * featureCount, row = base + (r / lanes) * groupSize + r % lanes
                    for c in 0..<min(width, featureCount) {
                        let v = Float(source[c])
                        row[c * lanes] = v.isNaN ? .nan : v
                        row[(width + c) * lanes] = v.isNaN ? .nan : -v
                    }
                    row[2 * width * lanes] = 0
                }
                let whole = count / lanes * lanes
                if whole > 0 {
                    accumulateGroups(base, groups: whole / lanes, groupSize: groupSize, out: out + start * k, outputs: k, groups: groups, weights: weights)
                }
                for r in whole..<count {
                    accumulateRow(base + (r / lanes) * groupSize + r % lanes, out: out + (start + r) * k, groups: groups, weights: weights)
                }
                start += count
            }
        }
    }

    /// One widened row (its slots `lanes` apart) through every tree, eight trees side by side (a lone row has no other
    /// rows to overlap with); leaves are still added in tree order.
    private func accumulateRow(_ row: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, groups: [Int32], weights: [Float]?) {
        steps.withUnsafeBufferPointer { buffer in
            leafValues.withUnsafeBufferPointer { leaves in
                let steps = buffer.baseAddress!
                var t = 0
                while t + 8 <= roots.count {
                    var i = (roots[t], roots[t + 1], roots[t + 2], roots[t + 3], roots[t + 4], roots[t + 5], roots[t + 6], roots[t + 7])
                    let depth = max(max(max(depths[t], depths[t + 1]), max(depths[t + 2], depths[t + 3])),
                                    max(max(depths[t + 4], depths[t + 5]), max(depths[t + 6], depths[t + 7])))
                    for _ in 0..<depth {
                        i.0 = Self.step(steps, i.0, row, lane: 0); i.1 = Self.step(steps, i.1, row, lane: 0)
                        i.2 = Self.step(steps, i.2, row, lane: 0); i.3 = Self.step(steps, i.3, row, lane: 0)
                        i.4 = Self.step(steps, i.4, row, lane: 0); i.5 = Self.step(steps, i.5, row, lane: 0)
                        i.6 = Self.step(steps, i.6, row, lane: 0); i.7 = Self.step(steps, i.7, row, lane: 0)
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
                    for _ in 0..<depths[t] { i = Self.step(steps, i, row, lane: 0) }
                    let g = Int(groups[t])
                    if let weights { out[g] += leaves[Int(i)] * weights[t] } else { out[g] += leaves[Int(i)] }
                    t += 1
                }
            }
        }
    }

    /// Groups of widened rows (`groupSize` apart) through every tree in turn, the eight rows of a group side by side.
    private func accumulateGroups(
        _ x: UnsafePointer<Float>, groups count: Int, groupSize: Int, out: UnsafeMutablePointer<Float>, outputs k: Int, groups: [Int32],
        weights: [Float]?
    ) {
        steps.withUnsafeBufferPointer { buffer in
            leafValues.withUnsafeBufferPointer { leaves in
                let steps = buffer.baseAddress!
                for t in roots.indices {
                    let root = roots[t]
                    let depth = depths[t]
                    let g = Int(groups[t])
                    let weight = weights?[t]
                    for group in 0..<count {
                        var i = (root, root, root, root, root, root, root, root)
                        let x0 = x + group * groupSize
                        for _ in 0..<depth {
                            i.0 = Self.step(steps, i.0, x0, lane: 0)
                            i.1 = Self.step(steps, i.1, x0, lane: 1)
                            i.2 = Self.step(steps, i.2, x0, lane: 2)
                            i.3 = Self.step(steps, i.3, x0, lane: 3)
                            i.4 = Self.step(steps, i.4, x0, lane: 4)
                            i.5 = Self.step(steps, i.5, x0, lane: 5)
                            i.6 = Self.step(steps, i.6, x0, lane: 6)
                            i.7 = Self.step(steps, i.7, x0, lane: 7)
                        }
                        let o = out + group * Self.lanes * k + g
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
                    }
                }
            }
        }
    }
}
