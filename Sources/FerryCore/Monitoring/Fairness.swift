/// How a binary classifier's decisions compare across groups of a sensitive attribute, with fairlearn's
/// definitions (its `MetricFrame` over `selection_rate`, `true_positive_rate`, `false_positive_rate` and accuracy):
///
/// - selection rate: the share of rows predicted positive;
/// - true positive rate: TP / (TP + FN), 0 in a group without positive labels;
/// - false positive rate: FP / (FP + TN), 0 in a group without negative labels;
/// - a difference is the largest group value minus the smallest; a ratio is the smallest over the largest
///   (0/0 is reported as nil: no group was ever selected, so there is nothing to compare);
/// - equalized odds takes the worse of the TPR and FPR differences, and the smaller of their ratios (undefined when
///   the TPR ratio is; the TPR ratio when only the FPR ratio is undefined), as fairlearn computes them.
public struct FairnessReport: Sendable, Equatable {
    /// One group's (or all rows') rates.
    public struct Rates: Sendable, Equatable {
        public var count: Int
        public var selectionRate: Double
        public var truePositiveRate: Double
        public var falsePositiveRate: Double
        public var accuracy: Double
    }

    /// Per group, by the group's value (several sensitive columns: their values joined by "|").
    public var byGroup: [String: Rates]
    public var overall: Rates
    public var demographicParityDifference: Double
    public var demographicParityRatio: Double?
    public var equalOpportunityDifference: Double
    public var equalOpportunityRatio: Double?
    public var equalizedOddsDifference: Double
    public var equalizedOddsRatio: Double?
    public var accuracyDifference: Double

    /// The report for labels and predicted classes (1 is positive, anything else negative) of rows in `groups`.
    /// Throws when the inputs differ in length or are empty.
    public init(labels: [Int], predictions: [Int], groups: [String]) throws {
        guard labels.count == predictions.count, labels.count == groups.count else {
            throw FerryError.invalid("fairness needs one label, one prediction and one group per row (got \(labels.count), \(predictions.count) and \(groups.count))")
        }
        guard !labels.isEmpty else { throw FerryError.invalid("fairness needs at least one labelled prediction") }
        var counts: [String: Counts] = [:]
        var all = Counts()
        for i in labels.indices {
            let truth = labels[i] == 1, predicted = predictions[i] == 1
            counts[groups[i], default: Counts()].add(truth: truth, predicted: predicted)
            all.add(truth: truth, predicted: predicted)
        }
        byGroup = counts.mapValues(\.rates)
        overall = all.rates
        let rates = Array(byGroup.values)
        func spread(_ value: (Rates) -> Double) -> (difference: Double, ratio: Double?) {
            let values = rates.map(value)
            let low = values.min()!, high = values.max()!
            return (high - low, high == 0 ? nil : low / high)
        }
        let selection = spread(\.selectionRate)
        let tpr = spread(\.truePositiveRate)
        let fpr = spread(\.falsePositiveRate)
        demographicParityDifference = selection.difference
        demographicParityRatio = selection.ratio
        equalOpportunityDifference = tpr.difference
        equalOpportunityRatio = tpr.ratio
        equalizedOddsDifference = max(tpr.difference, fpr.difference)
        // As fairlearn: undefined when no group has a true positive; the TPR ratio alone when no group has a false
        // positive (there is then no FPR gap to weigh).
        equalizedOddsRatio = tpr.ratio.map { min($0, fpr.ratio ?? $0) }
        accuracyDifference = spread(\.accuracy).difference
    }

    private struct Counts {
        var tp = 0, fp = 0, tn = 0, fn = 0

        mutating func add(truth: Bool, predicted: Bool) {
            switch (truth, predicted) {
            case (true, true): tp += 1
            case (false, true): fp += 1
            case (false, false): tn += 1
            case (true, false): fn += 1
            }
        }

        var rates: Rates {
            let n = tp + fp + tn + fn
            return Rates(
                count: n, selectionRate: Double(tp + fp) / Double(n),
                truePositiveRate: tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn),
                falsePositiveRate: fp + tn == 0 ? 0 : Double(fp) / Double(fp + tn),
                accuracy: Double(tp + tn) / Double(n))
        }
    }
}
