import FerryCore

/// Interventional TreeSHAP (Lundberg et al., "From local explanations to global understanding with explainable AI
/// for trees", 2020): the Shapley values of the game v(S) = f(x_S, z_rest) for a background row z, exact per tree
/// and averaged over the background rows. ONNX trees keep no node covers, so the path-dependent algorithm the
/// XGBoost and LightGBM runtimes use has nothing to weigh paths by; a background sample replaces them.
///
/// Per tree, x and z walk down together; where they split differently the walk follows both, x's side with the
/// feature taken from x (set A) and z's side with it taken from z (set B), and a feature met again keeps its side.
/// A leaf reached with |A| = a and |B| = b adds its weight times (a-1)! b! / (a+b)! to each feature of A and
/// subtracts its weight times a! (b-1)! / (a+b)! from each feature of B (a leaf reached with both empty is where
/// x and z agree: it adds to neither). The values sum to f(x) - f(z) per background row.
extension ONNXTreeEnsemble {
    /// Contributions of row `x` per target and feature (`[targets][features]`, row-major) and the mean raw score
    /// of the background rows per target, both before base values and post transforms; `singlePrecision` compares
    /// values as float32, as `scores` does for a float input.
    func interventionalSHAP(_ x: [Double], background: [[Double]], singlePrecision: Bool) -> (values: [Double], bias: [Double]) {
        let features = x.count
        var values = [Double](repeating: 0, count: targets * features)
        var bias = [Double](repeating: 0, count: targets)
        guard !background.isEmpty else { return (values, bias) }
        let scale = aggregate == .average ? 1 / Double(roots.count) : 1
        let xs = singlePrecision ? x.map { Double(Float($0)) } : x
        // factorial[k] as a double: paths are at most as deep as the trees (far below 170).
        var factorial: [Double] = [1]
        for k in 1...max(features, 1) + 1 { factorial.append(factorial[k - 1] * Double(k)) }
        var side = [UInt8](repeating: 0, count: features)   // 0: not met yet, 1: from x, 2: from z
        var fromX: [Int] = []
        var fromZ: [Int] = []
        for row in background {
            let zs = singlePrecision ? row.map { Double(Float($0)) } : row
            for root in roots {
                func walk(_ i: Int) {
                    let n = nodes[i]
                    if n.mode == .leaf {
                        let a = fromX.count, b = fromZ.count
                        let leafWeights = weights[Int(n.start)..<Int(n.start + n.count)]
                        if a == 0 && b == 0 { return }
                        let plus = a > 0 ? factorial[a - 1] * factorial[b] / factorial[a + b] : 0
                        let minus = b > 0 ? factorial[a] * factorial[b - 1] / factorial[a + b] : 0
                        for w in leafWeights {
                            let v = w.weight * scale
                            let base = Int(w.target) * features
                            for f in fromX { values[base + f] += v * plus }
                            for f in fromZ { values[base + f] -= v * minus }
                        }
                        return
                    }
                    let f = Int(n.feature)
                    let xChild = Int(goesTrue(n, xs[f]) ? n.trueChild : n.falseChild)
                    let zChild = Int(goesTrue(n, zs[f]) ? n.trueChild : n.falseChild)
                    if xChild == zChild { return walk(xChild) }
                    switch side[f] {
                    case 1: walk(xChild)
                    case 2: walk(zChild)
                    default:
                        side[f] = 1
                        fromX.append(f)
                        walk(xChild)
                        fromX.removeLast()
                        side[f] = 2
                        fromZ.append(f)
                        walk(zChild)
                        fromZ.removeLast()
                        side[f] = 0
                    }
                }
                walk(Int(root))
                // z's own leaf: its prediction, for the bias.
                var i = Int(root)
                while nodes[i].mode != .leaf {
                    let n = nodes[i]
                    i = Int(goesTrue(n, zs[Int(n.feature)]) ? n.trueChild : n.falseChild)
                }
                for w in weights[Int(nodes[i].start)..<Int(nodes[i].start + nodes[i].count)] { bias[Int(w.target)] += w.weight * scale }
            }
        }
        let n = Double(background.count)
        for i in values.indices { values[i] /= n }
        for t in bias.indices { bias[t] /= n }
        return (values, bias)
    }
}
