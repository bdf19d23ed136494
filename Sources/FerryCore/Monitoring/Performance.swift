import Foundation

/// What a model predicts, which decides how its predictions are scored against ground truth.
public enum ModelTask: String, Codable, Sendable {
    case binaryClassification = "binary_classification"
    case multiclassClassification = "multiclass_classification"
    case regression
}

/// Ground truth for a logged prediction: the true label (class index, 0/1) or value, for one row of it.
public struct Feedback: Sendable, Equatable {
    public var predictionID: String
    public var row: Int
    public var label: Double
    public var receivedAt: Date

    public init(predictionID: String, row: Int = 0, label: Double, receivedAt: Date) {
        self.predictionID = predictionID
        self.row = row
        self.label = label
        self.receivedAt = receivedAt
    }
}

/// A prediction joined with its ground truth.
public struct LabeledPrediction: Sendable, Equatable {
    public var output: [Double]
    public var label: Double
    public var inputs: [JSONValue]
    /// Which logged row this is: the prediction's id, the row within it.
    public var predictionID: String
    public var row: Int
    /// When the prediction was made.
    public var at: Date

    public init(
        output: [Double], label: Double, inputs: [JSONValue], predictionID: String = "", row: Int = 0,
        at: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.output = output
        self.label = label
        self.inputs = inputs
        self.predictionID = predictionID
        self.row = row
        self.at = at
    }
}

/// Scores of predictions against ground truth.
public struct PerformanceReport: Codable, Sendable, Equatable {
    public var count: Int
    public var accuracy: Double?
    public var precision: Double?
    public var recall: Double?
    public var f1: Double?
    public var rocAUC: Double?
    public var logLoss: Double?
    public var rmse: Double?
    public var mae: Double?
    public var r2: Double?

    enum CodingKeys: String, CodingKey {
        case count, accuracy, precision, recall, f1, rmse, mae, r2
        case rocAUC = "roc_auc", logLoss = "log_loss"
    }

    /// Binary classification from positive-class probabilities (threshold 0.5 for the class metrics);
    /// precision, recall and F1 are of the positive class, log loss clips probabilities to [1e-15, 1 − 1e-15].
    public static func binary(probabilities p: [Double], labels y: [Double]) -> PerformanceReport {
        var r = PerformanceReport(count: p.count)
        guard !p.isEmpty else { return r }
        var tp = 0.0, fp = 0.0, fn = 0.0, correct = 0.0, loss = 0.0
        for (prob, label) in zip(p, y) {
            let positive = label >= 0.5
            let predicted = prob >= 0.5
            if predicted == positive { correct += 1 }
            if predicted && positive { tp += 1 }
            if predicted && !positive { fp += 1 }
            if !predicted && positive { fn += 1 }
            let q = min(max(prob, 1e-15), 1 - 1e-15)
            loss -= positive ? log(q) : log(1 - q)
        }
        let n = Double(p.count)
        r.accuracy = correct / n
        r.precision = tp + fp > 0 ? tp / (tp + fp) : 0
        r.recall = tp + fn > 0 ? tp / (tp + fn) : 0
        r.f1 = 2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : 0
        r.logLoss = loss / n
        r.rocAUC = rocAUC(scores: p, positives: y.map { $0 >= 0.5 })
        return r
    }

    /// Multi-class classification from class probabilities: accuracy, macro precision/recall/F1 over the classes
    /// present in labels or predictions, one-vs-rest macro ROC AUC, and log loss.
    public static func multiclass(probabilities: [[Double]], labels: [Double]) -> PerformanceReport {
        var r = PerformanceReport(count: labels.count)
        guard let k = probabilities.first?.count, k > 1, !labels.isEmpty else { return r }
        let predicted = probabilities.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
        let truth = labels.map { Int($0) }
        r.accuracy = Double(zip(predicted, truth).filter { $0 == $1 }.count) / Double(labels.count)
        let classes = Set(predicted).union(truth).sorted()
        var precisions: [Double] = [], recalls: [Double] = [], f1s: [Double] = [], aucs: [Double] = []
        for c in classes {
            let tp = Double(zip(predicted, truth).filter { $0 == c && $1 == c }.count)
            let fp = Double(zip(predicted, truth).filter { $0 == c && $1 != c }.count)
            let fn = Double(zip(predicted, truth).filter { $0 != c && $1 == c }.count)
            precisions.append(tp + fp > 0 ? tp / (tp + fp) : 0)
            recalls.append(tp + fn > 0 ? tp / (tp + fn) : 0)
            f1s.append(2 * tp + fp + fn > 0 ? 2 * tp / (2 * tp + fp + fn) : 0)
            if c >= 0 && c < k, let auc = rocAUC(scores: probabilities.map { $0[c] }, positives: truth.map { $0 == c }) { aucs.append(auc) }
        }
        r.precision = precisions.reduce(0, +) / Double(classes.count)
        r.recall = recalls.reduce(0, +) / Double(classes.count)
        r.f1 = f1s.reduce(0, +) / Double(classes.count)
        r.rocAUC = aucs.isEmpty ? nil : aucs.reduce(0, +) / Double(aucs.count)
        var loss = 0.0
        for (row, c) in zip(probabilities, truth) {
            let sum = row.reduce(0, +)
            let p = c >= 0 && c < row.count && sum > 0 ? row[c] / sum : 0
            loss -= log(min(max(p, 1e-15), 1 - 1e-15))
        }
        r.logLoss = loss / Double(labels.count)
        return r
    }

    public static func regression(predictions p: [Double], targets y: [Double]) -> PerformanceReport {
        var r = PerformanceReport(count: p.count)
        guard !p.isEmpty else { return r }
        let n = Double(p.count)
        let squared = zip(p, y).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        r.rmse = (squared / n).squareRoot()
        r.mae = zip(p, y).reduce(0) { $0 + abs($1.0 - $1.1) } / n
        let mean = y.reduce(0, +) / n
        let total = y.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        r.r2 = total > 0 ? 1 - squared / total : nil
        return r
    }

    /// Area under the ROC curve as the Mann–Whitney statistic with tied scores averaged; nil with one class only.
    static func rocAUC(scores: [Double], positives: [Bool]) -> Double? {
        let pos = Double(positives.filter { $0 }.count)
        let neg = Double(positives.count) - pos
        guard pos > 0, neg > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSum = 0.0
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j where positives[order[k]] { rankSum += rank }
            i = j + 1
        }
        return (rankSum - pos * (pos + 1) / 2) / (pos * neg)
    }
}
