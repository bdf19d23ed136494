import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: RetrainStore {
    public func setRetrainPolicy(_ policy: RetrainPolicy, audit: AuditBuilder<RetrainPolicy>?) async throws {
        let spec = try Records.encode(RetrainPolicyRecord(policy))
        try await database.transaction { c in
            try await PostgresDatabase.execute(
                c, "INSERT INTO retrain_policy (model, spec) VALUES (\(policy.model), \(spec)) ON CONFLICT (model) DO UPDATE SET spec = EXCLUDED.spec",
                self.database.logger)
            try await Self.audit(c, audit, policy, self.database.logger)
        }
    }

    public func retrainPolicy(model: String) async throws -> RetrainPolicy? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM retrain_policy WHERE model = \(model)", self.database.logger).first
                .map { try Records.decode(RetrainPolicyRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func retrainPolicies() async throws -> [RetrainPolicy] {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM retrain_policy ORDER BY model COLLATE \"C\"", self.database.logger)
                .map { try Records.decode(RetrainPolicyRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func deleteRetrainPolicy(model: String, audit: AuditBuilder<String>?) async throws {
        try await database.transaction { c in
            let deleted = try await PostgresDatabase.rows(c, "DELETE FROM retrain_policy WHERE model = \(model) RETURNING model", self.database.logger)
            if deleted.isEmpty { throw FerryError.notFound("model '\(model)' has no retraining policy") }
            try await Self.audit(c, audit, model, self.database.logger)
        }
    }

    public func createRetrainJob(_ job: RetrainJob, audit: AuditBuilder<RetrainJob>?) async throws {
        let spec = try Records.encode(RetrainJobRecord(job))
        let created = Self.millis(job.createdAt)
        do {
            try await database.transaction { c in
                let logger = self.database.logger
                if let active = try await PostgresDatabase.rows(
                    c, "SELECT id FROM retrain_job WHERE model = \(job.model) AND state IN ('queued', 'running')", logger).first {
                    throw RetrainJobs.busy(model: job.model, active: try active["id"].decode(String.self))
                }
                try await PostgresDatabase.execute(
                    c, "INSERT INTO retrain_job (id, model, state, created_at, spec) VALUES (\(job.id), \(job.model), \(job.state.rawValue), \(created), \(spec))",
                    logger)
                try await Self.audit(c, audit, job, logger)
            }
        } catch let error as FerryError where error.code == .alreadyExists {
            // Another replica's job won the race for the model's one active slot (the partial unique index).
            throw RetrainJobs.busy(model: job.model, active: "started on another replica")
        }
    }

    public func retrainJob(id: String) async throws -> RetrainJob? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM retrain_job WHERE id = \(id)", self.database.logger).first
                .map { try Records.decode(RetrainJobRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func retrainJobs(model: String?, limit: Int) async throws -> [RetrainJob] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT spec FROM retrain_job WHERE (\(model)::text IS NULL OR model = \(model)) ORDER BY created_at DESC, id DESC LIMIT \(limit)",
                self.database.logger
            ).map { try Records.decode(RetrainJobRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func updateRetrainJob(_ job: RetrainJob, audit: AuditBuilder<RetrainJob>?) async throws {
        let spec = try Records.encode(RetrainJobRecord(job))
        try await database.transaction { c in
            let updated = try await PostgresDatabase.rows(
                c, "UPDATE retrain_job SET state = \(job.state.rawValue), spec = \(spec) WHERE id = \(job.id) RETURNING id", self.database.logger)
            if updated.isEmpty { throw FerryError.notFound("no retraining job '\(job.id)'") }
            try await Self.audit(c, audit, job, self.database.logger)
        }
    }
}
