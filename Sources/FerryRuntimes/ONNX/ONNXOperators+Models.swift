import FerryCore
import Foundation

/// The ai.onnx.ml model operators: linear models, support vector machines and tree ensembles, with onnxruntime's
/// conventions for labels, two-class scores and post transforms (`ml_common.h`).
extension ONNXOperators {
    static let models: [String: Maker] = [
        "TreeEnsembleRegressor": { a, _ in
            let targets = a.int("n_targets", default: 1)
            let forest = try ONNXTreeEnsemble(legacy: a, weightPrefix: "target", targets: targets, aggregate: aggregate(a))
            let base = try baseValues(a)
            guard base.isEmpty || base.count == targets else {
                throw ONNXError.message("TreeEnsembleRegressor has \(base.count) base_values for \(targets) targets")
            }
            let transform = try PostTransform(a.string("post_transform", default: "NONE"))
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "TreeEnsembleRegressor")
                let (rows, columns) = try matrixShape(x, forest.featureCount, "TreeEnsembleRegressor")
                let single = x.element != .double
                let (scores, has) = forest.scores(try doubles(x, "TreeEnsembleRegressor"), rows: rows, columns: columns, singlePrecision: single)
                let out = forest.regression(scores, has: has, base: base, transform: transform, singlePrecision: single)
                return [.float(out.map(Float.init), shape: [rows, targets])]
            }
        },
        "TreeEnsembleClassifier": { a, _ in try treeClassifier(a) },
        "LinearRegressor": { a, _ in
            let coefficients = a.floats("coefficients"), intercepts = a.floats("intercepts")
            let targets = a.int("targets", default: 1)
            let transform = try PostTransform(a.string("post_transform", default: "NONE"))
            guard targets > 0, !coefficients.isEmpty, coefficients.count % targets == 0,
                  intercepts.isEmpty || intercepts.count == targets else {
                throw ONNXError.message("LinearRegressor has \(coefficients.count) coefficients and \(intercepts.count) intercepts for \(targets) targets")
            }
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "LinearRegressor")
                var scores = try linearScores(x, coefficients, intercepts, classes: targets, "LinearRegressor")
                let rows = scores.count / targets
                if transform != .none { transformRows(&scores, width: targets, transform) }
                return [.float(scores, shape: [rows, targets])]
            }
        },
        "LinearClassifier": { a, _ in try linearClassifier(a) },
        "SVMClassifier": { a, _ in try svmClassifier(a) },
        "SVMRegressor": { a, _ in try svmRegressor(a) },
        "TreeEnsemble": { a, _ in
            let forest = try ONNXTreeEnsemble(opset5: a)
            let transform = try PostTransform(code: a.int("post_transform", default: 0))
            return ONNXKernel { inputs in
                let x = try required(inputs, 0, "TreeEnsemble")
                let (rows, columns) = try matrixShape(x, forest.featureCount, "TreeEnsemble")
                let single = x.element != .double
                let (scores, has) = forest.scores(try doubles(x, "TreeEnsemble"), rows: rows, columns: columns, singlePrecision: single)
                let out = forest.regression(scores, has: has, base: [], transform: transform, singlePrecision: single)
                if case .double = x.storage { return [ONNXArray(shape: [rows, forest.targets], .double(out))] }
                return [.float(out.map(Float.init), shape: [rows, forest.targets])]
            }
        },
    ]

    /// `x` [N, F] times the coefficients ([classes, F], row-major) plus the intercepts, in float32.
    static func linearScores(_ x: ONNXArray, _ coefficients: [Float], _ intercepts: [Float], classes: Int, _ op: String) throws -> [Float] {
        let features = coefficients.count / classes
        let (rows, columns) = try matrixShape(x, features, op)
        guard columns == features else { throw ONNXError.message("\(op) has coefficients for \(features) features but its input has \(columns)") }
        let v = try x.floats(op)
        var scores = product(v, coefficients, m: rows, k: features, n: classes, transposeY: true)
        if !intercepts.isEmpty { for r in 0..<rows { for c in 0..<classes { scores[r * classes + c] += intercepts[c] } } }
        return scores
    }

    static func transformRows(_ scores: inout [Float], width: Int, _ transform: PostTransform) {
        for start in stride(from: 0, to: scores.count, by: width) {
            var row = scores[start..<(start + width)].map(Double.init)
            transform.apply(&row)
            for j in 0..<width { scores[start + j] = Float(row[j]) }
        }
    }

    static func linearClassifier(_ a: ONNXAttributes) throws -> ONNXKernel {
        let coefficients = a.floats("coefficients"), intercepts = a.floats("intercepts")
        let labels = ClassLabels(a)
        let transform = try PostTransform(a.string("post_transform", default: "NONE"))
        let classes = intercepts.isEmpty ? max(labels.count, 1) : intercepts.count
        guard !coefficients.isEmpty, coefficients.count % classes == 0 else {
            throw ONNXError.message("LinearClassifier has \(coefficients.count) coefficients for \(classes) classes")
        }
        // One score for two labels: the score decides between them, and a second column is added.
        let twoFromOne = classes == 1 && labels.count == 2
        guard twoFromOne || labels.count == classes || labels.count == 0 else {
            throw ONNXError.message("LinearClassifier has \(labels.count) class labels for \(classes) scores")
        }
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, "LinearClassifier")
            var scores = try linearScores(x, coefficients, intercepts, classes: classes, "LinearClassifier")
            let rows = scores.count / classes
            var picks: [Int] = []
            picks.reserveCapacity(rows)
            if classes == 1 {
                picks = scores.map { $0 > 0 ? 1 : 0 }
                if twoFromOne {
                    var both: [Float] = []
                    both.reserveCapacity(rows * 2)
                    for s in scores {
                        let (first, second) = transform.twoClassScores(Double(s), secondClass: 1)
                        both += [Float(first), Float(second ?? 0)]
                    }
                    return [labels.output(picks, rows: rows), .float(both, shape: [rows, 2])]
                }
            } else {
                for r in 0..<rows {
                    var best = 0
                    for c in 1..<classes where scores[r * classes + c] > scores[r * classes + best] { best = c }
                    picks.append(best)
                }
            }
            if transform != .none { transformRows(&scores, width: classes, transform) }
            return [labels.output(picks, rows: rows), .float(scores, shape: [rows, classes])]
        }
    }

    static func aggregate(_ a: ONNXAttributes) throws -> ONNXTreeEnsemble.Aggregate {
        switch a.string("aggregate_function", default: "SUM") {
        case "SUM": .sum
        case "AVERAGE": .average
        case "MIN": .min
        case "MAX": .max
        case let other: throw ONNXError.message("aggregate_function '\(other)' is not known")
        }
    }

    /// A numeric input in double precision (a double input as it is, anything else through float32).
    static func doubles(_ x: ONNXArray, _ op: String) throws -> [Double] {
        if case .double(let v) = x.storage { return v }
        return try x.floats(op).map(Double.init)
    }

    static func baseValues(_ a: ONNXAttributes) throws -> [Double] {
        if let t = try a.tensor("base_values_as_tensor") {
            guard case .double(let v) = t.storage else { throw ONNXError.message("base_values_as_tensor must be double") }
            return v
        }
        return a.floats("base_values").map(Double.init)
    }

    /// Rows and columns of a model operator's input: [N, C], or [C] as one row.
    static func matrixShape(_ x: ONNXArray, _ needed: Int, _ op: String) throws -> (rows: Int, columns: Int) {
        let (rows, columns) = x.shape.count == 1 ? (1, x.shape[0]) : (x.shape.count == 2 ? (x.shape[0], x.shape[1]) : (0, -1))
        guard columns >= 0 else { throw ONNXError.message("\(op) takes [N, C], got \(x.shape)") }
        guard columns >= needed else { throw ONNXError.message("\(op) reads feature \(needed - 1) but its input has \(columns) columns") }
        return (rows, columns)
    }

    /// Class labels of a classifier: integers or strings, and the output built from label indexes.
    struct ClassLabels: Sendable {
        let ints: [Int64]
        let strings: [String]

        init(_ a: ONNXAttributes) {
            ints = a.ints("classlabels_ints").isEmpty ? a.ints("classlabels_int64s") : a.ints("classlabels_ints")
            strings = a.strings("classlabels_strings")
        }

        var count: Int { strings.isEmpty ? ints.count : strings.count }

        func output(_ picks: [Int], rows: Int) -> ONNXArray {
            strings.isEmpty
                ? .int64(picks.map { ints.isEmpty ? Int64($0) : ints[$0] }, shape: [rows])
                : ONNXArray(shape: [rows], .string(picks.map { strings[$0] }))
        }
    }

    static func treeClassifier(_ a: ONNXAttributes) throws -> ONNXKernel {
        let labels = ClassLabels(a)
        let classes = labels.count
        guard classes > 0 else { throw ONNXError.message("TreeEnsembleClassifier has no class labels") }
        let forest = try ONNXTreeEnsemble(legacy: a, weightPrefix: "class", targets: classes, aggregate: .sum)
        let base = try baseValues(a)
        guard classes > 2 ? (base.isEmpty || base.count == classes) : base.count <= 2 else {
            throw ONNXError.message("TreeEnsembleClassifier has \(base.count) base_values for \(classes) classes")
        }
        let transform = try PostTransform(a.string("post_transform", default: "NONE"))
        let binary = classes == 2 && Set(forest.weights.map(\.target)).count == 1
        let allPositive = forest.weights.allSatisfy { $0.weight >= 0 }
        // Two classes: onnxruntime's FinalizeScores and _set_score_binary (see PostTransform.twoClassScores). The
        // class-0 sum is the positive score when only one class has weights.
        @Sendable func twoClasses(_ p: (Double, Double), _ h: (Bool, Bool)) -> (pick: Int, scores: (Double, Double)) {
            var secondClass = base.isEmpty ? 3 : -1
            var scored = (h.0 ? p.0 : 0, h.1 ? p.1 : 0)
            if base.count == 2 {
                if h.1 {
                    scored.1 = base[1] + p.0
                    scored.0 = -scored.1
                } else {
                    scored.0 += base[0]
                }
            } else if base.count == 1 {
                scored.0 += base[0]
            }
            let one = !h.1 && base.count != 2
            let positive = h.1 && !one ? scored.1 : (h.0 ? scored.0 : 0)
            let pick: Int
            if binary {
                let threshold = allPositive ? 0.5 : 0.0
                pick = positive > threshold ? 1 : 0
                secondClass = (allPositive ? 0 : 2) + (pick == 1 ? 0 : 1)
            } else {
                pick = positive > 0 ? 1 : 0
            }
            if one {
                let (first, second) = transform.twoClassScores(scored.0, secondClass: secondClass)
                return (pick, (first, second ?? 0))
            }
            var both = [scored.0, scored.1]
            transform.apply(&both)
            return (pick, (both[0], both[1]))
        }
        return ONNXKernel { inputs in
            let x = try required(inputs, 0, "TreeEnsembleClassifier")
            let (rows, columns) = try matrixShape(x, forest.featureCount, "TreeEnsembleClassifier")
            let single = x.element != .double
            let (scores, has) = forest.scores(try doubles(x, "TreeEnsembleClassifier"), rows: rows, columns: columns, singlePrecision: single)
            var picks: [Int] = []
            picks.reserveCapacity(rows)
            var out: [Float] = []
            out.reserveCapacity(rows * classes)
            for r in 0..<rows {
                if classes == 2 {
                    let (pick, (a, b)) = twoClasses((scores[r * 2], scores[r * 2 + 1]), (has[r * 2], has[r * 2 + 1]))
                    picks.append(pick)
                    out.append(Float(a))
                    out.append(Float(b))
                    continue
                }
                var p = Array(scores[(r * classes)..<((r + 1) * classes)])
                var h = Array(has[(r * classes)..<((r + 1) * classes)])
                for k in base.indices where k < classes {
                    p[k] = h[k] ? p[k] + base[k] : base[k]
                    h[k] = true
                }
                var best = -1
                for k in 0..<classes where h[k] && (best < 0 || p[k] > p[best]) { best = k }
                guard best >= 0 else { throw ONNXError.message("no tree gave a score to any class") }
                picks.append(classes == 1 ? (p[0] > 0 ? 1 : 0) : best)
                transform.apply(&p)
                out += p.map(Float.init)
            }
            // Two classes outside the binary case name their label 0/1 literally (string labels by index).
            let literal = classes == 2 && !binary && labels.strings.isEmpty
            let labelOutput = literal ? ONNXArray.int64(picks.map(Int64.init), shape: [rows]) : labels.output(picks, rows: rows)
            return [labelOutput, .float(out, shape: [rows, classes])]
        }
    }
}

/// onnxruntime's score transforms (`ml_common.h`), in float32 as it computes them.
enum PostTransform: Sendable, Equatable {
    case none, softmax, logistic, softmaxZero, probit

    init(_ name: String) throws {
        switch name {
        case "NONE": self = .none
        case "SOFTMAX": self = .softmax
        case "LOGISTIC": self = .logistic
        case "SOFTMAX_ZERO": self = .softmaxZero
        case "PROBIT": self = .probit
        default: throw ONNXError.message("post_transform '\(name)' is not known")
        }
    }

    /// TreeEnsemble (ai.onnx.ml 5) numbers them. onnxruntime reads the number as its own enum, in which 1 is
    /// LOGISTIC and 2 SOFTMAX (the operator spec lists SOFTMAX as 1): Ferry answers what onnxruntime answers.
    init(code: Int) throws {
        let names = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]
        guard code >= 0, code < names.count else { throw ONNXError.message("post_transform \(code) is not known") }
        try self.init(names[code])
    }

    static func logistic(_ x: Float) -> Float {
        let v = 1 / (1 + Foundation.exp(-abs(x)))
        return x < 0 ? 1 - v : v
    }

    static func erfInv(_ x: Float) -> Float {
        let sign: Float = x < 0 ? -1 : 1
        let y = (1 - x) * (1 + x)
        let l = Foundation.log(y)
        let v = 2 / (Float(3.14159) * 0.147) + 0.5 * l
        let v2 = 1 / Float(0.147) * l
        let v3 = -v + (v * v - v2).squareRoot()
        return sign * (v3 - v).squareRoot()
    }

    static func probit(_ x: Float) -> Float { 1.41421356 * erfInv(x * 2 - 1) }

    /// Transforms one row of scores (two or more) in place.
    func apply(_ row: inout [Double]) {
        var v = row.map(Float.init)
        switch self {
        case .none: return
        case .logistic: v = v.map(Self.logistic)
        case .probit: v = v.map(Self.probit)
        case .softmax, .softmaxZero:
            let m = v.max() ?? 0
            var sum: Float = 0
            for i in v.indices {
                if self == .softmaxZero && abs(v[i]) <= 0.0000001 { v[i] = 0; continue }
                v[i] = Foundation.exp(v[i] - m)
                sum += v[i]
            }
            for i in v.indices { v[i] = sum == 0 ? 0 : v[i] / sum }
        }
        row = v.map(Double.init)
    }

    /// The two scores of a binary classifier that computed one (`write_scores` with `add_second_class`): 0 and 1
    /// (non-negative weights) give [1 - s, s], 2 and 3 (mixed signs) [-s, s], each [σ(-s), σ(s)] under LOGISTIC;
    /// PROBIT writes the first column only; -1 writes s alone.
    func twoClassScores(_ score: Double, secondClass: Int) -> (Double, Double?) {
        let s = Float(score)
        if self == .probit { return (Double(Self.probit(s)), nil) }
        switch secondClass {
        case 0, 1:
            return self == .logistic ? (Double(Self.logistic(-s)), Double(Self.logistic(s))) : (Double(1 - s), Double(s))
        case 2, 3:
            return self == .logistic ? (Double(Self.logistic(-s)), Double(Self.logistic(s))) : (Double(-s), Double(s))
        default:
            return (score, nil)
        }
    }
}
