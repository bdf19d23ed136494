import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: AlertStore {
    public func putRule(_ rule: AlertRule, audit: AuditBuilder<AlertRule>?) async throws {
        let text = try Records.encode(AlertRuleRecord(rule))
        let initial = try Records.encode(AlertStatusRecord(AlertStatus()))
        try await writer.write { db in
            guard try Self.modelExists(db, rule.model) else { throw FerryError.notFound("model '\(rule.model)' is not registered") }
            try db.execute(
                sql: """
                    INSERT INTO alert_rule (model, name, rule, status) VALUES (?, ?, ?, ?)
                    ON CONFLICT (model, name) DO UPDATE SET rule = excluded.rule
                    """,
                arguments: [rule.model, rule.name, text, initial])
            try Self.audit(db, audit, rule)
        }
    }

    public func rules(model: String?) async throws -> [AlertRule] {
        try await writer.read { db in
            let rows = try model.map { try Row.fetchAll(db, sql: "SELECT rule FROM alert_rule WHERE model = ? ORDER BY name", arguments: [$0]) }
                ?? Row.fetchAll(db, sql: "SELECT rule FROM alert_rule ORDER BY model, name")
            return try rows.map { try Records.decode(AlertRuleRecord.self, $0["rule"]).domain() }
        }
    }

    public func deleteRule(model: String, name: String, audit: AuditBuilder<AlertRule>?) async throws {
        try await writer.write { db in
            guard let text = try String.fetchOne(
                db, sql: "SELECT rule FROM alert_rule WHERE model = ? AND name = ?", arguments: [model, name]) else {
                throw FerryError.notFound("model '\(model)' has no alert '\(name)'")
            }
            try db.execute(sql: "DELETE FROM alert_rule WHERE model = ? AND name = ?", arguments: [model, name])
            try Self.audit(db, audit, try Records.decode(AlertRuleRecord.self, text).domain())
        }
    }

    public func status(model: String, name: String) async throws -> AlertStatus {
        try await writer.read { db in
            guard let text = try String.fetchOne(db, sql: "SELECT status FROM alert_rule WHERE model = ? AND name = ?", arguments: [model, name]) else {
                throw FerryError.notFound("model '\(model)' has no alert '\(name)'")
            }
            return try Records.decode(AlertStatusRecord.self, text).domain()
        }
    }

    public func record(model: String, name: String, status: AlertStatus, event: AlertEvent?, notify: Bool) async throws -> AlertEvent? {
        let text = try Records.encode(AlertStatusRecord(status))
        return try await writer.write { db in
            try db.execute(sql: "UPDATE alert_rule SET status = ? WHERE model = ? AND name = ?", arguments: [text, model, name])
            if db.changesCount == 0 { throw FerryError.notFound("model '\(model)' has no alert '\(name)'") }
            guard var event else { return nil }
            try db.execute(
                sql: "INSERT INTO alert_event (model, rule, from_state, to_state, value, threshold, at, notify) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [model, name, event.from.rawValue, event.to.rawValue, event.value, event.threshold, Self.millis(event.at), notify])
            event.sequence = db.lastInsertedRowID
            event.at = Self.date(Self.millis(event.at))
            return event
        }
    }

    public func events(model: String?, rule: String?, limit: Int) async throws -> [AlertEvent] {
        try await writer.read { db in
            var sql = "SELECT * FROM alert_event WHERE 1 = 1"
            var arguments: StatementArguments = []
            if let model { sql += " AND model = ?"; arguments += [model] }
            if let rule { sql += " AND rule = ?"; arguments += [rule] }
            sql += " ORDER BY seq DESC LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.alertEvent).reversed()
        }
    }

    public func pendingNotifications(limit: Int) async throws -> [AlertEvent] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM alert_event WHERE notify = 1 AND notified_at IS NULL ORDER BY seq LIMIT ?", arguments: [max(0, limit)]
            ).map(Self.alertEvent)
        }
    }

    public func markNotified(sequence: Int64, at: Date) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE alert_event SET notified_at = COALESCE(notified_at, ?) WHERE seq = ?", arguments: [Self.millis(at), sequence])
        }
    }

    private static func alertEvent(_ row: Row) -> AlertEvent {
        AlertEvent(
            sequence: row["seq"], rule: row["rule"], model: row["model"],
            from: AlertStatus.State(rawValue: row["from_state"]) ?? .inactive, to: AlertStatus.State(rawValue: row["to_state"]) ?? .inactive,
            value: row["value"], threshold: row["threshold"], at: Self.date(row["at"]))
    }
}
