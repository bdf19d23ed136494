import FerryCore
import Foundation
import Logging

/// Reads the hash-chained audit trail, and records events that change no stored state (a server start).
///
/// Changes to stored state are not recorded here: each store write takes an `AuditBuilder` and appends the entry
/// in the change's own transaction, so a change and its entry are committed together or not at all.
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
        let entry = try await store.appendAudit(
            AuditDraft(at: now(), actor: actor, action: action, target: target, before: before, after: after))
        logger.info("audit", metadata: [
            "seq": "\(entry.seq)", "action": "\(action)", "target": "\(target)", "by": "\(actor)", "hash": "\(entry.hash)"])
        return entry
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
