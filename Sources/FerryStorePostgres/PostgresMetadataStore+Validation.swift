import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: ValidationStore {
    public func putExpectations(_ expectations: Expectations, audit: AuditBuilder<Expectations>?) async throws {
        let spec = try Records.encode(ExpectationsRecord(expectations))
        let (model, version) = (expectations.model, expectations.version)
        try await database.transaction { c in
            let logger = self.database.logger
            try await PostgresDatabase.execute(
                c, "INSERT INTO expectations (model, version, spec) VALUES (\(model), \(version), \(spec)) ON CONFLICT (model, version) DO UPDATE SET spec = EXCLUDED.spec",
                logger)
            try await Self.audit(c, audit, expectations, logger)
        }
    }

    public func expectations(model: String, version: Int) async throws -> Expectations? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM expectations WHERE model = \(model) AND version = \(version)", self.database.logger).first
                .map { try Records.decode(ExpectationsRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func removeExpectations(model: String, version: Int, audit: AuditBuilder<Expectations>?) async throws -> Bool {
        try await database.transaction { c in
            let logger = self.database.logger
            let removed = try await PostgresDatabase.rows(
                c, "DELETE FROM expectations WHERE model = \(model) AND version = \(version) RETURNING spec", logger
            ).first
            guard let removed else { return false }
            try await Self.audit(c, audit, try Records.decode(ExpectationsRecord.self, try removed["spec"].decode(String.self)).domain(), logger)
            return true
        }
    }

    public func createValidationRun(_ run: ValidationRun, audit: AuditBuilder<ValidationRun>?) async throws {
        let spec = try Records.encode(ValidationRunRecord(run))
        let created = Self.millis(run.createdAt)
        try await database.transaction { c in
            let logger = self.database.logger
            try await PostgresDatabase.execute(
                c, "INSERT INTO validation_run (id, model, created_at, spec) VALUES (\(run.id), \(run.model), \(created), \(spec))", logger)
            try await Self.audit(c, audit, run, logger)
        }
    }

    public func validationRun(id: String) async throws -> ValidationRun? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM validation_run WHERE id = \(id)", self.database.logger).first
                .map { try Records.decode(ValidationRunRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func validationRuns(model: String, limit: Int) async throws -> [ValidationRun] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT spec FROM validation_run WHERE model = \(model) ORDER BY created_at DESC, id DESC LIMIT \(limit)", self.database.logger
            ).map { try Records.decode(ValidationRunRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }
}
