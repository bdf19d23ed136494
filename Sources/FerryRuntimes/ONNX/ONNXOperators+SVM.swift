import FerryCore
import Foundation

/// SVMClassifier and SVMRegressor as onnxruntime computes them (`svmclassifier.cc`, `svmregressor.cc`): kernels
/// in float32, one-vs-one decision values with `rho` added, libsvm's Platt scaling and pairwise coupling for
/// probabilities, and the label always from the pairwise votes.
extension ONNXOperators {
    struct SVMKernel: Sendable {
        enum Kind: String { case linear = "LINEAR", poly = "POLY", rbf = "RBF", sigmoid = "SIGMOID" }
        let kind: Kind
        let gamma: Float, coef0: Float, degree: Float

        init(_ a: ONNXAttributes) throws {
            let name = a.string("kernel_type", default: "LINEAR")
            guard let kind = Kind(rawValue: name) else { throw ONNXError.message("kernel_type '\(name)' is not known") }
            let p = a.floats("kernel_params")
            self.kind = kind
            gamma = p.count > 0 ? p[0] : 0
            coef0 = p.count > 1 ? p[1] : 0
            degree = p.count > 2 ? p[2] : 0
        }

        /// k(x, sv) for `count` features.
        func callAsFunction(_ x: UnsafePointer<Float>, _ sv: UnsafePointer<Float>, count: Int) -> Float {
            switch kind {
            case .rbf:
                var sum: Float = 0
                for i in 0..<count { let d = x[i] - sv[i]; sum += d * d }
                return Foundation.exp(-gamma * sum)
            default:
                var dot: Float = 0
                for i in 0..<count { dot += x[i] * sv[i] }
                switch kind {
                case .linear: return dot
                case .poly:
                    let b = gamma * dot + coef0
                    return degree == 2 ? b * b : degree == 3 ? b * b * b : Foundation.pow(b, degree)
                default: return Foundation.tanh(gamma * dot + coef0)
                }
            }
        }
    }

    static func svmClassifier(_ a: ONNXAttributes) throws -> ONNXKernel {
        let kernel = try SVMKernel(a)
        let labels = ClassLabels(a)
        let perClass = a.ints("vectors_per_class").map(Int.init)
        let vectors = a.floats("support_vectors"), coefficients = a.floats("coefficients"), rho = a.floats("rho")
        let probA = a.floats("prob_a"), probB = a.floats("prob_b")
        let transform = try PostTransform(a.string("post_transform", default: "NONE"))
        let k = labels.count
        guard k >= 2 else { throw ONNXError.message("SVMClassifier needs at least two class labels") }
        guard !rho.isEmpty, !coefficients.isEmpty else { throw ONNXError.message("SVMClassifier needs rho and coefficients") }
        let vectorCount = perClass.reduce(0, +)
        let pairs = k * (k - 1) / 2

        if vectorCount == 0 {
            // Linear mode: one row of coefficients per class, the same rho[0] added to each.
            let allPositive = coefficients.allSatisfy { $0 >= 0 }
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "SVMClassifier")
                let features = coefficients.count / k
                let (rows, columns) = try matrixShape(x, features, "SVMClassifier")
                guard columns == features else { throw ONNXError.message("SVMClassifier has coefficients for \(features) features but its input has \(columns)") }
                var scores = product(try x.floats("SVMClassifier"), coefficients, m: rows, k: features, n: k, transposeY: true)
                for e in scores.indices { scores[e] += rho[0] }
                var picks: [Int] = []
                for r in 0..<rows {
                    let row = scores[(r * k)..<((r + 1) * k)]
                    let best = row.indices.reduce(row.startIndex) { row[$1] > row[$0] ? $1 : $0 } - r * k
                    let top = row.max()!
                    if k == 2 && ((allPositive && top >= 0.5) || (top > 0 && !allPositive)) { picks.append(1) } else { picks.append(best) }
                }
                if transform != .none { transformRows(&scores, width: k, transform) }
                return [labels.output(picks, rows: rows), .float(scores, shape: [rows, k])]
            }
        }

        guard perClass.count == k, vectors.count % vectorCount == 0, coefficients.count == (k - 1) * vectorCount, rho.count == pairs else {
            throw ONNXError.message("SVMClassifier's vectors_per_class, support_vectors, coefficients and rho do not agree (\(k) classes, \(vectorCount) vectors)")
        }
        let features = vectors.count / vectorCount
        let hasProbability = !probA.isEmpty
        guard !hasProbability || (probA.count == pairs && probB.count == pairs) else {
            throw ONNXError.message("SVMClassifier has \(probA.count) prob_a and \(probB.count) prob_b for \(pairs) class pairs")
        }
        let starts = perClass.indices.map { perClass[..<$0].reduce(0, +) }
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, "SVMClassifier")
            let (rows, columns) = try matrixShape(x, features, "SVMClassifier")
            guard columns == features else { throw ONNXError.message("SVMClassifier has support vectors of \(features) features but its input has \(columns)") }
            let values = try x.floats("SVMClassifier")
            var picks: [Int] = []
            let width = hasProbability ? k : (k == 2 ? 2 : pairs)
            var out: [Float] = []
            out.reserveCapacity(rows * width)
            var kernels = [Float](repeating: 0, count: vectorCount)
            for r in 0..<rows {
                values.withUnsafeBufferPointer { all in
                    vectors.withUnsafeBufferPointer { sv in
                        let row = all.baseAddress! + r * features
                        for v in 0..<vectorCount { kernels[v] = kernel(row, sv.baseAddress! + v * features, count: features) }
                    }
                }
                var votes = [Int](repeating: 0, count: k)
                var decisions: [Float] = []
                decisions.reserveCapacity(pairs)
                for i in 0..<k {
                    for j in (i + 1)..<k {
                        var sum: Double = 0
                        for m in starts[i]..<(starts[i] + perClass[i]) { sum += Double(coefficients[(j - 1) * vectorCount + m] * kernels[m]) }
                        for m in starts[j]..<(starts[j] + perClass[j]) { sum += Double(coefficients[i * vectorCount + m] * kernels[m]) }
                        sum += Double(rho[decisions.count])
                        let s = Float(sum)
                        votes[s > 0 ? i : j] += 1
                        decisions.append(s)
                    }
                }
                picks.append(votes.indices.reduce(0) { votes[$1] > votes[$0] ? $1 : $0 })
                if hasProbability {
                    var pairwise = [[Float]](repeating: [Float](repeating: 0, count: k), count: k)
                    var idx = 0
                    for i in 0..<k {
                        for j in (i + 1)..<k {
                            let p = 1 - PostTransform.logistic(decisions[idx] * probA[idx] + probB[idx])
                            let clamped = min(max(p, 1e-7), 1 - 1e-7)
                            pairwise[i][j] = clamped
                            pairwise[j][i] = 1 - clamped
                            idx += 1
                        }
                    }
                    var probabilities = coupled(pairwise, classes: k).map(Double.init)
                    transform.apply(&probabilities)
                    out += probabilities.map(Float.init)
                } else if k == 2 {
                    let s = Double(decisions[0])
                    let (first, second) = transform.twoClassScores(s, secondClass: transform == .none ? 2 : 0)
                    out += [Float(first), Float(second ?? 0)]
                } else {
                    var row = decisions.map(Double.init)
                    transform.apply(&row)
                    out += row.map(Float.init)
                }
            }
            // Binary without probabilities: a positive decision value is the first class's vote.
            return [labels.output(picks, rows: rows), .float(out, shape: [rows, width])]
        }
    }

    /// libsvm's pairwise coupling (Wu, Lin and Weng 2004, method 2), in float as onnxruntime runs it.
    static func coupled(_ r: [[Float]], classes k: Int) -> [Float] {
        var q = [[Float]](repeating: [Float](repeating: 0, count: k), count: k)
        for t in 0..<k {
            for j in 0..<k where j != t {
                q[t][t] += r[j][t] * r[j][t]
                q[t][j] = -r[j][t] * r[t][j]
            }
        }
        var p = [Float](repeating: 1 / Float(k), count: k)
        var qp = [Float](repeating: 0, count: k)
        let eps = 0.005 / Float(k)
        for _ in 0..<100 {
            var pqp: Float = 0
            for t in 0..<k {
                qp[t] = 0
                for j in 0..<k { qp[t] += q[t][j] * p[j] }
                pqp += p[t] * qp[t]
            }
            var error: Float = 0
            for t in 0..<k { error = max(error, abs(qp[t] - pqp)) }
            if error < eps { break }
            for t in 0..<k {
                let diff = (-qp[t] + pqp) / q[t][t]
                p[t] += diff
                pqp = (pqp + diff * (diff * q[t][t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
                for j in 0..<k {
                    qp[j] = (qp[j] + diff * q[t][j]) / (1 + diff)
                    p[j] /= (1 + diff)
                }
            }
        }
        return p
    }

    static func svmRegressor(_ a: ONNXAttributes) throws -> ONNXKernel {
        let kernel = try SVMKernel(a)
        let supports = a.int("n_supports", default: 0)
        let vectors = a.floats("support_vectors"), coefficients = a.floats("coefficients"), rho = a.floats("rho")
        let oneClass = a.int("one_class", default: 0) != 0
        guard !rho.isEmpty, !coefficients.isEmpty else { throw ONNXError.message("SVMRegressor needs rho and coefficients") }
        guard supports == 0 || (coefficients.count == supports && vectors.count % supports == 0) else {
            throw ONNXError.message("SVMRegressor has \(coefficients.count) coefficients and \(vectors.count) support vector values for \(supports) supports")
        }
        let features = supports == 0 ? coefficients.count : vectors.count / supports
        // post_transform is read but never applied by onnxruntime; Ferry does the same.
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, "SVMRegressor")
            let (rows, columns) = try matrixShape(x, features, "SVMRegressor")
            guard columns == features else { throw ONNXError.message("SVMRegressor takes \(features) features but its input has \(columns)") }
            let values = try x.floats("SVMRegressor")
            var out = [Float](repeating: 0, count: rows)
            values.withUnsafeBufferPointer { all in
                vectors.withUnsafeBufferPointer { sv in
                for r in 0..<rows {
                    let row = all.baseAddress! + r * features
                    var y: Float = 0
                    if supports == 0 {
                        for j in 0..<features { y += row[j] * coefficients[j] }
                    } else {
                        for v in 0..<supports { y += coefficients[v] * kernel(row, sv.baseAddress! + v * features, count: features) }
                    }
                    y += rho[0]
                    out[r] = oneClass ? (y > 0 ? 1 : -1) : y
                }
                }
            }
            return [.float(out, shape: [rows, 1])]
        }
    }
}
