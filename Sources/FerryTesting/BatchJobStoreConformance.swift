import FerryCore
import Foundation

/// The behaviour every store of batch jobs must show.
public enum BatchJobStoreConformance {
    public typealias Store = any BatchJobStore & AuditStore

    static func job(_ id: String, at offset: Double = 0) -> BatchJob {
        BatchJob(
            id: id, model: "fraud", version: 2, input: .path("/data/rows.csv"), format: .csv, createdBy: "ann",
            createdAt: Fixtures.time.addingTimeInterval(offset))
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("jobs round-trip with every field, list newest first and by state, and the queue is bounded") { store in
            try await store.createBatchJob(job("b1"), maxQueued: 2) { j in AuditDraft(at: Fixtures.time, actor: "ann", action: "job.submit", target: j.id) }
            try await store.createBatchJob(job("b2", at: 1), maxQueued: 2, audit: nil)
            do {
                try await store.createBatchJob(job("b3", at: 2), maxQueued: 2, audit: nil)
                throw ConformanceFailure(description: "a third job in a queue of two was accepted")
            } catch let error as FerryError {
                try expect(error.code == .unavailable && error.retryAfter == 60, "a full queue is unavailable with Retry-After 60: \(error.code) \(String(describing: error.retryAfter))")
            }
            var first = job("b1")
            first.inputStamp = "2049:131:1764410000.5:4096"
            (first.state, first.startedAt, first.inputBytes, first.bytesDone, first.rowsDone, first.rowsFailed) = (.running, Fixtures.time, 4096, 1024, 90, 2)
            first.input = .upload(ArtifactRef(sha256: "ab", size: 4096))
            (first.format, first.keyColumns, first.endpoint, first.webhook, first.webhookSecret) = (.jsonl, ["id"], "fraud-ep", "https://hooks.test/done", "s")
            (first.outputChunks, first.errorChunks, first.outputColumns) = ([ArtifactRef(sha256: "cd", size: 10)], [ArtifactRef(sha256: "ef", size: 3)], ["row", "id", "score"])
            try expect(try await store.updateBatchJob(first, expected: .queued, audit: nil), "updated from queued")
            try expect(try await store.batchJob(id: "b1") == first, "every field round-trips")
            try await store.createBatchJob(job("b3", at: 2), maxQueued: 2, audit: nil)
            try expect(try await store.batchJobs(states: nil, limit: 10).map(\.id) == ["b3", "b2", "b1"], "newest first")
            try expect(try await store.batchJobs(states: [.queued], limit: 10).map(\.id) == ["b3", "b2"], "by state")
            try expect(try await store.batchJobs(states: nil, limit: 1).map(\.id) == ["b3"], "limited")
            try expect(try await store.batchJob(id: "nope") == nil, "unknown job is nil")
            try await expectError(.notFound) { try await store.updateBatchJob(job("nope"), expected: nil, audit: nil) }
            let actions = try await store.auditEntries(after: 0, limit: 10).map(\.action)
            try expect(actions == ["job.submit"], "audited: \(actions)")
        },
        .init("an update expecting a state the job has left changes nothing (a cancel is not overwritten by the runner)") { store in
            try await store.createBatchJob(job("b1"), maxQueued: 10, audit: nil)
            var cancelled = job("b1")
            (cancelled.state, cancelled.reason) = (.cancelled, "cancelled by ann")
            try expect(try await store.updateBatchJob(cancelled, expected: .queued, audit: nil), "cancelled")
            var progressed = job("b1")
            (progressed.state, progressed.rowsDone) = (.running, 100)
            try expect(try await store.updateBatchJob(progressed, expected: .running, audit: nil) == false, "the runner's checkpoint is refused")
            try expect(try await store.updateBatchJob(progressed, expected: .queued, audit: nil) == false, "and a start")
            try expect(try await store.batchJob(id: "b1")?.state == .cancelled, "still cancelled")
        },
    ]
}
