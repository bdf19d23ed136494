import FerryCore
import Foundation

/// The behaviour every store of retraining policies and jobs must show.
public enum RetrainStoreConformance {
    public typealias Store = any RetrainStore & AuditStore

    static func policy(_ model: String, every: Int? = nil) -> RetrainPolicy {
        RetrainPolicy(
            model: model, trainer: .command(["python", "train.py", "--fast"]), alerts: ["drift"], everySeconds: every, windowRows: 5000,
            holdoutFraction: 0.25, timeoutSeconds: 600, retries: 2,
            gate: RetrainGate(metric: "log_loss", minImprovement: 0.01, requireConfidence: true, maxLatencyRatio: 2), endpoint: "fraud-ep",
            rolloutSteps: [50, 100], rolloutBakeSeconds: 30, rolloutGates: RolloutGates(maxOutputPSI: 0.5, fairnessAttribute: "is_night"),
            updatedBy: "ann", updatedAt: Fixtures.time)
    }

    static func job(_ id: String, model: String = "fraud", at offset: Double = 0, state: RetrainJob.State = .queued) -> RetrainJob {
        RetrainJob(id: id, model: model, trigger: "manual", state: state, createdBy: "ann", createdAt: Fixtures.time.addingTimeInterval(offset))
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("policies round-trip, are replaced per model, listed by model and deleted, each change audited") { store in
            try await store.setRetrainPolicy(policy("fraud"), audit: audit("retrain.policy.set"))
            try await store.setRetrainPolicy(policy("churn"), audit: nil)
            try expect(try await store.retrainPolicy(model: "fraud") == policy("fraud"), "round trip")
            try await store.setRetrainPolicy(policy("fraud", every: 3600), audit: nil)
            try expect(try await store.retrainPolicy(model: "fraud")?.everySeconds == 3600, "replaced")
            try expect(try await store.retrainPolicies().map(\.model) == ["churn", "fraud"], "by model")
            var hooked = policy("hooked")
            hooked.trainer = .webhook(url: "https://airflow.internal/retrain", secret: "s3cret")
            try await store.setRetrainPolicy(hooked, audit: nil)
            try expect(try await store.retrainPolicy(model: "hooked") == hooked, "a webhook trainer round-trips with its secret")
            try await store.deleteRetrainPolicy(model: "hooked", audit: nil)
            try await store.deleteRetrainPolicy(model: "churn") { _ in AuditDraft(at: Fixtures.time, actor: "t", action: "retrain.policy.delete", target: "churn") }
            try expect(try await store.retrainPolicy(model: "churn") == nil, "deleted")
            try await expectError(.notFound) { try await store.deleteRetrainPolicy(model: "churn", audit: nil) }
            let actions = try await store.auditEntries(after: 0, limit: 10).map(\.action)
            try expect(actions == ["retrain.policy.set", "retrain.policy.delete"], "audited: \(actions)")
        },
        .init("a model has at most one queued or running job; finished ones free the slot; jobs round-trip, newest first") { store in
            try await store.createRetrainJob(job("j1"), audit: nil)
            try await expectError(.failedPrecondition) { try await store.createRetrainJob(job("j2", at: 1), audit: nil) }
            try await store.createRetrainJob(job("k1", model: "churn", at: 2), audit: nil)
            var first = job("j1")
            first.state = .rejected
            first.startedAt = Fixtures.time.addingTimeInterval(5)
            first.finishedAt = Fixtures.time.addingTimeInterval(9)
            first.reason = "roc_auc improves by -0.01"
            first.logs = "epoch 1\nepoch 2\n"
            (first.champion, first.candidate, first.trainingRows, first.holdoutRows) = (1, 2, 800, 200)
            (first.dataSince, first.dataUntil, first.dataDigest) = (Fixtures.time, Fixtures.time.addingTimeInterval(3), "sha256:ab")
            first.evaluation = RetrainEvaluation(
                metric: "roc_auc", rows: 200, champion: 0.9, challenger: 0.89, improvement: -0.01, lower: -0.03, upper: 0.01, resamples: 1000,
                championMicrosPerRow: 1.5, challengerMicrosPerRow: 1.7)
            (first.dataBytes, first.report) = (4096, .failure("out of GPUs"))
            try await store.updateRetrainJob(first, audit: nil)
            try expect(try await store.retrainJob(id: "j1") == first, "every field round-trips")
            first.report = .version(7)
            try await store.updateRetrainJob(first, audit: nil)
            try expect(try await store.retrainJob(id: "j1")?.report == .version(7), "a reported version round-trips")
            try await store.createRetrainJob(job("j2", at: 3), audit: nil)
            try expect(try await store.retrainJobs(model: "fraud", limit: 10).map(\.id) == ["j2", "j1"], "newest first")
            try expect(try await store.retrainJobs(model: nil, limit: 2).map(\.id) == ["j2", "k1"], "every model, limited")
            try await expectError(.notFound) { try await store.updateRetrainJob(job("nope"), audit: nil) }
            try expect(try await store.retrainJob(id: "nope") == nil, "unknown job is nil")
        },
    ]

    static func audit(_ action: String) -> AuditBuilder<RetrainPolicy> {
        { policy in AuditDraft(at: Fixtures.time, actor: "t", action: action, target: policy.model) }
    }
}
