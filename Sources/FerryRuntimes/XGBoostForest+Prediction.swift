import FerryCore
import Foundation

extension XGBoostForest {
    func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
        guard batch.columns == featureCount else {
            throw FerryError.invalid("batch has \(batch.columns) columns; the model takes \(featureCount)")
        }
        return [transform(margins(batch), rows: batch.rows)]
    }

    /// Raw scores per row and output group: base margin plus the leaves, summed in tree order in float32.
    ///
    /// Rows go through in blocks, tree by tree, so a tree stays in cache while a block passes through it; each
    /// row still adds its trees in order, so the sums are bit-identical to xgboost's. Large batches are split
    /// across `threads`.
    func margins(_ batch: FeatureMatrix) -> [Float] {
        var margins = [Float](repeating: 0, count: batch.rows * groupCount)
        batch.values.withUnsafeBufferPointer { x in
            margins.withUnsafeMutableBufferPointer { out in
                let input = SharedPointer(base: x.baseAddress!)
                let output = SharedPointer(base: out.baseAddress!)
                TreeParallelism.forEachChunk(rows: batch.rows, threads: threads) { range in
                    marginsBlock(input.base, output.base, range)
                }
            }
        }
        return margins
    }

    static let blockRows = 64

    private func marginsBlock(_ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        let k = groupCount
        if let compact {
            for r in range { for g in 0..<k { out[r * k + g] = baseMargins[g] } }
            compact.accumulate(
                x + range.lowerBound * featureCount, rows: range.count, featureCount: featureCount, out: out + range.lowerBound * k,
                outputs: k, groups: groups, weights: treeWeights)
            return
        }
        nodes.withUnsafeBufferPointer { nodes in
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + Self.blockRows, range.upperBound)
                for r in start..<end { for g in 0..<k { out[r * k + g] = baseMargins[g] } }
                for t in roots.indices {
                    let group = Int(groups[t])
                    let weight = treeWeights?[t]
                    for r in start..<end {
                        let node = nodes[leafIndex(tree: t, row: x + r * featureCount, nodes: nodes)]
                        if node.vectorStart >= 0 {
                            for g in 0..<k { out[r * k + g] += leafVectors[Int(node.vectorStart) + g] }
                        } else if let weight {
                            out[r * k + group] += node.value * weight
                        } else {
                            out[r * k + group] += node.value
                        }
                    }
                }
                start = end
            }
        }
    }

    /// The leaf a row reaches in tree `t` (XGBoost's `GetNextNode`: missing → default child; categorical:
    /// a category in the node's set goes right, anything else — negative, unseen, beyond the set — goes left).
    @inline(__always)
    func leafIndex(tree t: Int, row: UnsafePointer<Double>, nodes: UnsafeBufferPointer<Node>) -> Int {
        var i = Int(roots[t])
        while true {
            let node = nodes[i]
            if node.feature < 0 { return i }
            i = Int(next(node, Float(row[Int(node.feature)])))
        }
    }

    /// The child a value goes to at a split node.
    @inline(__always)
    func next(_ node: Node, _ v: Float) -> Int32 {
        if v.isNaN { return node.defaultLeft ? node.left : node.right }
        if node.categoryStart >= 0 { return categoryGoesRight(v, node) ? node.right : node.left }
        return v < node.value ? node.left : node.right
    }

    @inline(__always)
    func categoryGoesRight(_ v: Float, _ node: Node) -> Bool {
        guard v >= 0, v < 16_777_216 else { return false }
        let c = Int(v)
        let word = c >> 5
        guard word < Int(node.categoryWordCount) else { return false }
        return categoryWords[Int(node.categoryStart) + word] & (1 << UInt32(c & 31)) != 0
    }

    private func transform(_ margins: [Float], rows: Int) -> Tensor {
        let shape = groupCount == 1 ? [rows] : [rows, groupCount]
        switch objective.transform {
        case .sigmoid:
            return Tensor(name: "predict", datatype: .fp32, shape: shape, data: .float32(margins.map(Self.sigmoid)))
        case .identity:
            return Tensor(name: "predict", datatype: .fp32, shape: shape, data: .float32(margins))
        case .exp:
            return Tensor(name: "predict", datatype: .fp32, shape: shape, data: .float32(margins.map { expf($0) }))
        case .hinge:
            return Tensor(name: "predict", datatype: .fp32, shape: shape, data: .float32(margins.map { $0 > 0 ? 1 : 0 }))
        case .softmax:
            var p = margins
            for r in 0..<rows { Self.softmax(&p, from: r * groupCount, count: groupCount) }
            return Tensor(name: "predict", datatype: .fp32, shape: [rows, groupCount], data: .float32(p))
        case .argmax:
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
}
