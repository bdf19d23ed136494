import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: EndpointStore {
    public func putEndpoint(_ endpoint: Endpoint, audit: AuditBuilder<Endpoint>?) async throws {
        var rounded = endpoint
        rounded.updatedAt = Self.date(Self.millis(endpoint.updatedAt))
        let stored = rounded
        let text = try Records.encode(EndpointRecord(stored))
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO endpoint (name, spec) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec",
                arguments: [endpoint.name, text])
            try Self.audit(db, audit, stored)
        }
    }

    public func endpoints() async throws -> [Endpoint] {
        try await writer.read { db in
            try String.fetchAll(db, sql: "SELECT spec FROM endpoint ORDER BY name").map { try Records.decode(EndpointRecord.self, $0).domain() }
        }
    }

    public func deleteEndpoint(name: String, audit: AuditBuilder<Endpoint>?) async throws {
        try await writer.write { db in
            guard let text = try String.fetchOne(db, sql: "SELECT spec FROM endpoint WHERE name = ?", arguments: [name]) else {
                throw FerryError.notFound("no endpoint named '\(name)'")
            }
            try db.execute(sql: "DELETE FROM endpoint WHERE name = ?", arguments: [name])
            try Self.audit(db, audit, try Records.decode(EndpointRecord.self, text).domain())
        }
    }

    public func saveRollout(_ rollout: Rollout, endpoint: Endpoint, event: RolloutEvent, audit: AuditBuilder<RolloutEvent>?) async throws -> RolloutEvent {
        var rounded = event
        rounded.at = Self.date(Self.millis(event.at))
        let pending = rounded
        let state = try Records.encode(RolloutRecord(rollout))
        let spec = try Records.encode(EndpointRecord(endpoint))
        return try await writer.write { db in
            var stored = pending
            try db.execute(sql: "UPDATE endpoint SET spec = ? WHERE name = ?", arguments: [spec, endpoint.name])
            guard db.changesCount == 1 else { throw FerryError.notFound("no endpoint named '\(endpoint.name)'") }
            try db.execute(
                sql: "INSERT INTO rollout (endpoint, state) VALUES (?, ?) ON CONFLICT (endpoint) DO UPDATE SET state = excluded.state",
                arguments: [rollout.endpoint, state])
            try db.execute(
                sql: "INSERT INTO rollout_event (endpoint, at, event) VALUES (?, ?, '')", arguments: [event.endpoint, Self.millis(event.at)])
            let row = db.lastInsertedRowID
            // Events are numbered per endpoint (1, 2, ...), not across all endpoints.
            stored.sequence = try Int64.fetchOne(
                db, sql: "SELECT COUNT(*) FROM rollout_event WHERE endpoint = ?", arguments: [event.endpoint]) ?? 1
            try db.execute(sql: "UPDATE rollout_event SET event = ? WHERE seq = ?", arguments: [try Records.encode(RolloutEventRecord(stored)), row])
            try Self.audit(db, audit, stored)
            return stored
        }
    }

    public func rollouts() async throws -> [Rollout] {
        try await writer.read { db in
            try String.fetchAll(db, sql: "SELECT state FROM rollout ORDER BY endpoint").map { try Records.decode(RolloutRecord.self, $0).domain() }
        }
    }

    public func rolloutEvents(endpoint: String, limit: Int) async throws -> [RolloutEvent] {
        try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT event FROM rollout_event WHERE endpoint = ? ORDER BY seq DESC LIMIT ?", arguments: [endpoint, max(0, limit)]
            ).map { try Records.decode(RolloutEventRecord.self, $0).domain() }.reversed()
        }
    }
}

extension SQLiteMetadataStore: ObservationStore {
    public func putTallies(_ tallies: [VariantTally]) async throws {
        let rows = try tallies.map { t in
            [t.endpoint, t.version.model, t.version.version, Self.millis(t.epoch), t.replica, t.requests, t.errors, t.outputCount,
             try Self.json(t.latencies), try Self.json(t.outputs)] as StatementArguments
        }
        try await writer.write { db in
            for arguments in rows {
                try db.execute(
                    sql: """
                        INSERT INTO rollout_tally (endpoint, model, version, epoch, replica, requests, errors, output_count, latencies, outputs)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (endpoint, model, version, epoch, replica) DO UPDATE SET
                            requests = excluded.requests, errors = excluded.errors, output_count = excluded.output_count,
                            latencies = excluded.latencies, outputs = excluded.outputs
                        """,
                    arguments: arguments)
            }
        }
    }

    public func tallies(endpoint: String, version: VersionRef, epoch: Date) async throws -> [VariantTally] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM rollout_tally WHERE endpoint = ? AND model = ? AND version = ? AND epoch = ? ORDER BY replica",
                arguments: [endpoint, version.model, version.version, Self.millis(epoch)]
            ).map { row in
                VariantTally(
                    endpoint: row["endpoint"], version: VersionRef(model: row["model"], version: row["version"]), epoch: Self.date(row["epoch"]),
                    replica: row["replica"], requests: row["requests"], errors: row["errors"], outputCount: row["output_count"],
                    latencies: try Self.decode(row["latencies"]), outputs: try Self.decode(row["outputs"]))
            }
        }
    }

    public func purgeTallies(before date: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM rollout_tally WHERE epoch < ?", arguments: [Self.millis(date)])
            return db.changesCount
        }
    }

    public func putRequestCounts(_ samples: [RequestCountSample]) async throws {
        try await writer.write { db in
            for s in samples {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO request_count (model, replica, at, requests, errors, predictions, cpu_seconds, gib_hours, latency_counts)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        s.model, s.replica, Self.millis(s.at), s.requests, s.errors, s.predictions, s.cpuSeconds, s.gibHours,
                        RequestCountSample.latencyText(s.latencyCounts),
                    ])
            }
        }
    }

    public func requestCounts(model: String, since: Date) async throws -> [RequestCountSample] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM request_count WHERE model = ? AND at >= ? ORDER BY replica, at", arguments: [model, Self.millis(since)]
            ).map { row in
                RequestCountSample(
                    replica: row["replica"], model: row["model"], at: Self.date(row["at"]), requests: row["requests"], errors: row["errors"],
                    predictions: row["predictions"], cpuSeconds: row["cpu_seconds"], gibHours: row["gib_hours"],
                    latencyCounts: RequestCountSample.latencyCounts(row["latency_counts"]))
            }
        }
    }

    public func purgeRequestCounts(before date: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM request_count WHERE at < ?", arguments: [Self.millis(date)])
            return db.changesCount
        }
    }

    public func putShadowTallies(_ tallies: [ShadowTally]) async throws {
        let rows = try tallies.map { ($0, try Self.json($0)) }
        try await writer.write { db in
            for (t, text) in rows {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO shadow_tally (endpoint, model, version, replica, tally) VALUES (?, ?, ?, ?, ?)",
                    arguments: [t.endpoint, t.shadow.model, t.shadow.version, t.replica, text])
            }
        }
    }

    public func shadowTallies(endpoint: String) async throws -> [ShadowTally] {
        try await writer.read { db in
            try String.fetchAll(
                db, sql: "SELECT tally FROM shadow_tally WHERE endpoint = ? ORDER BY model, version, replica", arguments: [endpoint]
            ).map { try Self.decode($0) }
        }
    }
}
