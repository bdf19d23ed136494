import FerryCore
import Foundation

// MARK: - Explanations

extension XGBoostForest: Explainer {
    /// One tree of the forest as TreeSHAP sees it (node ids are indexes into `nodes`).
    struct SHAPView: SHAPTree {
        let forest: XGBoostForest

        func isLeaf(_ n: Int) -> Bool { forest.nodes[n].feature < 0 }
        func children(_ n: Int) -> (left: Int, right: Int) { (Int(forest.nodes[n].left), Int(forest.nodes[n].right)) }
        func split(_ n: Int, row: UnsafePointer<Double>) -> (feature: Int, hot: Int, cold: Int) {
            let node = forest.nodes[n]
            let hot = forest.next(node, Float(row[Int(node.feature)]))
            return (Int(node.feature), Int(hot), Int(hot == node.left ? node.right : node.left))
        }
        func cover(_ n: Int) -> Double { forest.covers[n] }
        func leafValue(_ n: Int) -> Double { Double(forest.nodes[n].value) }
    }

    /// Exact TreeSHAP contributions, as xgboost's `pred_contribs=True`: for each row and output group, one value per
    /// feature then the bias (base margin plus every tree's expected value); they sum to the margin.
    /// Shape `[rows, groups, features + 1]`.
    func contributions(_ batch: FeatureMatrix) throws -> (values: [Double], groups: Int) {
        guard !covers.isEmpty else {
            throw FerryError(.unsupported, "this XGBoost model carries no node covers (sum_hessian), so contributions cannot be computed")
        }
        guard leafVectors.isEmpty else {
            throw FerryError(.unsupported, "contributions are not available for multi-target (vector-leaf) XGBoost models")
        }
        let width = featureCount + 1
        let view = SHAPView(forest: self)
        let expected = roots.map { TreeSHAP.expectedValue(view, root: Int($0)) }
        var out = [Double](repeating: 0, count: batch.rows * groupCount * width)
        batch.values.withUnsafeBufferPointer { x in
            for r in 0..<batch.rows {
                let row = x.baseAddress! + r * featureCount
                var phi = [Double](repeating: 0, count: groupCount * width)
                for g in 0..<groupCount { phi[g * width + featureCount] = Double(baseMargins[g]) }
                for t in roots.indices {
                    let g = Int(groups[t])
                    let weight = treeWeights.map { Double($0[t]) } ?? 1
                    phi[g * width + featureCount] += expected[t] * weight
                    TreeSHAP.accumulate(view, root: Int(roots[t]), row: row, scale: weight, into: &phi, offset: g * width)
                }
                out.replaceSubrange((r * groupCount * width)..<((r + 1) * groupCount * width), with: phi)
            }
        }
        return (out, groupCount)
    }
}
