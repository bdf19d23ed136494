import FerryCore
import Foundation
import Testing

/// The decisions of retraining: when the triggers call for a job, whether a candidate passes the gate, and the
/// paired bootstrap behind its confidence.
struct RetrainPolicyTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static func policy(alerts: [String] = ["drift"], every: Int? = nil) -> RetrainPolicy {
        RetrainPolicy(model: "m", trainer: .command(["true"]), alerts: alerts, everySeconds: every, updatedAt: t0)
    }

    @Test(arguments: [
        // alerts firing (rule, seconds after t0), last job (seconds after t0), now, schedule → trigger
        ([("drift", 100.0)], nil as Double?, 200.0, nil as Int?, "alert:drift" as String?),
        ([("drift", 100.0)], 50.0, 200.0, nil, "alert:drift"),             // the job before the alert does not count
        ([("drift", 100.0)], 150.0, 200.0, nil, nil),                      // a job already ran for this firing
        ([("latency", 100.0)], nil, 200.0, nil, nil),                      // an alert the policy does not name
        ([], nil, 3599.0, 3600, nil),                                      // schedule not yet due (from the policy's time)
        ([], nil, 3600.0, 3600, "schedule"),
        ([], 4000.0, 7000.0, 3600, nil),                                   // counted from the last job
        ([], 4000.0, 7600.0, 3600, "schedule"),
    ])
    func triggers(_ firing: [(String, Double)], _ last: Double?, _ now: Double, _ every: Int?, _ expected: String?) {
        let got = retrainTrigger(
            policy: Self.policy(every: every), firing: firing.map { ($0.0, Self.t0.addingTimeInterval($0.1)) },
            lastJob: last.map { Self.t0.addingTimeInterval($0) }, now: Self.t0.addingTimeInterval(now))
        #expect(got == expected)
    }

    static func evaluation(champion: Double, challenger: Double, lower: Double, micros: (Double, Double) = (1, 1), higher: Bool = true) -> RetrainEvaluation {
        RetrainEvaluation(
            metric: "roc_auc", rows: 100, champion: champion, challenger: challenger, improvement: (higher ? 1 : -1) * (challenger - champion),
            lower: lower, upper: 1, resamples: 1000, championMicrosPerRow: micros.0, challengerMicrosPerRow: micros.1)
    }

    @Test func theGateNamesEveryReasonItRefuses() {
        let gate = RetrainGate(metric: "roc_auc", minImprovement: 0.01, requireConfidence: true, maxLatencyRatio: 1.5)
        #expect(gate.decide(Self.evaluation(champion: 0.90, challenger: 0.92, lower: 0.005)) == (true, []))
        let small = gate.decide(Self.evaluation(champion: 0.90, challenger: 0.905, lower: 0.001))
        #expect(!small.passed && small.reasons.count == 1 && small.reasons[0].contains("needs at least 0.01"))
        let unsure = gate.decide(Self.evaluation(champion: 0.90, challenger: 0.95, lower: -0.01))
        #expect(!unsure.passed && unsure.reasons == ["the 95% interval of the improvement, [-0.01, 1], does not lie above 0"])
        let slow = gate.decide(Self.evaluation(champion: 0.90, challenger: 0.95, lower: 0.02, micros: (2, 3.5)))
        #expect(!slow.passed && slow.reasons[0].contains("3.5 µs per row against the champion's 2"))
        #expect(RetrainGate(metric: "log_loss").higherIsBetter == false && RetrainGate(metric: "r2").higherIsBetter)
        #expect(throws: FerryError.self) { try RetrainGate(metric: "vibes").validate() }
    }

    @Test func policiesAreCheckedFieldByField() {
        var p = Self.policy()
        p.holdoutFraction = 1
        #expect { try p.validate() } throws: { ($0 as? FerryError)?.message.contains("holdout_fraction") == true }
        p = Self.policy()
        p.trainer = .command([])
        #expect { try p.validate() } throws: { ($0 as? FerryError)?.message.contains("field 'command'") == true }
        p.trainer = .webhook(url: "airflow.internal/retrain", secret: nil)
        #expect { try p.validate() } throws: { ($0 as? FerryError)?.message.contains("field 'webhook.url'") == true }
        p.trainer = .webhook(url: "https://airflow.internal/retrain", secret: nil)
        #expect(throws: Never.self) { try p.validate() }
        p = Self.policy(every: 10)
        #expect { try p.validate() } throws: { ($0 as? FerryError)?.message.contains("every_seconds") == true }
    }

    /// Accuracy of two classifiers on the same rows: equal models improve by nothing with certainty; a candidate
    /// right on 30 more rows of 200 improves by 0.15 with an interval above 0; the same seed gives the same interval.
    @Test func pairedBootstrap() throws {
        let labels = (0..<200).map { Double($0 % 2) }
        let champion = labels.enumerated().map { $0.offset < 60 ? 1 - $0.element : $0.element }   // wrong on 60
        let challenger = labels.enumerated().map { $0.offset < 30 ? 1 - $0.element : $0.element } // wrong on 30
        func accuracy(_ p: [Double], _ rows: [Int]) -> Double { Double(rows.filter { p[$0] == labels[$0] }.count) / Double(rows.count) }
        let same = try RetrainEvaluation.paired(rows: 200, higherIsBetter: true) { (accuracy(champion, $0), accuracy(champion, $0)) }
        #expect(same.improvement == 0 && same.lower == 0 && same.upper == 0)
        let better = try RetrainEvaluation.paired(rows: 200, higherIsBetter: true) { (accuracy(champion, $0), accuracy(challenger, $0)) }
        #expect(abs(better.improvement - 0.15) < 1e-12 && better.champion == 0.7 && better.challenger == 0.85)
        #expect(better.lower > 0.08 && better.upper < 0.22 && better.lower < 0.15 && better.upper > 0.15, "\(better)")
        let again = try RetrainEvaluation.paired(rows: 200, higherIsBetter: true) { (accuracy(champion, $0), accuracy(challenger, $0)) }
        #expect(again.lower == better.lower && again.upper == better.upper)
        let loss = try RetrainEvaluation.paired(rows: 200, higherIsBetter: false) { (1 - accuracy(champion, $0), 1 - accuracy(challenger, $0)) }
        #expect(abs(loss.improvement - 0.15) < 1e-12, "a lower loss is an improvement")
        #expect(throws: FerryError.self) { try RetrainEvaluation.paired(rows: 10, higherIsBetter: true) { _ in (nil, 0.5) } }
    }
}
