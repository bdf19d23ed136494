import FerryCore

/// Global feature importance of a tree ensemble: total split gain and number of splits per feature.
struct FeatureImportance {
    var gain: [Double]
    var splits: [Int]

    init(featureCount: Int) {
        gain = .init(repeating: 0, count: featureCount)
        splits = .init(repeating: 0, count: featureCount)
    }

    mutating func add(feature: Int, gain g: Double) {
        guard feature >= 0, feature < gain.count else { return }
        gain[feature] += g
        splits[feature] += 1
    }

    /// `{"gain": {feature: total}, "splits": {feature: count}}`, listing only features the model splits on.
    func json(names: [String]) -> JSONValue {
        var gains: [String: JSONValue] = [:]
        var counts: [String: JSONValue] = [:]
        for f in splits.indices where splits[f] > 0 && f < names.count {
            gains[names[f]] = .number(gain[f])
            counts[names[f]] = .number(Double(splits[f]))
        }
        return .object(["gain": .object(gains), "splits": .object(counts)])
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
