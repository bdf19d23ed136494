import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: ValidationStore {
    public func putExpectations(_ expectations: Expectations, audit: AuditBuilder<Expectations>?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO expectations (model, version, spec) VALUES (?, ?, ?) ON CONFLICT(model, version) DO UPDATE SET spec = excluded.spec",
                arguments: [expectations.model, expectations.version, try Records.encode(ExpectationsRecord(expectations))])
            try Self.audit(db, audit, expectations)
        }
    }

    public func expectations(model: String, version: Int) async throws -> Expectations? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM expectations WHERE model = ? AND version = ?", arguments: [model, version])
                .map { try Records.decode(ExpectationsRecord.self, $0).domain() }
        }
    }

    public func removeExpectations(model: String, version: Int, audit: AuditBuilder<Expectations>?) async throws -> Bool {
        try await writer.write { db in
            guard let spec = try String.fetchOne(db, sql: "SELECT spec FROM expectations WHERE model = ? AND version = ?", arguments: [model, version]) else {
                return false
            }
            try db.execute(sql: "DELETE FROM expectations WHERE model = ? AND version = ?", arguments: [model, version])
            try Self.audit(db, audit, try Records.decode(ExpectationsRecord.self, spec).domain())
            return true
        }
    }

    public func createValidationRun(_ run: ValidationRun, audit: AuditBuilder<ValidationRun>?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO validation_run (id, model, created_at, spec) VALUES (?, ?, ?, ?)",
                arguments: [run.id, run.model, Self.millis(run.createdAt), try Records.encode(ValidationRunRecord(run))])
            try Self.audit(db, audit, run)
        }
    }

    public func validationRun(id: String) async throws -> ValidationRun? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM validation_run WHERE id = ?", arguments: [id])
                .map { try Records.decode(ValidationRunRecord.self, $0).domain() }
        }
    }

    public func validationRuns(model: String, limit: Int) async throws -> [ValidationRun] {
        try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT spec FROM validation_run WHERE model = ? ORDER BY created_at DESC, id DESC LIMIT ?", arguments: [model, limit]
            ).map { try Records.decode(ValidationRunRecord.self, $0).domain() }
        }
    }
}
