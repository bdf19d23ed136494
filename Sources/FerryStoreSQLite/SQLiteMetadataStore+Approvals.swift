import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: ApprovalStore {
    public func putProtection(_ protection: Protection, audit: AuditBuilder<Protection>?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO protection (target, spec) VALUES (?, ?) ON CONFLICT(target) DO UPDATE SET spec = excluded.spec",
                arguments: [protection.target.key, try Records.encode(ProtectionRecord(protection))])
            try Self.audit(db, audit, protection)
        }
    }

    public func deleteProtection(target: ProtectedTarget, audit: AuditBuilder<Protection>?) async throws {
        try await writer.write { db in
            guard let spec = try String.fetchOne(db, sql: "SELECT spec FROM protection WHERE target = ?", arguments: [target.key]) else {
                throw FerryError.notFound("\(target) is not protected")
            }
            let protection = try Records.decode(ProtectionRecord.self, spec).domain()
            try db.execute(sql: "DELETE FROM protection WHERE target = ?", arguments: [target.key])
            try Self.audit(db, audit, protection)
        }
    }

    public func protections() async throws -> [Protection] {
        try await writer.read { db in
            try String.fetchAll(db, sql: "SELECT spec FROM protection ORDER BY target").map { try Records.decode(ProtectionRecord.self, $0).domain() }
        }
    }

    public func protection(target: ProtectedTarget) async throws -> Protection? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM protection WHERE target = ?", arguments: [target.key])
                .map { try Records.decode(ProtectionRecord.self, $0).domain() }
        }
    }

    public func createApprovalRequest(_ request: ApprovalRequest, audit: AuditBuilder<ApprovalRequest>?) async throws {
        try await writer.write { db in
            let pending = try String.fetchAll(
                db, sql: "SELECT spec FROM approval_request WHERE target = ? AND state = 'pending'", arguments: [request.target.key])
            for spec in pending {
                let other = try Records.decode(ApprovalRequestRecord.self, spec).domain()
                if other.state(at: request.requestedAt) == .pending { throw ApprovalRecords.alreadyPending(other) }
            }
            try db.execute(
                sql: "INSERT INTO approval_request (id, target, state, requested_at, spec) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    request.id, request.target.key, request.state.rawValue, Self.millis(request.requestedAt),
                    try Records.encode(ApprovalRequestRecord(request)),
                ])
            try Self.audit(db, audit, request)
        }
    }

    public func approvalRequest(id: String) async throws -> ApprovalRequest? {
        try await writer.read { db in
            try String.fetchOne(db, sql: "SELECT spec FROM approval_request WHERE id = ?", arguments: [id])
                .map { try Records.decode(ApprovalRequestRecord.self, $0).domain() }
        }
    }

    public func approvalRequests(states: [ApprovalRequest.State]?, target: ProtectedTarget?, limit: Int) async throws -> [ApprovalRequest] {
        try await writer.read { db in
            let names = (states ?? ApprovalRequest.State.allCases).map(\.rawValue)
            let marks = names.map { _ in "?" }.joined(separator: ", ")
            var arguments = StatementArguments(names)
            var sql = "SELECT spec FROM approval_request WHERE state IN (\(marks))"
            if let target {
                sql += " AND target = ?"
                arguments += [target.key]
            }
            arguments += [limit]
            return try String.fetchAll(db, sql: sql + " ORDER BY requested_at DESC, id DESC LIMIT ?", arguments: arguments)
                .map { try Records.decode(ApprovalRequestRecord.self, $0).domain() }
        }
    }

    @discardableResult
    public func updateApprovalRequest(
        _ request: ApprovalRequest, expected: ApprovalRequest.State, audit: AuditBuilder<ApprovalRequest>?
    ) async throws -> Bool {
        try await writer.write { db in
            guard let stored = try String.fetchOne(db, sql: "SELECT state FROM approval_request WHERE id = ?", arguments: [request.id]) else {
                throw FerryError.notFound("no approval request '\(request.id)'")
            }
            if stored != expected.rawValue { return false }
            try db.execute(
                sql: "UPDATE approval_request SET state = ?, spec = ? WHERE id = ?",
                arguments: [request.state.rawValue, try Records.encode(ApprovalRequestRecord(request)), request.id])
            try Self.audit(db, audit, request)
            return true
        }
    }
}
