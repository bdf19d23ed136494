import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: BatchJobStore {
    public func createBatchJob(_ job: BatchJob, maxQueued: Int, audit: AuditBuilder<BatchJob>?) async throws {
        try await writer.write { db in
            let queued = try Int.fetchOne(db, sql: "SELECT count(*) FROM batch_job WHERE state = 'queued'") ?? 0
            if queued >= maxQueued { throw BatchJobs.queueFull(maxQueued) }
            try db.execute(
                sql: "INSERT INTO batch_job (id, state, created_at, spec) VALUES (?, ?, ?, ?)",
                arguments: [job.id, job.state.rawValue, Self.millis(job.createdAt), try Records.encode(BatchJobRecord(job))])
            try Self.audit(db, audit, job)
        }
    }

    public func batchJob(id: String) async throws -> BatchJob? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM batch_job WHERE id = ?", arguments: [id]).map { try Records.decode(BatchJobRecord.self, $0).domain() }
        }
    }

    public func batchJobs(states: [BatchJob.State]?, limit: Int) async throws -> [BatchJob] {
        try await writer.read { db in
            let names = (states ?? BatchJob.State.allCases).map(\.rawValue)
            let marks = names.map { _ in "?" }.joined(separator: ", ")
            return try String.fetchAll(
                db, sql: "SELECT spec FROM batch_job WHERE state IN (\(marks)) ORDER BY created_at DESC, id DESC LIMIT ?",
                arguments: StatementArguments(names) + [limit]
            ).map { try Records.decode(BatchJobRecord.self, $0).domain() }
        }
    }

    @discardableResult
    public func updateBatchJob(_ job: BatchJob, expected: BatchJob.State?, audit: AuditBuilder<BatchJob>?) async throws -> Bool {
        try await writer.write { db in
            guard let stored = try String.fetchOne(db, sql: "SELECT state FROM batch_job WHERE id = ?", arguments: [job.id]) else {
                throw FerryError.notFound("no batch job '\(job.id)'")
            }
            if let expected, stored != expected.rawValue { return false }
            try db.execute(
                sql: "UPDATE batch_job SET state = ?, spec = ? WHERE id = ?",
                arguments: [job.state.rawValue, try Records.encode(BatchJobRecord(job)), job.id])
            try Self.audit(db, audit, job)
            return true
        }
    }
}
