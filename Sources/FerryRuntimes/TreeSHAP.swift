/// Exact TreeSHAP (Lundberg, Erion & Lee, "Consistent Individualized Feature Attribution for Tree Ensembles",
/// 2018, Algorithm 2): each feature's Shapley contribution to one tree's output for one row, in
/// O(leaves · depth²), using each node's cover (training weight or count) as the background distribution.
protocol SHAPTree {
    func isLeaf(_ node: Int) -> Bool
    func children(_ node: Int) -> (left: Int, right: Int)
    /// The split's feature and the child the row follows ("hot") and the other one ("cold").
    func split(_ node: Int, row: UnsafePointer<Double>) -> (feature: Int, hot: Int, cold: Int)
    func cover(_ node: Int) -> Double
    func leafValue(_ node: Int) -> Double
}

enum TreeSHAP {
    private struct PathElement {
        var feature: Int
        var zeroFraction: Double
        var oneFraction: Double
        var weight: Double
    }

    /// Adds one tree's contributions for `row` to `phi` (one slot per feature), scaled by `scale`.
    static func accumulate<T: SHAPTree>(_ tree: T, root: Int, row: UnsafePointer<Double>, scale: Double, into phi: inout [Double], offset: Int) {
        // Each level of the recursion keeps its path right after its parent's, in one buffer: a path at depth d
        // has d + 1 elements, so 64 levels need at most 65·66/2 elements.
        let capacity = 65 * 66 / 2
        withUnsafeTemporaryAllocation(of: PathElement.self, capacity: capacity) { pool in
            phi.withUnsafeMutableBufferPointer { out in
                recurse(tree, node: root, row: row, phi: out.baseAddress! + offset, scale: scale, path: pool.baseAddress!,
                        end: pool.baseAddress! + capacity, uniqueDepth: 0, zeroFraction: 1, oneFraction: 1, feature: -1)
            }
        }
    }

    /// The tree's expected output under its covers (the "bias" that contributions are measured from).
    static func expectedValue<T: SHAPTree>(_ tree: T, root: Int) -> Double {
        func mean(_ n: Int) -> (value: Double, cover: Double) {
            if tree.isLeaf(n) { return (tree.leafValue(n), tree.cover(n)) }
            let (a, b) = tree.children(n)
            let l = mean(a)
            let r = mean(b)
            let c = tree.cover(n)
            return ((l.value * l.cover + r.value * r.cover) / c, c)
        }
        return mean(root).value
    }

    /// `parent` holds `uniqueDepth` elements; this level's path is written right after them.
    private static func recurse<T: SHAPTree>(
        _ tree: T, node: Int, row: UnsafePointer<Double>, phi: UnsafeMutablePointer<Double>, scale: Double,
        path parent: UnsafeMutablePointer<PathElement>, end: UnsafeMutablePointer<PathElement>, uniqueDepth: Int,
        zeroFraction: Double, oneFraction: Double, feature: Int
    ) {
        let path = parent + uniqueDepth
        guard path + uniqueDepth + 1 <= end else { return }   // deeper than 64 levels: no tree Ferry loads is
        path.update(from: parent, count: uniqueDepth)
        var depth = uniqueDepth
        extend(path, depth: depth, zeroFraction: zeroFraction, oneFraction: oneFraction, feature: feature)
        if tree.isLeaf(node) {
            let value = tree.leafValue(node) * scale
            if depth > 0 {
                for i in 1...depth {
                    let w = unwoundSum(path, depth: depth, index: i)
                    let e = path[i]
                    phi[e.feature] += w * (e.oneFraction - e.zeroFraction) * value
                }
            }
            return
        }
        let (splitFeature, hot, cold) = tree.split(node, row: row)
        let cover = tree.cover(node)
        let hotZero = cover > 0 ? tree.cover(hot) / cover : 0
        let coldZero = cover > 0 ? tree.cover(cold) / cover : 0
        var incomingZero = 1.0
        var incomingOne = 1.0
        if let seen = (0...depth).first(where: { path[$0].feature == splitFeature }) {
            incomingZero = path[seen].zeroFraction
            incomingOne = path[seen].oneFraction
            unwind(path, depth: depth, index: seen)
            depth -= 1
        }
        recurse(tree, node: hot, row: row, phi: phi, scale: scale, path: path, end: end, uniqueDepth: depth + 1,
                zeroFraction: hotZero * incomingZero, oneFraction: incomingOne, feature: splitFeature)
        recurse(tree, node: cold, row: row, phi: phi, scale: scale, path: path, end: end, uniqueDepth: depth + 1,
                zeroFraction: coldZero * incomingZero, oneFraction: 0, feature: splitFeature)
    }

    private static func extend(_ path: UnsafeMutablePointer<PathElement>, depth: Int, zeroFraction: Double, oneFraction: Double, feature: Int) {
        path[depth] = PathElement(feature: feature, zeroFraction: zeroFraction, oneFraction: oneFraction, weight: depth == 0 ? 1 : 0)
        guard depth > 0 else { return }
        for i in stride(from: depth - 1, through: 0, by: -1) {
            path[i + 1].weight += oneFraction * path[i].weight * Double(i + 1) / Double(depth + 1)
            path[i].weight = zeroFraction * path[i].weight * Double(depth - i) / Double(depth + 1)
        }
    }

    private static func unwind(_ path: UnsafeMutablePointer<PathElement>, depth: Int, index: Int) {
        let one = path[index].oneFraction
        let zero = path[index].zeroFraction
        var next = path[depth].weight
        for i in stride(from: depth - 1, through: 0, by: -1) {
            if one != 0 {
                let tmp = path[i].weight
                path[i].weight = next * Double(depth + 1) / (Double(i + 1) * one)
                next = tmp - path[i].weight * zero * Double(depth - i) / Double(depth + 1)
            } else {
                path[i].weight = path[i].weight * Double(depth + 1) / (zero * Double(depth - i))
            }
        }
        for i in index..<depth {
            path[i].feature = path[i + 1].feature
            path[i].zeroFraction = path[i + 1].zeroFraction
            path[i].oneFraction = path[i + 1].oneFraction
        }
    }

    private static func unwoundSum(_ path: UnsafeMutablePointer<PathElement>, depth: Int, index: Int) -> Double {
        let one = path[index].oneFraction
        let zero = path[index].zeroFraction
        var next = path[depth].weight
        var total = 0.0
        for i in stride(from: depth - 1, through: 0, by: -1) {
            if one != 0 {
                let tmp = next * Double(depth + 1) / (Double(i + 1) * one)
                total += tmp
                next = path[i].weight - tmp * zero * Double(depth - i) / Double(depth + 1)
            } else if zero != 0 {
                total += (path[i].weight / zero) / (Double(depth - i) / Double(depth + 1))
            }
        }
        return total
    }
}
