import FerryCore
import Foundation

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
