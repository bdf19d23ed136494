import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: BatchJobStore {
    public func createBatchJob(_ job: BatchJob, maxQueued: Int, audit: AuditBuilder<BatchJob>?) async throws {
        let spec = try Records.encode(BatchJobRecord(job))
        let created = Self.millis(job.createdAt)
        try await database.transaction { c in
            let logger = self.database.logger
            // One submission at a time counts the queue, whichever replica takes it.
            try await PostgresDatabase.execute(c, "LOCK TABLE batch_job IN SHARE ROW EXCLUSIVE MODE", logger)
            let queued = try await PostgresDatabase.rows(c, "SELECT count(*) AS n FROM batch_job WHERE state = 'queued'", logger).first
            if try queued?["n"].decode(Int.self) ?? 0 >= maxQueued { throw BatchJobs.queueFull(maxQueued) }
            try await PostgresDatabase.execute(
                c, "INSERT INTO batch_job (id, state, created_at, spec) VALUES (\(job.id), \(job.state.rawValue), \(created), \(spec))", logger)
            try await Self.audit(c, audit, job, logger)
        }
    }

    public func batchJob(id: String) async throws -> BatchJob? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM batch_job WHERE id = \(id)", self.database.logger).first
                .map { try Records.decode(BatchJobRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func batchJobs(states: [BatchJob.State]?, limit: Int) async throws -> [BatchJob] {
        let names = (states ?? BatchJob.State.allCases).map(\.rawValue)
        return try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT spec FROM batch_job WHERE state = ANY(\(names)) ORDER BY created_at DESC, id DESC LIMIT \(limit)", self.database.logger
            ).map { try Records.decode(BatchJobRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    @discardableResult
    public func updateBatchJob(_ job: BatchJob, expected: BatchJob.State?, audit: AuditBuilder<BatchJob>?) async throws -> Bool {
        let spec = try Records.encode(BatchJobRecord(job))
        return try await database.transaction { c in
            let logger = self.database.logger
            guard let row = try await PostgresDatabase.rows(c, "SELECT state FROM batch_job WHERE id = \(job.id) FOR UPDATE", logger).first else {
                throw FerryError.notFound("no batch job '\(job.id)'")
            }
            if let expected, try row["state"].decode(String.self) != expected.rawValue { return false }
            try await PostgresDatabase.execute(c, "UPDATE batch_job SET state = \(job.state.rawValue), spec = \(spec) WHERE id = \(job.id)", logger)
            try await Self.audit(c, audit, job, logger)
            return true
        }
    }
}
