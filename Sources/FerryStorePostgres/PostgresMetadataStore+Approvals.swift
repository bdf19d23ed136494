import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: ApprovalStore {
    public func putProtection(_ protection: Protection, audit: AuditBuilder<Protection>?) async throws {
        let spec = try Records.encode(ProtectionRecord(protection))
        let key = protection.target.key
        try await database.transaction { c in
            let logger = self.database.logger
            try await PostgresDatabase.execute(
                c, "INSERT INTO protection (target, spec) VALUES (\(key), \(spec)) ON CONFLICT (target) DO UPDATE SET spec = EXCLUDED.spec", logger)
            try await Self.audit(c, audit, protection, logger)
        }
    }

    public func deleteProtection(target: ProtectedTarget, audit: AuditBuilder<Protection>?) async throws {
        let key = target.key
        try await database.transaction { c in
            let logger = self.database.logger
            guard let row = try await PostgresDatabase.rows(c, "DELETE FROM protection WHERE target = \(key) RETURNING spec", logger).first else {
                throw FerryError.notFound("\(target) is not protected")
            }
            let protection = try Records.decode(ProtectionRecord.self, try row["spec"].decode(String.self)).domain()
            try await Self.audit(c, audit, protection, logger)
        }
    }

    public func protections() async throws -> [Protection] {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM protection ORDER BY target", self.database.logger)
                .map { try Records.decode(ProtectionRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func protection(target: ProtectedTarget) async throws -> Protection? {
        let key = target.key
        return try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM protection WHERE target = \(key)", self.database.logger).first
                .map { try Records.decode(ProtectionRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func createApprovalRequest(_ request: ApprovalRequest, audit: AuditBuilder<ApprovalRequest>?) async throws {
        let spec = try Records.encode(ApprovalRequestRecord(request))
        let (key, requested) = (request.target.key, Self.millis(request.requestedAt))
        try await database.transaction { c in
            let logger = self.database.logger
            // One request at a time checks for a pending one, whichever replica takes it.
            try await PostgresDatabase.execute(c, "LOCK TABLE approval_request IN SHARE ROW EXCLUSIVE MODE", logger)
            let pending = try await PostgresDatabase.rows(
                c, "SELECT spec FROM approval_request WHERE target = \(key) AND state = 'pending'", logger)
            for row in pending {
                let other = try Records.decode(ApprovalRequestRecord.self, try row["spec"].decode(String.self)).domain()
                if other.state(at: request.requestedAt) == .pending { throw ApprovalRecords.alreadyPending(other) }
            }
            try await PostgresDatabase.execute(
                c, "INSERT INTO approval_request (id, target, state, requested_at, spec) VALUES (\(request.id), \(key), \(request.state.rawValue), \(requested), \(spec))",
                logger)
            try await Self.audit(c, audit, request, logger)
        }
    }

    public func approvalRequest(id: String) async throws -> ApprovalRequest? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM approval_request WHERE id = \(id)", self.database.logger).first
                .map { try Records.decode(ApprovalRequestRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func approvalRequests(states: [ApprovalRequest.State]?, target: ProtectedTarget?, limit: Int) async throws -> [ApprovalRequest] {
        let names = (states ?? ApprovalRequest.State.allCases).map(\.rawValue)
        let query: PostgresQuery = if let key = target?.key {
            "SELECT spec FROM approval_request WHERE state = ANY(\(names)) AND target = \(key) ORDER BY requested_at DESC, id DESC LIMIT \(limit)"
        } else {
            "SELECT spec FROM approval_request WHERE state = ANY(\(names)) ORDER BY requested_at DESC, id DESC LIMIT \(limit)"
        }
        return try await database.read { c in
            try await PostgresDatabase.rows(c, query, self.database.logger)
                .map { try Records.decode(ApprovalRequestRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    @discardableResult
    public func updateApprovalRequest(
        _ request: ApprovalRequest, expected: ApprovalRequest.State, audit: AuditBuilder<ApprovalRequest>?
    ) async throws -> Bool {
        let spec = try Records.encode(ApprovalRequestRecord(request))
        return try await database.transaction { c in
            let logger = self.database.logger
            guard let row = try await PostgresDatabase.rows(c, "SELECT state FROM approval_request WHERE id = \(request.id) FOR UPDATE", logger).first else {
                throw FerryError.notFound("no approval request '\(request.id)'")
            }
            if try row["state"].decode(String.self) != expected.rawValue { return false }
            try await PostgresDatabase.execute(
                c, "UPDATE approval_request SET state = \(request.state.rawValue), spec = \(spec) WHERE id = \(request.id)", logger)
            try await Self.audit(c, audit, request, logger)
            return true
        }
    }
}
