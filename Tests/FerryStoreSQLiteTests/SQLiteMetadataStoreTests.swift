import FerryCore
import FerryTesting
import Foundation
import Testing

@testable import FerryStoreSQLite

struct SQLiteMetadataStoreTests {
    @Test(arguments: MetadataStoreConformance.cases)
    func conformanceInMemory(_ check: ConformanceCase<any MetadataStore>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: MetadataStoreConformance.cases)
    func conformanceOnDisk(_ check: ConformanceCase<any MetadataStore>) async throws {
        try await withDatabaseFile { try await check.run(try SQLiteMetadataStore(path: $0)) }
    }

    @Test func dataSurvivesReopening() async throws {
        try await withDatabaseFile { path in
            do {
                let store = try SQLiteMetadataStore(path: path)
                try await store.createModel(Fixtures.model("m"))
                _ = try await store.addVersion(Fixtures.version("m"))
                try await store.setAlias(model: "m", alias: "production", version: 1, by: "t", at: Fixtures.time, reason: "")
            }
            let reopened = try SQLiteMetadataStore(path: path)
            #expect(try await reopened.versions(model: "m").count == 1)
            #expect(try await reopened.aliases(model: "m").first?.version == 1)
        }
    }
}

struct SQLiteSecurityStoreTests {
    @Test(arguments: SecurityStoreConformance.cases)
    func conformanceInMemory(_ check: ConformanceCase<SecurityStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: SecurityStoreConformance.cases)
    func conformanceOnDisk(_ check: ConformanceCase<SecurityStoreConformance.Store>) async throws {
        try await withDatabaseFile { try await check.run(try SQLiteMetadataStore(path: $0)) }
    }

    /// Someone with write access to the database file edits, deletes or reorders rows: verification says where.
    @Test(arguments: [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", "entry 3 (model.create m3) does not match its hash"),
        ("UPDATE audit_log SET after = '{\"version\":9}' WHERE seq = 2", "entry 2 (model.create m2) does not match its hash"),
        ("DELETE FROM audit_log WHERE seq = 2", "entry 3 found where entry 2 was expected"),
        // Edits that parse to the same value: a key given twice (the first wins) and spaces. Before, they passed.
        (#"UPDATE audit_log SET after = '{"n":3,"n":9}' WHERE seq = 3"#, "entry 3 (model.create m3) does not match its hash"),
        (#"UPDATE audit_log SET after = '{ "n" : 4 }' WHERE seq = 4"#, "entry 4 (model.create m4) does not match its hash"),
        ("UPDATE audit_log SET seq = seq + 100 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 102",
         "entry 2 does not link to the entry before it"),
    ])
    func tamperingIsDetected(_ sql: String, _ expected: String) async throws {
        try await withDatabaseFile { path in
            let store = try SQLiteMetadataStore(path: path)
            for i in 1...5 {
                _ = try await store.appendAudit(AuditDraft(at: Fixtures.time, actor: "alice", action: "model.create", target: "m\(i)", after: ["n": .number(Double(i))]))
            }
            #expect(AuditVerification.check(try await store.auditEntries(after: 0, limit: 100)).intact)
            try await store.writer.write { db in try db.execute(sql: sql) }
            let check = AuditVerification.check(try await store.auditEntries(after: 0, limit: 100))
            #expect(!check.intact)
            #expect(check.problems.contains { $0.hasPrefix(expected) }, "\(check.problems)")
        }
    }

    @Test func removingTheNewestEntriesIsCaughtByAnAnchor() async throws {
        let store = try SQLiteMetadataStore()
        var last: AuditEntry?
        for i in 1...4 { last = try await store.appendAudit(AuditDraft(at: Fixtures.time, actor: "a", action: "model.create", target: "m\(i)")) }
        try await store.writer.write { db in try db.execute(sql: "DELETE FROM audit_log WHERE seq = 4") }
        let entries = try await store.auditEntries(after: 0, limit: 100)
        #expect(AuditVerification.check(entries).intact, "a shorter chain is still a valid chain")
        let anchored = AuditVerification.check(entries, anchor: (4, last!.hash))
        #expect(anchored.problems == ["anchored entry 4 is missing: the newest entries were deleted"])
    }
}

struct SQLiteEndpointAlertStoreTests {
    @Test(arguments: ValidationStoreConformance.cases)
    func validationConformance(_ check: ConformanceCase<ValidationStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: ApprovalStoreConformance.cases)
    func approvalConformance(_ check: ConformanceCase<ApprovalStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: BatchJobStoreConformance.cases)
    func batchJobConformance(_ check: ConformanceCase<BatchJobStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: RetrainStoreConformance.cases)
    func retrainConformance(_ check: ConformanceCase<RetrainStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: TrackingStoreConformance.cases)
    func trackingConformance(_ check: ConformanceCase<TrackingStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: FeatureStoreConformance.cases)
    func featureConformance(_ check: ConformanceCase<FeatureStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    /// On a file, online reads go through connections of their own (`SQLiteOnlineReaders`).
    @Test(arguments: FeatureStoreConformance.cases)
    func featureConformanceOnDisk(_ check: ConformanceCase<FeatureStoreConformance.Store>) async throws {
        try await withDatabaseFile { try await check.run(try SQLiteMetadataStore(path: $0)) }
    }

    @Test(arguments: EndpointStoreConformance.cases)
    func endpointConformance(_ check: ConformanceCase<EndpointStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }

    @Test(arguments: AlertStoreConformance.cases)
    func alertConformance(_ check: ConformanceCase<AlertStoreConformance.Store>) async throws {
        try await check.run(try SQLiteMetadataStore())
    }
}

/// Runs `body` with the path of a database file in a folder of its own, removed afterwards.
func withDatabaseFile(_ body: (String) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-sqlite-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try await body(dir.appendingPathComponent("ferry.sqlite").path)
}
