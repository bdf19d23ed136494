import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

/// Reference profiles: the distributions drift is measured against, one per version.
extension SQLiteMetadataStore {
    public func setReferenceProfile(model: String, version: Int, profile: ReferenceProfile, audit: AuditBuilder<ReferenceProfile>?) async throws {
        let text = try Records.encode(ReferenceProfileRecord(profile))
        try await writer.write { db in
            let exists = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM model_version WHERE model = ? AND version = ?)", arguments: [model, version]) ?? false
            guard exists else { throw FerryError.notFound("model '\(model)' has no version \(version)") }
            try db.execute(
                sql: "INSERT INTO reference_profile (model, version, profile) VALUES (?, ?, ?) ON CONFLICT (model, version) DO UPDATE SET profile = excluded.profile",
                arguments: [model, version, text])
            try Self.audit(db, audit, profile)
        }
    }

    public func referenceProfile(model: String, version: Int) async throws -> ReferenceProfile? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT profile FROM reference_profile WHERE model = ? AND version = ?", arguments: [model, version])
                .map { try Records.decode(ReferenceProfileRecord.self, $0).domain() }
        }
    }
}
