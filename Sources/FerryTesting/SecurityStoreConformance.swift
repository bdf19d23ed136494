import FerryCore
import Foundation

/// The behaviour every store of API keys and audit entries must show (SQLite today, PostgreSQL next).
public enum SecurityStoreConformance {
    public typealias Store = any MetadataStore & KeyStore & AuditStore

    static func key(_ id: String, role: Role = .predictor, hash: String? = nil, models: [String]? = nil) -> APIKey {
        APIKey(
            id: id, name: "key \(id)", role: role, models: models, rateLimit: models == nil ? nil : 12.5,
            secretSHA256: hash ?? String(repeating: String(id.suffix(1)), count: 64), createdBy: "test", createdAt: Fixtures.time,
            expiresAt: Fixtures.time.addingTimeInterval(3600))
    }

    public static let cases: [ConformanceCase<Store>] = [
        .init("keys round-trip every field, ids and secrets are unique, revocation keeps its first time") { store in
            let a = key("fry_a", models: ["fraud", "churn"])
            try await store.createKey(a)
            try await store.createKey(key("fry_b", role: .admin))
            let keys = try await store.keys()
            try expect(keys == [a, key("fry_b", role: .admin)], "round trip: \(keys)")
            try await expectError(.alreadyExists) { try await store.createKey(key("fry_a", hash: "ff")) }
            try await expectError(.alreadyExists) { try await store.createKey(key("fry_c", hash: a.secretSHA256)) }
            let revoked = try await store.revokeKey(id: "fry_a", at: Fixtures.time.addingTimeInterval(10))
            try expect(revoked.revokedAt == Fixtures.time.addingTimeInterval(10), "revoked at: \(String(describing: revoked.revokedAt))")
            let again = try await store.revokeKey(id: "fry_a", at: Fixtures.time.addingTimeInterval(20))
            try expect(again.revokedAt == Fixtures.time.addingTimeInterval(10), "second revocation keeps the first time")
            try await expectError(.notFound) { _ = try await store.revokeKey(id: "fry_zz", at: Fixtures.time) }
        },
        .init("audit entries are numbered from 1, chained, and read back in pages") { store in
            var drafts: [AuditDraft] = []
            for i in 0..<5 {
                drafts.append(AuditDraft(
                    at: Fixtures.time.addingTimeInterval(Double(i)), actor: "alice", action: "alias.set", target: "m@production",
                    before: i == 0 ? nil : ["version": .number(Double(i))], after: ["version": .number(Double(i + 1)), "reason": "ünïcode \"quoted\""]))
            }
            try expect(try await store.latestAuditSeq() == 0, "an empty trail's head is 0")
            var appended: [AuditEntry] = []
            for draft in drafts { appended.append(try await store.appendAudit(draft)) }
            try expect(try await store.latestAuditSeq() == 5, "the head is the last number")
            try expect(appended.map(\.seq) == [1, 2, 3, 4, 5], "numbers: \(appended.map(\.seq))")
            try expect(appended[0].previousHash == AuditEntry.genesis && appended[1].previousHash == appended[0].hash, "links")
            let read = try await store.auditEntries(after: 0, limit: 100)
            try expect(read == appended, "read back equals what was appended")
            try expect(try await store.auditEntries(after: 3, limit: 1).map(\.seq) == [4], "paging")
            try expect(AuditVerification.check(read).intact, "stored chain verifies: \(AuditVerification.check(read).problems)")
        },
        .init("a change and its audit entry commit together, and a refused change leaves no entry") { store in
            let draft: @Sendable (String) -> AuditDraft = { AuditDraft(at: Fixtures.time, actor: "alice", action: $0, target: "m") }
            try await store.createModel(Fixtures.model("m")) { _ in draft("model.create") }
            try await expectError(.alreadyExists) { try await store.createModel(Fixtures.model("m")) { _ in draft("model.create") } }
            let version = try await store.addVersion(Fixtures.version("m")) { v in draft("version.register \(v.version)") }
            try await store.setAlias(model: "m", alias: "production", version: version.version, by: "alice", at: Fixtures.time, reason: "") { e in
                draft("alias.set \(e.from.map(String.init) ?? "-")->\(e.to.map(String.init) ?? "-")")
            }
            try await expectError(.notFound) {
                try await store.setAlias(model: "m", alias: "production", version: 9, by: "a", at: Fixtures.time, reason: "") { _ in draft("never") }
            }
            // A builder that fails aborts its change.
            struct Refused: Error {}
            do {
                _ = try await store.addVersion(Fixtures.version("m", digest: "cc")) { _ in throw Refused() }
                throw FerryError(.internal, "a failing audit builder did not abort addVersion")
            } catch is Refused {}
            try expect(try await store.versions(model: "m").count == 1, "the aborted version was not stored")
            try await store.createKey(key("fry_k")) { k in draft("key.create \(k.id)") }
            _ = try await store.revokeKey(id: "fry_k", at: Fixtures.time) { k in draft("key.revoke \(k.revokedAt != nil)") }
            let actions = try await store.auditEntries(after: 0, limit: 100).map(\.action)
            try expect(actions == ["model.create", "version.register 1", "alias.set -->1", "key.create fry_k", "key.revoke true"], "\(actions)")
        },
        .init("concurrent appends still form one unbroken chain") { store in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await store.appendAudit(AuditDraft(at: Fixtures.time, actor: "t\(i)", action: "model.create", target: "m\(i)"))
                    }
                }
                try await group.waitForAll()
            }
            let all = try await store.auditEntries(after: 0, limit: 1000)
            let check = AuditVerification.check(all)
            try expect(all.count == 40 && check.intact, "\(all.count) entries, problems: \(check.problems)")
        },
    ]
}
