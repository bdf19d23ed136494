import FerryCore
import Foundation
import Logging

/// Records control-plane changes in the hash-chained audit trail and reads it back.
///
/// A change is recorded after it is committed and before it is acknowledged, so every acknowledged change has an
/// entry. If recording fails, the caller's request fails too (the change stays, and the error says so).
public final class AuditTrail: Sendable {
    private let store: any AuditStore
    private let now: @Sendable () -> Date
    private let logger: Logger

    public init(store: any AuditStore, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.logger = logger
        self.now = now
    }

    @discardableResult
    public func record(
        _ action: String, target: String, by actor: String, before: JSONValue? = nil, after: JSONValue? = nil
    ) async throws -> AuditEntry {
        do {
            let entry = try await store.appendAudit(
                AuditDraft(at: now(), actor: actor, action: action, target: target, before: before, after: after))
            logger.info("audit", metadata: [
                "seq": "\(entry.seq)", "action": "\(action)", "target": "\(target)", "by": "\(actor)", "hash": "\(entry.hash)"])
            return entry
        } catch {
            throw FerryError(.internal, "the change to \(target) was applied but its audit entry could not be written", cause: error)
        }
    }

    /// Entries after `seq`, oldest first.
    public func entries(after seq: Int64 = 0, limit: Int = 1000) async throws -> [AuditEntry] {
        try await store.auditEntries(after: seq, limit: limit)
    }

    /// Every entry, oldest first, read in pages.
    public func all() async throws -> [AuditEntry] {
        var all: [AuditEntry] = []
        while true {
            let page = try await store.auditEntries(after: all.last?.seq ?? 0, limit: 10_000)
            all += page
            if page.count < 10_000 { return all }
        }
    }
}
