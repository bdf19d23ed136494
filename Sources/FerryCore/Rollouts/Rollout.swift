import Foundation

/// How a canary rollout moves: the candidate's traffic share per step, how long each step bakes, and the gates
/// it must pass to move on.
public struct RolloutPlan: Sendable, Equatable, Codable {
    /// Candidate traffic per step, in percent, ending at 100.
    public var steps: [Double]
    public var bakeSeconds: Double
    public var gates: RolloutGates

    enum CodingKeys: String, CodingKey { case steps, bakeSeconds = "bake_seconds", gates }

    public init(steps: [Double] = [5, 25, 50, 100], bakeSeconds: Double = 300, gates: RolloutGates = RolloutGates()) {
        self.steps = steps
        self.bakeSeconds = bakeSeconds
        self.gates = gates
    }

    public func validate() throws {
        guard !steps.isEmpty, steps.last == 100 else { throw FerryError.invalid("field 'steps' must end at 100 (percent of traffic)") }
        guard steps.allSatisfy({ $0 > 0 && $0 <= 100 }), zip(steps, steps.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw FerryError.invalid("field 'steps' must be increasing percentages between 0 and 100, e.g. [5, 25, 50, 100]")
        }
        guard bakeSeconds >= 0, bakeSeconds.isFinite else { throw FerryError.invalid("field 'bake_seconds' must be a number >= 0") }
        try gates.validate()
    }
}

extension RolloutPlan {
    /// The plan a strategy implies. `canary` (the default) walks `steps` (5→25→50→100 %) baking `bakeSeconds` (300)
    /// at each; `blue-green` switches all traffic at once and keeps the old version loaded while the gates watch for
    /// `bakeSeconds` (600) before promoting. Throws naming the field that does not fit the strategy.
    public static func make(strategy: String?, steps: [Double]?, bakeSeconds: Double?, gates: RolloutGates?) throws -> RolloutPlan {
        let defaults = RolloutPlan()
        let plan: RolloutPlan
        switch strategy ?? "canary" {
        case "canary":
            plan = RolloutPlan(steps: steps ?? defaults.steps, bakeSeconds: bakeSeconds ?? defaults.bakeSeconds, gates: gates ?? defaults.gates)
        case "blue-green":
            guard steps == nil || steps == [100] else {
                throw FerryError.invalid("field 'steps' does not apply to strategy 'blue-green' (it switches 100% at once)")
            }
            plan = RolloutPlan(steps: [100], bakeSeconds: bakeSeconds ?? 600, gates: gates ?? defaults.gates)
        case let other:
            throw FerryError.invalid("field 'strategy' is '\(other)'; use 'canary' or 'blue-green'")
        }
        try plan.validate()
        return plan
    }
}

/// Thresholds a candidate must stay within, compared with the stable version over the same step.
public struct RolloutGates: Sendable, Equatable, Codable {
    /// Candidate requests a step needs before the gates judge it.
    public var minRequests: Int
    /// Candidate error rate may exceed the stable one by at most this (absolute, 0.01 = one point).
    public var maxErrorRateIncrease: Double
    /// Candidate p99 latency may be at most this multiple of stable's ...
    public var maxLatencyRatio: Double
    /// ... or stable's plus this many seconds, whichever is larger (tiny latencies are noisy).
    public var latencySlackSeconds: Double
    /// Largest population stability index between the candidate's and the stable version's outputs.
    public var maxOutputPSI: Double
    /// Output values each side needs before the PSI is judged (PSI of two samples of one distribution shrinks
    /// like 9/n over ten bins, so small samples read as shift).
    public var minOutputs: Int
    /// Largest drop in accuracy on labelled predictions (judged once both sides have `minLabels`).
    public var maxAccuracyDrop: Double
    public var minLabels: Int
    /// A sensitive input whose groups the fairness gate compares: the candidate may widen the demographic parity
    /// difference between them (on labelled predictions, at probability 0.5) by at most `maxParityIncrease`.
    public var fairnessAttribute: String?
    public var maxParityIncrease: Double

    enum CodingKeys: String, CodingKey {
        case minRequests = "min_requests", maxErrorRateIncrease = "max_error_rate_increase"
        case maxLatencyRatio = "max_latency_ratio", latencySlackSeconds = "latency_slack_seconds"
        case maxOutputPSI = "max_output_psi", minOutputs = "min_outputs", maxAccuracyDrop = "max_accuracy_drop"
        case minLabels = "min_labels", fairnessAttribute = "fairness_attribute", maxParityIncrease = "max_parity_increase"
    }

    /// Decodes a partial object: absent thresholds keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RolloutGates()
        minRequests = try c.decodeIfPresent(Int.self, forKey: .minRequests) ?? d.minRequests
        maxErrorRateIncrease = try c.decodeIfPresent(Double.self, forKey: .maxErrorRateIncrease) ?? d.maxErrorRateIncrease
        maxLatencyRatio = try c.decodeIfPresent(Double.self, forKey: .maxLatencyRatio) ?? d.maxLatencyRatio
        latencySlackSeconds = try c.decodeIfPresent(Double.self, forKey: .latencySlackSeconds) ?? d.latencySlackSeconds
        maxOutputPSI = try c.decodeIfPresent(Double.self, forKey: .maxOutputPSI) ?? d.maxOutputPSI
        minOutputs = try c.decodeIfPresent(Int.self, forKey: .minOutputs) ?? d.minOutputs
        maxAccuracyDrop = try c.decodeIfPresent(Double.self, forKey: .maxAccuracyDrop) ?? d.maxAccuracyDrop
        minLabels = try c.decodeIfPresent(Int.self, forKey: .minLabels) ?? d.minLabels
        fairnessAttribute = try c.decodeIfPresent(String.self, forKey: .fairnessAttribute)
        maxParityIncrease = try c.decodeIfPresent(Double.self, forKey: .maxParityIncrease) ?? d.maxParityIncrease
    }

    public init(
        minRequests: Int = 100, maxErrorRateIncrease: Double = 0.01, maxLatencyRatio: Double = 1.5,
        latencySlackSeconds: Double = 0.005, maxOutputPSI: Double = 0.2, minOutputs: Int = 200, maxAccuracyDrop: Double = 0.05,
        minLabels: Int = 50, fairnessAttribute: String? = nil, maxParityIncrease: Double = 0.05
    ) {
        self.fairnessAttribute = fairnessAttribute
        self.maxParityIncrease = maxParityIncrease
        self.minOutputs = minOutputs
        self.minRequests = minRequests
        self.maxErrorRateIncrease = maxErrorRateIncrease
        self.maxLatencyRatio = maxLatencyRatio
        self.latencySlackSeconds = latencySlackSeconds
        self.maxOutputPSI = maxOutputPSI
        self.maxAccuracyDrop = maxAccuracyDrop
        self.minLabels = minLabels
    }

    public func validate() throws {
        guard minRequests >= 1 else { throw FerryError.invalid("field 'gates.min_requests' must be at least 1") }
        for (name, value) in [("max_error_rate_increase", maxErrorRateIncrease), ("max_latency_ratio", maxLatencyRatio),
                              ("latency_slack_seconds", latencySlackSeconds), ("max_output_psi", maxOutputPSI),
                              ("max_accuracy_drop", maxAccuracyDrop), ("max_parity_increase", maxParityIncrease)] {
            guard value >= 0, value.isFinite else { throw FerryError.invalid("field 'gates.\(name)' must be a number >= 0") }
        }
        guard minLabels >= 1 else { throw FerryError.invalid("field 'gates.min_labels' must be at least 1") }
        guard minOutputs >= 10 else { throw FerryError.invalid("field 'gates.min_outputs' must be at least 10") }
        if let fairnessAttribute, fairnessAttribute.isEmpty { throw FerryError.invalid("field 'gates.fairness_attribute' must name an input") }
    }
}

/// What was observed of one version during a step.
public struct VariantStats: Sendable, Equatable, Codable {
    public var requests: Int
    public var errors: Int
    public var p99Seconds: Double?
    /// Accuracy on the step's predictions that have ground truth, and how many there are.
    public var accuracy: Double?
    public var labelled: Int
    /// Output values recorded (the first output of each row).
    public var outputs: Int
    /// Demographic parity difference between the groups of the fairness gate's attribute, on labelled predictions.
    public var parityDifference: Double?

    enum CodingKeys: String, CodingKey {
        case requests, errors, p99Seconds = "p99_seconds", accuracy, labelled, outputs, parityDifference = "parity_difference"
    }

    public init(
        requests: Int = 0, errors: Int = 0, p99Seconds: Double? = nil, accuracy: Double? = nil, labelled: Int = 0, outputs: Int = 0,
        parityDifference: Double? = nil
    ) {
        self.parityDifference = parityDifference
        self.outputs = outputs
        self.requests = requests
        self.errors = errors
        self.p99Seconds = p99Seconds
        self.accuracy = accuracy
        self.labelled = labelled
    }

    public var errorRate: Double? { requests > 0 ? Double(errors) / Double(requests) : nil }
}

/// A snapshot of a step: both sides, plus the shift between their outputs.
public struct RolloutObservation: Sendable, Equatable, Codable {
    public var stable: VariantStats
    public var candidate: VariantStats
    public var outputPSI: Double?

    enum CodingKeys: String, CodingKey { case stable, candidate, outputPSI = "output_psi" }

    public init(stable: VariantStats, candidate: VariantStats, outputPSI: Double? = nil) {
        self.stable = stable
        self.candidate = candidate
        self.outputPSI = outputPSI
    }
}

/// One gate's verdict with the numbers behind it; `passed` is nil when there is not enough data to judge.
public struct GateResult: Sendable, Equatable, Codable {
    public var gate: String
    public var candidate: Double?
    public var limit: Double?
    public var passed: Bool?

    public init(gate: String, candidate: Double?, limit: Double?, passed: Bool?) {
        self.gate = gate
        self.candidate = candidate
        self.limit = limit
        self.passed = passed
    }
}

/// A rollout of `candidate` onto an endpoint whose traffic `stable` served, step by step.
public struct Rollout: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case running, paused, promoted
        case rolledBack = "rolled_back"

        public var isFinished: Bool { self == .promoted || self == .rolledBack }
    }

    public var endpoint: String
    public var stable: VersionRef
    public var candidate: VersionRef
    public var plan: RolloutPlan
    /// Index into `plan.steps`.
    public var step: Int
    public var stepStartedAt: Date
    public var status: Status
    public var startedBy: String
    public var startedAt: Date
    /// Why it ended or paused, when it did.
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case endpoint, stable, candidate, plan, step, status, reason
        case stepStartedAt = "step_started_at", startedBy = "started_by", startedAt = "started_at"
    }

    public init(endpoint: String, stable: VersionRef, candidate: VersionRef, plan: RolloutPlan, by: String, at: Date) {
        self.endpoint = endpoint
        self.stable = stable
        self.candidate = candidate
        self.plan = plan
        self.step = 0
        self.stepStartedAt = at
        self.status = .running
        self.startedBy = by
        self.startedAt = at
    }

    /// The candidate's share of traffic now, in percent.
    public var candidatePercent: Double {
        switch status {
        case .promoted: 100
        case .rolledBack: 0
        case .running, .paused: plan.steps[step]
        }
    }

    public enum Decision: Sendable, Equatable {
        /// Keep the current step (the reason says what it waits for).
        case wait(String)
        /// Move to step `index` (its percent in the plan).
        case advance(to: Int)
        case promote
        case rollback(String)
    }

    /// The automatic decision for a snapshot of the current step. Pure: time comes in as `now`.
    ///
    /// A failed gate rolls back at once, without waiting for the bake time to end; passing needs both the bake
    /// time and `minRequests` candidate requests, then moves to the next step or, after the last, promotes.
    public func decide(_ observed: RolloutObservation, now: Date) -> (decision: Decision, gates: [GateResult]) {
        guard status == .running else { return (.wait("the rollout is \(status.rawValue)"), []) }
        let gates = Self.evaluate(plan.gates, observed)
        let enough = observed.candidate.requests >= plan.gates.minRequests
        let failed = gates.filter { $0.passed == false }
        if enough, !failed.isEmpty {
            let reasons = failed.map { gate in
                "\(gate.gate) \(Self.format(gate.candidate)) over the limit \(Self.format(gate.limit))"
            }
            return (.rollback("gate failed at \(Self.format(plan.steps[step]))%: " + reasons.joined(separator: "; ")), gates)
        }
        let baked = now.timeIntervalSince(stepStartedAt)
        if baked < plan.bakeSeconds {
            return (.wait("baking: \(Int((plan.bakeSeconds - baked).rounded(.up))) s left"), gates)
        }
        if !enough {
            return (.wait("waiting for \(plan.gates.minRequests - observed.candidate.requests) more candidate requests"), gates)
        }
        // When both sides produce outputs they are compared before moving on (blue-green leaves the stable side
        // without traffic, so there is nothing to compare with).
        if observed.outputPSI == nil, observed.stable.outputs > 0, observed.candidate.outputs > 0 {
            return (.wait("waiting for \(plan.gates.minOutputs) outputs on each side to compare (candidate \(observed.candidate.outputs), stable \(observed.stable.outputs))"), gates)
        }
        return (step + 1 < plan.steps.count ? .advance(to: step + 1) : .promote, gates)
    }

    static func evaluate(_ g: RolloutGates, _ o: RolloutObservation) -> [GateResult] {
        var results: [GateResult] = []
        let enough = o.candidate.requests >= g.minRequests
        if let rate = o.candidate.errorRate {
            let limit = (o.stable.errorRate ?? 0) + g.maxErrorRateIncrease
            results.append(GateResult(gate: "error_rate", candidate: rate, limit: limit, passed: enough ? rate <= limit : nil))
        } else {
            results.append(GateResult(gate: "error_rate", candidate: nil, limit: nil, passed: nil))
        }
        if let p99 = o.candidate.p99Seconds, let base = o.stable.p99Seconds {
            let limit = max(base * g.maxLatencyRatio, base + g.latencySlackSeconds)
            results.append(GateResult(gate: "latency_p99", candidate: p99, limit: limit, passed: enough ? p99 <= limit : nil))
        } else {
            results.append(GateResult(gate: "latency_p99", candidate: o.candidate.p99Seconds, limit: nil, passed: nil))
        }
        results.append(GateResult(
            gate: "output_psi", candidate: o.outputPSI, limit: g.maxOutputPSI,
            passed: enough ? o.outputPSI.map { $0 <= g.maxOutputPSI } : nil))
        if let candidate = o.candidate.accuracy, let stable = o.stable.accuracy,
           o.candidate.labelled >= g.minLabels, o.stable.labelled >= g.minLabels {
            let limit = stable - g.maxAccuracyDrop
            // Reported as the drop, so "over the limit" reads the same way for every gate.
            results.append(GateResult(gate: "accuracy_drop", candidate: stable - candidate, limit: g.maxAccuracyDrop, passed: candidate >= limit))
        } else {
            results.append(GateResult(gate: "accuracy_drop", candidate: nil, limit: g.maxAccuracyDrop, passed: nil))
        }
        if g.fairnessAttribute != nil {
            // Reported as the widening of the gap, judged on as many labelled predictions as the accuracy gate.
            if let candidate = o.candidate.parityDifference, let stable = o.stable.parityDifference,
               o.candidate.labelled >= g.minLabels, o.stable.labelled >= g.minLabels {
                let increase = candidate - stable
                results.append(GateResult(gate: "parity_increase", candidate: increase, limit: g.maxParityIncrease, passed: increase <= g.maxParityIncrease))
            } else {
                results.append(GateResult(gate: "parity_increase", candidate: nil, limit: g.maxParityIncrease, passed: nil))
            }
        }
        return results
    }

    /// Moves to `decision`'s state at `now` (the caller persists it and shifts traffic accordingly).
    public mutating func apply(_ decision: Decision, at now: Date) {
        switch decision {
        case .wait: return
        case .advance(let index):
            step = index
            stepStartedAt = now
        case .promote:
            status = .promoted
            reason = reason ?? "all steps passed"
        case .rollback(let why):
            status = .rolledBack
            reason = why
        }
    }

    /// Operator commands; each refuses, with the reason, when the rollout's state does not allow it.
    public enum Command: String, Sendable, Codable, CaseIterable {
        case pause, resume, promote, rollback
    }

    public mutating func apply(_ command: Command, by actor: String, at now: Date) throws {
        guard !status.isFinished else {
            throw FerryError(.failedPrecondition, "the rollout on '\(endpoint)' has already \(status == .promoted ? "been promoted" : "been rolled back"); start a new one")
        }
        switch command {
        case .pause:
            guard status == .running else { throw FerryError(.failedPrecondition, "the rollout on '\(endpoint)' is already paused") }
            status = .paused
            reason = "paused by \(actor)"
        case .resume:
            guard status == .paused else { throw FerryError(.failedPrecondition, "the rollout on '\(endpoint)' is not paused") }
            status = .running
            reason = nil
            stepStartedAt = now   // the pause does not count as bake time
        case .promote:
            status = .promoted
            reason = "promoted by \(actor)"
        case .rollback:
            status = .rolledBack
            reason = "rolled back by \(actor)"
        }
    }

    public static func format(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == value.rounded() && abs(value) < 1e9 { return String(Int(value)) }
        return String(format: "%.4g", value)
    }
}
