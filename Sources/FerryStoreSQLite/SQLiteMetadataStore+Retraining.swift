import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: RetrainStore {
    public func setRetrainPolicy(_ policy: RetrainPolicy, audit: AuditBuilder<RetrainPolicy>?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO retrain_policy (model, spec) VALUES (?, ?) ON CONFLICT (model) DO UPDATE SET spec = excluded.spec",
                arguments: [policy.model, try Records.encode(RetrainPolicyRecord(policy))])
            try Self.audit(db, audit, policy)
        }
    }

    public func retrainPolicy(model: String) async throws -> RetrainPolicy? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM retrain_policy WHERE model = ?", arguments: [model])
                .map { try Records.decode(RetrainPolicyRecord.self, $0).domain() }
        }
    }

    public func retrainPolicies() async throws -> [RetrainPolicy] {
        try await writer.read { db in
            try String.fetchAll(db, sql: "SELECT spec FROM retrain_policy ORDER BY model").map { try Records.decode(RetrainPolicyRecord.self, $0).domain() }
        }
    }

    public func deleteRetrainPolicy(model: String, audit: AuditBuilder<String>?) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM retrain_policy WHERE model = ?", arguments: [model])
            if db.changesCount == 0 { throw FerryError.notFound("model '\(model)' has no retraining policy") }
            try Self.audit(db, audit, model)
        }
    }

    public func createRetrainJob(_ job: RetrainJob, audit: AuditBuilder<RetrainJob>?) async throws {
        try await writer.write { db in
            if let active = try String.fetchOne(
                db, sql: "SELECT id FROM retrain_job WHERE model = ? AND state IN ('queued', 'running')", arguments: [job.model]) {
                throw RetrainJobs.busy(model: job.model, active: active)
            }
            try db.execute(
                sql: "INSERT INTO retrain_job (id, model, state, created_at, spec) VALUES (?, ?, ?, ?, ?)",
                arguments: [job.id, job.model, job.state.rawValue, Self.millis(job.createdAt), try Records.encode(RetrainJobRecord(job))])
            try Self.audit(db, audit, job)
        }
    }

    public func retrainJob(id: String) async throws -> RetrainJob? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM retrain_job WHERE id = ?", arguments: [id]).map { try Records.decode(RetrainJobRecord.self, $0).domain() }
        }
    }

    public func retrainJobs(model: String?, limit: Int) async throws -> [RetrainJob] {
        try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT spec FROM retrain_job WHERE (? IS NULL OR model = ?) ORDER BY created_at DESC, id DESC LIMIT ?",
                arguments: [model, model, limit]
            ).map { try Records.decode(RetrainJobRecord.self, $0).domain() }
        }
    }

    public func updateRetrainJob(_ job: RetrainJob, audit: AuditBuilder<RetrainJob>?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE retrain_job SET state = ?, spec = ? WHERE id = ?",
                arguments: [job.state.rawValue, try Records.encode(RetrainJobRecord(job)), job.id])
            if db.changesCount == 0 { throw FerryError.notFound("no retraining job '\(job.id)'") }
            try Self.audit(db, audit, job)
        }
    }
}
