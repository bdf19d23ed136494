import FerryCore
import Foundation
import Testing

/// The alert state machine, table-driven with explicit times (no clocks, no threads).
struct AlertStateTests {
    let rule = AlertRule(name: "r", model: "m", metric: .errorRate, comparison: .greater, threshold: 0.1, forSeconds: 60)
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    @Test(arguments: [
        // (state, since offset, value, now offset, expected state, since moves?)
        (AlertStatus.State.inactive, 0.0, 0.05, 10.0, AlertStatus.State.inactive, false),
        (.inactive, 0, 0.5, 10, .pending, true),
        (.pending, 0, 0.5, 30, .pending, false),
        (.pending, 0, 0.5, 60, .firing, true),
        (.pending, 0, 0.05, 30, .inactive, true),
        (.pending, 0, nil, 30, .inactive, true),
        (.firing, 0, 0.5, 500, .firing, false),
        (.firing, 0, 0.1, 500, .resolved, true),
        (.firing, 0, nil, 500, .resolved, true),
        (.resolved, 0, 0.05, 500, .resolved, false),
        (.resolved, 0, 0.2, 500, .pending, true),
    ] as [(AlertStatus.State, Double, Double?, Double, AlertStatus.State, Bool)])
    func transitions(_ state: AlertStatus.State, _ since: Double, _ value: Double?, _ now: Double, _ expected: AlertStatus.State, _ sinceMoves: Bool) {
        let previous = AlertStatus(state: state, since: t0.addingTimeInterval(since))
        let next = previous.next(rule: rule, value: value, now: t0.addingTimeInterval(now))
        #expect(next.state == expected)
        #expect(next.since == (sinceMoves ? t0.addingTimeInterval(now) : previous.since))
        #expect(next.value == value)
    }

    @Test func withoutForDurationItFiresAtOnce() {
        var immediate = rule
        immediate.forSeconds = 0
        #expect(AlertStatus().next(rule: immediate, value: 1, now: t0).state == .firing)
    }

    @Test func rulesAreValidatedByField() {
        var bad = rule
        bad.webhook = "ftp://x"
        #expect(throws: FerryError.self) { try bad.validate() }
        bad = rule
        bad.windowSeconds = 0
        #expect(throws: FerryError.self) { try bad.validate() }
        bad = rule
        bad.feature = "amount"
        #expect(throws: FerryError.self) { try bad.validate() }
    }
}
