import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: EndpointStore, AlertStore {
    // MARK: Endpoints and rollouts

    public func putEndpoint(_ endpoint: Endpoint, audit: AuditBuilder<Endpoint>?) async throws {
        var stored = endpoint
        stored.updatedAt = Self.date(Self.millis(endpoint.updatedAt))
        let spec = try Records.encode(EndpointRecord(stored))
        let value = stored
        try await database.transaction { c in
            try await PostgresDatabase.execute(
                c, "INSERT INTO endpoint (name, spec) VALUES (\(value.name), \(spec)) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec",
                self.database.logger)
            try await Self.audit(c, audit, value, self.database.logger)
        }
    }

    public func endpoints() async throws -> [Endpoint] {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT spec FROM endpoint ORDER BY name", self.database.logger)
                .map { try Records.decode(EndpointRecord.self, try $0["spec"].decode(String.self)).domain() }
        }
    }

    public func deleteEndpoint(name: String, audit: AuditBuilder<Endpoint>?) async throws {
        try await database.transaction { c in
            guard let row = try await PostgresDatabase.rows(c, "DELETE FROM endpoint WHERE name = \(name) RETURNING spec", self.database.logger).first else {
                throw FerryError.notFound("no endpoint named '\(name)'")
            }
            try await Self.audit(c, audit, try Records.decode(EndpointRecord.self, try row["spec"].decode(String.self)).domain(), self.database.logger)
        }
    }

    public func saveRollout(_ rollout: Rollout, endpoint: Endpoint, event: RolloutEvent, audit: AuditBuilder<RolloutEvent>?) async throws -> RolloutEvent {
        var pending = event
        pending.at = Self.date(Self.millis(event.at))
        let state = try Records.encode(RolloutRecord(rollout))
        let spec = try Records.encode(EndpointRecord(endpoint))
        let first = pending
        return try await database.transaction { c in
            let logger = self.database.logger
            // The endpoint's row lock serializes its steps, so event numbers per endpoint are gapless.
            guard try await !PostgresDatabase.rows(c, "UPDATE endpoint SET spec = \(spec) WHERE name = \(endpoint.name) RETURNING name", logger).isEmpty else {
                throw FerryError.notFound("no endpoint named '\(endpoint.name)'")
            }
            try await PostgresDatabase.execute(
                c, "INSERT INTO rollout (endpoint, state) VALUES (\(rollout.endpoint), \(state)) ON CONFLICT (endpoint) DO UPDATE SET state = EXCLUDED.state",
                logger)
            var stored = first
            var number: Int64 = 1
            for row in try await PostgresDatabase.rows(c, "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM rollout_event WHERE endpoint = \(event.endpoint)", logger) {
                number = try row["n"].decode(Int64.self)
            }
            stored.sequence = number
            let text = try Records.encode(RolloutEventRecord(stored))
            try await PostgresDatabase.execute(
                c, "INSERT INTO rollout_event (endpoint, number, at, event) VALUES (\(event.endpoint), \(number), \(Self.millis(stored.at)), \(text))",
                logger)
            try await Self.audit(c, audit, stored, logger)
            return stored
        }
    }

    public func rollouts() async throws -> [Rollout] {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT state FROM rollout ORDER BY endpoint", self.database.logger)
                .map { try Records.decode(RolloutRecord.self, try $0["state"].decode(String.self)).domain() }
        }
    }

    public func rolloutEvents(endpoint: String, limit: Int) async throws -> [RolloutEvent] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT event FROM rollout_event WHERE endpoint = \(endpoint) ORDER BY number DESC LIMIT \(max(0, limit))", self.database.logger
            ).map { try Records.decode(RolloutEventRecord.self, try $0["event"].decode(String.self)).domain() }.reversed()
        }
    }

    // MARK: Alerts

    public func putRule(_ rule: AlertRule, audit: AuditBuilder<AlertRule>?) async throws {
        let text = try Records.encode(AlertRuleRecord(rule))
        let initial = try Records.encode(AlertStatusRecord(AlertStatus()))
        try await database.transaction { c in
            let logger = self.database.logger
            guard try await !PostgresDatabase.rows(c, "SELECT 1 FROM model WHERE name = \(rule.model)", logger).isEmpty else {
                throw FerryError.notFound("model '\(rule.model)' is not registered")
            }
            try await PostgresDatabase.execute(
                c,
                """
                INSERT INTO alert_rule (model, name, rule, status) VALUES (\(rule.model), \(rule.name), \(text), \(initial))
                ON CONFLICT (model, name) DO UPDATE SET rule = EXCLUDED.rule
                """,
                logger)
            try await Self.audit(c, audit, rule, logger)
        }
    }

    public func rules(model: String?) async throws -> [AlertRule] {
        try await database.read { c in
            let rows = if let model {
                try await PostgresDatabase.rows(c, "SELECT rule FROM alert_rule WHERE model = \(model) ORDER BY name", self.database.logger)
            } else {
                try await PostgresDatabase.rows(c, "SELECT rule FROM alert_rule ORDER BY model, name", self.database.logger)
            }
            return try rows.map { try Records.decode(AlertRuleRecord.self, try $0["rule"].decode(String.self)).domain() }
        }
    }

    public func deleteRule(model: String, name: String, audit: AuditBuilder<AlertRule>?) async throws {
        try await database.transaction { c in
            guard let row = try await PostgresDatabase.rows(
                c, "DELETE FROM alert_rule WHERE model = \(model) AND name = \(name) RETURNING rule", self.database.logger).first
            else { throw FerryError.notFound("model '\(model)' has no alert '\(name)'") }
            try await Self.audit(c, audit, try Records.decode(AlertRuleRecord.self, try row["rule"].decode(String.self)).domain(), self.database.logger)
        }
    }

    public func status(model: String, name: String) async throws -> AlertStatus {
        try await database.read { c in
            guard let row = try await PostgresDatabase.rows(
                c, "SELECT status FROM alert_rule WHERE model = \(model) AND name = \(name)", self.database.logger).first
            else { throw FerryError.notFound("model '\(model)' has no alert '\(name)'") }
            return try Records.decode(AlertStatusRecord.self, try row["status"].decode(String.self)).domain()
        }
    }

    public func record(model: String, name: String, status: AlertStatus, event: AlertEvent?, notify: Bool) async throws -> AlertEvent? {
        let text = try Records.encode(AlertStatusRecord(status))
        return try await database.transaction { c in
            let logger = self.database.logger
            guard try await !PostgresDatabase.rows(
                c, "UPDATE alert_rule SET status = \(text) WHERE model = \(model) AND name = \(name) RETURNING name", logger).isEmpty
            else { throw FerryError.notFound("model '\(model)' has no alert '\(name)'") }
            guard var event else { return nil }
            let at = Self.millis(event.at)
            let inserted = try await PostgresDatabase.rows(
                c,
                """
                INSERT INTO alert_event (model, rule, from_state, to_state, value, threshold, at, notify)
                VALUES (\(model), \(name), \(event.from.rawValue), \(event.to.rawValue), \(event.value), \(event.threshold), \(at), \(notify))
                RETURNING seq
                """,
                logger)
            event.sequence = try inserted.first.map { try $0["seq"].decode(Int64.self) } ?? 0
            event.at = Self.date(at)
            return event
        }
    }

    public func events(model: String?, rule: String?, limit: Int) async throws -> [AlertEvent] {
        try await database.read { c in
            let logger = self.database.logger
            let n = max(0, limit)
            let rows = switch (model, rule) {
            case (let model?, let rule?):
                try await PostgresDatabase.rows(c, "SELECT * FROM alert_event WHERE model = \(model) AND rule = \(rule) ORDER BY seq DESC LIMIT \(n)", logger)
            case (let model?, nil):
                try await PostgresDatabase.rows(c, "SELECT * FROM alert_event WHERE model = \(model) ORDER BY seq DESC LIMIT \(n)", logger)
            case (nil, let rule?):
                try await PostgresDatabase.rows(c, "SELECT * FROM alert_event WHERE rule = \(rule) ORDER BY seq DESC LIMIT \(n)", logger)
            case (nil, nil):
                try await PostgresDatabase.rows(c, "SELECT * FROM alert_event ORDER BY seq DESC LIMIT \(n)", logger)
            }
            return try rows.map(Self.alertEvent).reversed()
        }
    }

    public func pendingNotifications(limit: Int) async throws -> [AlertEvent] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT * FROM alert_event WHERE notify AND notified_at IS NULL ORDER BY seq LIMIT \(max(0, limit))", self.database.logger
            ).map(Self.alertEvent)
        }
    }

    public func markNotified(sequence: Int64, at: Date) async throws {
        try await database.transaction { c in
            try await PostgresDatabase.execute(
                c, "UPDATE alert_event SET notified_at = COALESCE(notified_at, \(Self.millis(at))) WHERE seq = \(sequence)", self.database.logger)
        }
    }

    private static func alertEvent(_ row: PostgresRandomAccessRow) throws -> AlertEvent {
        AlertEvent(
            sequence: try row["seq"].decode(Int64.self), rule: try row["rule"].decode(String.self), model: try row["model"].decode(String.self),
            from: AlertStatus.State(rawValue: try row["from_state"].decode(String.self)) ?? .inactive,
            to: AlertStatus.State(rawValue: try row["to_state"].decode(String.self)) ?? .inactive,
            value: try row["value"].decode(Double?.self), threshold: try row["threshold"].decode(Double.self),
            at: Self.date(try row["at"].decode(Int64.self)))
    }
}

extension PostgresMetadataStore: ObservationStore {
    public func putTallies(_ tallies: [VariantTally]) async throws {
        guard !tallies.isEmpty else { return }
        let encoded = try tallies.map { ($0, try Self.json($0.latencies), try Self.json($0.outputs)) }
        try await database.transaction { c in
            for (t, latencies, outputs) in encoded {
                try await PostgresDatabase.execute(
                    c,
                    """
                    INSERT INTO rollout_tally (endpoint, model, version, epoch, replica, requests, errors, output_count, latencies, outputs)
                    VALUES (\(t.endpoint), \(t.version.model), \(t.version.version), \(Self.millis(t.epoch)), \(t.replica), \(t.requests),
                        \(t.errors), \(t.outputCount), \(latencies), \(outputs))
                    ON CONFLICT (endpoint, model, version, epoch, replica) DO UPDATE SET
                        requests = EXCLUDED.requests, errors = EXCLUDED.errors, output_count = EXCLUDED.output_count,
                        latencies = EXCLUDED.latencies, outputs = EXCLUDED.outputs
                    """,
                    self.database.logger)
            }
        }
    }

    public func tallies(endpoint: String, version: VersionRef, epoch: Date) async throws -> [VariantTally] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c,
                """
                SELECT * FROM rollout_tally WHERE endpoint = \(endpoint) AND model = \(version.model) AND version = \(version.version)
                    AND epoch = \(Self.millis(epoch)) ORDER BY replica
                """,
                self.database.logger
            ).map { row in
                VariantTally(
                    endpoint: try row["endpoint"].decode(String.self),
                    version: VersionRef(model: try row["model"].decode(String.self), version: try row["version"].decode(Int.self)),
                    epoch: Self.date(try row["epoch"].decode(Int64.self)), replica: try row["replica"].decode(String.self),
                    requests: try row["requests"].decode(Int.self), errors: try row["errors"].decode(Int.self),
                    outputCount: try row["output_count"].decode(Int.self),
                    latencies: try Self.decode(try row["latencies"].decode(String.self)),
                    outputs: try Self.decode(try row["outputs"].decode(String.self)))
            }
        }
    }

    public func purgeTallies(before date: Date) async throws -> Int {
        try await database.transaction { c in
            try await PostgresDatabase.rows(c, "DELETE FROM rollout_tally WHERE epoch < \(Self.millis(date)) RETURNING 1", self.database.logger).count
        }
    }

    public func putRequestCounts(_ samples: [RequestCountSample]) async throws {
        guard !samples.isEmpty else { return }
        try await database.transaction { c in
            for s in samples {
                try await PostgresDatabase.execute(
                    c,
                    """
                    INSERT INTO request_count (model, replica, at, requests, errors, predictions, cpu_seconds, gib_hours, latency_counts)
                    VALUES (\(s.model), \(s.replica), \(Self.millis(s.at)), \(s.requests), \(s.errors), \(s.predictions), \(s.cpuSeconds), \(s.gibHours),
                        \(RequestCountSample.latencyText(s.latencyCounts)))
                    ON CONFLICT (model, at, replica) DO UPDATE SET requests = EXCLUDED.requests, errors = EXCLUDED.errors,
                        predictions = EXCLUDED.predictions, cpu_seconds = EXCLUDED.cpu_seconds, gib_hours = EXCLUDED.gib_hours,
                        latency_counts = EXCLUDED.latency_counts
                    """,
                    self.database.logger)
            }
        }
    }

    public func requestCounts(model: String, since: Date) async throws -> [RequestCountSample] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT * FROM request_count WHERE model = \(model) AND at >= \(Self.millis(since)) ORDER BY replica, at", self.database.logger
            ).map { row in
                RequestCountSample(
                    replica: try row["replica"].decode(String.self), model: try row["model"].decode(String.self),
                    at: Self.date(try row["at"].decode(Int64.self)), requests: try row["requests"].decode(Int64.self),
                    errors: try row["errors"].decode(Int64.self), predictions: try row["predictions"].decode(Int64.self),
                    cpuSeconds: try row["cpu_seconds"].decode(Double.self), gibHours: try row["gib_hours"].decode(Double.self),
                    latencyCounts: RequestCountSample.latencyCounts(try row["latency_counts"].decode(String.self)))
            }
        }
    }

    public func purgeRequestCounts(before date: Date) async throws -> Int {
        try await database.transaction { c in
            try await PostgresDatabase.rows(c, "DELETE FROM request_count WHERE at < \(Self.millis(date)) RETURNING 1", self.database.logger).count
        }
    }

    public func putShadowTallies(_ tallies: [ShadowTally]) async throws {
        guard !tallies.isEmpty else { return }
        let rows = try tallies.map { ($0, try Self.json($0)) }
        try await database.transaction { c in
            for (t, text) in rows {
                try await PostgresDatabase.execute(
                    c,
                    """
                    INSERT INTO shadow_tally (endpoint, model, version, replica, tally)
                    VALUES (\(t.endpoint), \(t.shadow.model), \(t.shadow.version), \(t.replica), \(text))
                    ON CONFLICT (endpoint, model, version, replica) DO UPDATE SET tally = EXCLUDED.tally
                    """,
                    self.database.logger)
            }
        }
    }

    public func shadowTallies(endpoint: String) async throws -> [ShadowTally] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT tally FROM shadow_tally WHERE endpoint = \(endpoint) ORDER BY model, version, replica", self.database.logger
            ).map { try Self.decode(try $0["tally"].decode(String.self)) }
        }
    }
}
