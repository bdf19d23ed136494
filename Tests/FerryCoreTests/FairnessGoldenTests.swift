import FerryCore
import FerryTesting
import Foundation
import Testing

/// Group fairness equal to fairlearn's on golden cases (scripts/fixtures/make_fairness_goldens.py).
struct FairnessGoldenTests {
    static let folder = TestStack.repositoryRoot.appendingPathComponent("Tests/FerryCoreTests/Fixtures/fairness")

    static var cases: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// A golden number: a JSON number, or null / "nan" for fairlearn's NaN, "inf" for infinity.
    static func number(_ value: Any?) -> Double? {
        switch value {
        case let n as NSNumber: n.doubleValue
        case let s as String where s == "inf": .infinity
        default: nil
        }
    }

    static func close(_ a: Double?, _ b: Double?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (let x?, let y?): x == y || abs(x - y) <= 1e-12
        default: false
        }
    }

    @Test func thereAreGoldens() {
        #expect(Self.cases.count >= 5, "fixtures in \(Self.folder.path): \(Self.cases)")
    }

    @Test(arguments: cases)
    func equalsFairlearn(_ file: String) throws {
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.folder.appendingPathComponent(file))) as! [String: Any]
        let labels = (golden["y_true"] as! [NSNumber]).map(\.intValue)
        let predictions = (golden["y_pred"] as! [NSNumber]).map(\.intValue)
        let columns = golden["sensitive"] as! [[String]]
        let groups = labels.indices.map { i in columns.map { $0[i] }.joined(separator: "|") }
        let report = try FairnessReport(labels: labels, predictions: predictions, groups: groups)
        let expected = golden["expected"] as! [String: Any]
        func rates(_ r: FairnessReport.Rates, _ want: [String: Any], _ label: String) {
            #expect(r.count == (want["count"] as! NSNumber).intValue, "\(file) \(label) count")
            #expect(Self.close(r.selectionRate, Self.number(want["selection_rate"])), "\(file) \(label) selection rate \(r.selectionRate)")
            #expect(Self.close(r.truePositiveRate, Self.number(want["true_positive_rate"])), "\(file) \(label) TPR \(r.truePositiveRate)")
            #expect(Self.close(r.falsePositiveRate, Self.number(want["false_positive_rate"])), "\(file) \(label) FPR \(r.falsePositiveRate)")
            #expect(Self.close(r.accuracy, Self.number(want["accuracy"])), "\(file) \(label) accuracy \(r.accuracy)")
        }
        rates(report.overall, expected["overall"] as! [String: Any], "overall")
        let byGroup = expected["by_group"] as! [String: [String: Any]]
        #expect(Set(report.byGroup.keys) == Set(byGroup.keys), "\(file) groups \(report.byGroup.keys.sorted())")
        for (group, want) in byGroup {
            if let got = report.byGroup[group] { rates(got, want, "group \(group)") }
        }
        let pairs: [(String, Double?)] = [
            ("demographic_parity_difference", report.demographicParityDifference), ("demographic_parity_ratio", report.demographicParityRatio),
            ("equal_opportunity_difference", report.equalOpportunityDifference), ("equal_opportunity_ratio", report.equalOpportunityRatio),
            ("equalized_odds_difference", report.equalizedOddsDifference), ("equalized_odds_ratio", report.equalizedOddsRatio),
            ("accuracy_difference", report.accuracyDifference),
        ]
        for (name, value) in pairs {
            #expect(Self.close(value, Self.number(expected[name])), "\(file) \(name): Ferry \(String(describing: value)), fairlearn \(String(describing: expected[name]))")
        }
    }

    @Test func refusesMismatchedOrEmptyInput() {
        #expect(throws: FerryError.self) { try FairnessReport(labels: [1], predictions: [1, 0], groups: ["a"]) }
        #expect(throws: FerryError.self) { try FairnessReport(labels: [], predictions: [], groups: []) }
    }
}
