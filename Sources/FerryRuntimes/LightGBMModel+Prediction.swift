import FerryCore
import Foundation

extension LightGBMModel {
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
