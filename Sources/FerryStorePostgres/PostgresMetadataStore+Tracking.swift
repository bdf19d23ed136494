import FerryCore
import FerryStoreRecords
import Foundation
import PostgresNIO

extension PostgresMetadataStore: TrackingStore {
    // MARK: Experiments

    public func createExperiment(_ experiment: Experiment) async throws -> Experiment {
        try await database.transaction { c in
            let logger = self.database.logger
            if try await !PostgresDatabase.rows(c, "SELECT 1 FROM tracking_experiment WHERE name = \(experiment.name)", logger).isEmpty {
                throw FerryError(.alreadyExists, "an experiment named '\(experiment.name)' already exists (perhaps deleted: restore it, or choose another name)")
            }
            let id = try await PostgresDatabase.rows(c, "SELECT nextval('tracking_experiment_id') AS id", logger)[0]["id"].decode(Int64.self)
            var stored = experiment
            stored.id = String(id)
            stored.artifactLocation = experiment.artifactLocation.replacingOccurrences(of: "{id}", with: stored.id)
            let tags = try Self.json(stored.tags)
            try await PostgresDatabase.execute(
                c, """
                    INSERT INTO tracking_experiment (id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, tags)
                    VALUES (\(id), \(stored.name), \(stored.artifactLocation), \(stored.lifecycleStage.rawValue), \(stored.creationTime), \(stored.lastUpdateTime), \(tags))
                    """, logger)
            return stored
        }
    }

    public func experiment(id: String) async throws -> Experiment? {
        guard let number = Int64(id) else { return nil }
        return try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT * FROM tracking_experiment WHERE id = \(number)", self.database.logger).first.map(Self.experiment)
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT * FROM tracking_experiment WHERE name = \(name)", self.database.logger).first.map(Self.experiment)
        }
    }

    public func experiments(_ view: ViewType) async throws -> [Experiment] {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT * FROM tracking_experiment ORDER BY id", self.database.logger).map(Self.experiment)
                .filter { view.stages.contains($0.lifecycleStage) }
        }
    }

    public func updateExperiment(id: String, name: String?, stage: LifecycleStage?, tags: [String: String], at: Int64) async throws -> Experiment {
        try await database.transaction { c in
            let logger = self.database.logger
            guard let number = Int64(id),
                  var experiment = try await PostgresDatabase.rows(c, "SELECT * FROM tracking_experiment WHERE id = \(number) FOR UPDATE", logger).first.map(Self.experiment) else {
                throw FerryError.notFound("no experiment with id '\(id)'")
            }
            if let name, name != experiment.name {
                if try await !PostgresDatabase.rows(c, "SELECT 1 FROM tracking_experiment WHERE name = \(name)", logger).isEmpty {
                    throw FerryError(.alreadyExists, "an experiment named '\(name)' already exists")
                }
                experiment.name = name
            }
            if let stage, stage != experiment.lifecycleStage {
                experiment.lifecycleStage = stage
                // As MLflow: an experiment's runs are deleted with it and restored with it.
                try await PostgresDatabase.execute(
                    c, "UPDATE tracking_run SET lifecycle_stage = \(stage.rawValue) WHERE experiment_id = \(number)", logger)
            }
            experiment.tags.merge(tags) { $1 }
            experiment.lastUpdateTime = at
            let json = try Self.json(experiment.tags)
            try await PostgresDatabase.execute(
                c, """
                    UPDATE tracking_experiment SET name = \(experiment.name), lifecycle_stage = \(experiment.lifecycleStage.rawValue), tags = \(json),
                        last_update_time = \(at) WHERE id = \(number)
                    """, logger)
            return experiment
        }
    }

    // MARK: Runs

    public func createRun(_ info: RunInfo, tags: [String: String]) async throws -> Run {
        try await database.transaction { c in
            let logger = self.database.logger
            guard let experiment = Int64(info.experimentID),
                  try await !PostgresDatabase.rows(c, "SELECT 1 FROM tracking_experiment WHERE id = \(experiment)", logger).isEmpty else {
                throw FerryError.notFound("no experiment with id '\(info.experimentID)'")
            }
            try await PostgresDatabase.execute(
                c, """
                    INSERT INTO tracking_run (run_id, experiment_id, run_name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage)
                    VALUES (\(info.runID), \(experiment), \(info.runName), \(info.userID), \(info.status.rawValue), \(info.startTime), \(info.endTime),
                        \(info.artifactURI), \(info.lifecycleStage.rawValue))
                    """, logger)
            for (key, value) in tags {
                try await PostgresDatabase.execute(c, "INSERT INTO tracking_tag (run_id, key, value) VALUES (\(info.runID), \(key), \(value))", logger)
            }
            return Run(info: info, tags: tags)
        }
    }

    public func run(id: String) async throws -> Run? {
        try await database.read { c in try await Self.runs(c, ids: [id], self.database.logger).first }
    }

    public func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo {
        try await database.transaction { c in
            let logger = self.database.logger
            guard var info = try await PostgresDatabase.rows(c, "SELECT * FROM tracking_run WHERE run_id = \(id) FOR UPDATE", logger).first.map(Self.runInfo) else {
                throw FerryError.notFound("no run with id '\(id)'")
            }
            if let status = update.status { info.status = status }
            if let end = update.endTime { info.endTime = end }
            if let name = update.runName { info.runName = name }
            if let stage = update.lifecycleStage { info.lifecycleStage = stage }
            try await PostgresDatabase.execute(
                c, """
                    UPDATE tracking_run SET status = \(info.status.rawValue), end_time = \(info.endTime), run_name = \(info.runName),
                        lifecycle_stage = \(info.lifecycleStage.rawValue) WHERE run_id = \(id)
                    """, logger)
            if let name = update.runName {
                try await PostgresDatabase.execute(
                    c, "INSERT INTO tracking_tag (run_id, key, value) VALUES (\(id), 'mlflow.runName', \(name)) ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
                    logger)
            }
            return info
        }
    }

    public func log(runID: String, metrics: [Metric], params: [String: String], tags: [String: String]) async throws {
        try await database.transaction { c in
            let logger = self.database.logger
            // Lock the run: concurrent batches of one run decide the latest metric values one after the other.
            guard try await !PostgresDatabase.rows(c, "SELECT 1 FROM tracking_run WHERE run_id = \(runID) FOR UPDATE", logger).isEmpty else {
                throw FerryError.notFound("no run with id '\(runID)'")
            }
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                let stored = try await PostgresDatabase.rows(c, "SELECT value FROM tracking_param WHERE run_id = \(runID) AND key = \(key)", logger).first
                if let stored {
                    let text = try stored["value"].decode(String.self)
                    guard text == value else { throw TrackingColumns.paramConflict(key: key, stored: text, given: value, run: runID) }
                } else {
                    try await PostgresDatabase.execute(c, "INSERT INTO tracking_param (run_id, key, value) VALUES (\(runID), \(key), \(value))", logger)
                }
            }
            for (key, value) in tags {
                try await PostgresDatabase.execute(
                    c, "INSERT INTO tracking_tag (run_id, key, value) VALUES (\(runID), \(key), \(value)) ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value",
                    logger)
            }
            guard !metrics.isEmpty else { return }
            let columns = metrics.map { TrackingColumns.metricValue($0.value) }
            let keys = metrics.map(\.key), steps = metrics.map(\.step), times = metrics.map(\.timestamp)
            let values = columns.map(\.value), nans = columns.map { Int32($0.isNaN) }
            try await PostgresDatabase.execute(
                c, """
                    INSERT INTO tracking_metric (run_id, key, step, timestamp, value, is_nan)
                    SELECT \(runID), k, s, t, v, n FROM UNNEST(\(keys)::text[], \(steps)::bigint[], \(times)::bigint[], \(values)::float8[], \(nans)::int[]) AS u(k, s, t, v, n)
                    ON CONFLICT DO NOTHING
                    """, logger)
            // The latest value per key, decided in Swift by the same rule as SQLite's store.
            var latest: [String: Metric] = [:]
            for row in try await PostgresDatabase.rows(c, "SELECT key, step, timestamp, value, is_nan FROM tracking_latest_metric WHERE run_id = \(runID) AND key = ANY(\(keys)::text[])", logger) {
                let key = try row["key"].decode(String.self)
                latest[key] = Metric(
                    key: key, value: TrackingColumns.metric(try row["value"].decode(Double.self), isNaN: Int(try row["is_nan"].decode(Int32.self))),
                    timestamp: try row["timestamp"].decode(Int64.self), step: try row["step"].decode(Int64.self))
            }
            var changed: [String] = []
            for metric in metrics where latest[metric.key].map({ metric.supersedes($0) }) ?? true {
                if !changed.contains(metric.key) { changed.append(metric.key) }
                latest[metric.key] = metric
            }
            guard !changed.isEmpty else { return }
            let winners = changed.map { latest[$0]! }
            let stored = winners.map { TrackingColumns.metricValue($0.value) }
            try await PostgresDatabase.execute(
                c, """
                    INSERT INTO tracking_latest_metric (run_id, key, step, timestamp, value, is_nan)
                    SELECT \(runID), k, s, t, v, n
                    FROM UNNEST(\(winners.map(\.key))::text[], \(winners.map(\.step))::bigint[], \(winners.map(\.timestamp))::bigint[],
                        \(stored.map(\.value))::float8[], \(stored.map { Int32($0.isNaN) })::int[]) AS u(k, s, t, v, n)
                    ON CONFLICT (run_id, key) DO UPDATE SET step = EXCLUDED.step, timestamp = EXCLUDED.timestamp, value = EXCLUDED.value, is_nan = EXCLUDED.is_nan
                    """, logger)
        }
    }

    public func deleteTag(runID: String, key: String) async throws {
        try await database.transaction { c in
            let deleted = try await PostgresDatabase.rows(c, "DELETE FROM tracking_tag WHERE run_id = \(runID) AND key = \(key) RETURNING key", self.database.logger)
            if deleted.isEmpty { throw FerryError.notFound("run '\(runID)' has no tag '\(key)'") }
        }
    }

    public func metricHistory(runID: String, key: String) async throws -> [Metric] {
        try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT step, timestamp, value, is_nan FROM tracking_metric WHERE run_id = \(runID) AND key = \(key) ORDER BY step, timestamp, value",
                self.database.logger
            ).map {
                Metric(
                    key: key, value: TrackingColumns.metric(try $0["value"].decode(Double.self), isNaN: Int(try $0["is_nan"].decode(Int32.self))),
                    timestamp: try $0["timestamp"].decode(Int64.self), step: try $0["step"].decode(Int64.self))
            }
        }
    }

    public func searchRuns(_ search: RunSearch) async throws -> (runs: [Run], more: Bool) {
        let start = TrackingSQL.Pager(search, experimentIDs: search.experimentIDs.compactMap { Int64($0) }, dialect: .postgres)
        @Sendable func sql(_ query: TrackingSQL.Query) -> PostgresQuery {
            var binds = PostgresBindings()
            for value in query.values {
                switch value {
                case .text(let s): binds.append(s)
                case .integer(let i): binds.append(i)
                case .real(let d): binds.append(d)
                }
            }
            return PostgresQuery(unsafeSQL: query.text, binds: binds)
        }
        return try await database.read { c in
            let logger = self.database.logger
            var pager = start
            while let request = pager.next() {
                switch request {
                case .rows(let q): pager.received(rows: try await PostgresDatabase.rows(c, sql(q), logger).map { try $0["run_id"].decode(String.self) })
                case .count(let q): pager.received(count: Int(try await PostgresDatabase.rows(c, sql(q), logger).first?["count"].decode(Int64.self) ?? 0))
                }
            }
            let page = Array(pager.ids.prefix(search.maxResults))
            return (try await Self.runs(c, ids: page, logger), pager.ids.count > search.maxResults)
        }
    }

    public func logOutputs(runID: String, _ outputs: [RunOutput]) async throws {
        try await database.transaction { c in
            let logger = self.database.logger
            guard try await !PostgresDatabase.rows(c, "SELECT 1 FROM tracking_run WHERE run_id = \(runID)", logger).isEmpty else {
                throw FerryError.notFound("no run with id '\(runID)'")
            }
            for output in outputs {
                try await PostgresDatabase.execute(
                    c, """
                        INSERT INTO tracking_run_output (run_id, model_id, step) VALUES (\(runID), \(output.modelID), \(output.step))
                        ON CONFLICT (run_id, model_id) DO UPDATE SET step = EXCLUDED.step
                        """, logger)
            }
        }
    }

    /// Runs with their params, tags, latest metrics and outputs, in the order of `ids` (unknown ids are skipped).
    private static func runs(_ c: PostgresConnection, ids: [String], _ logger: Logger) async throws -> [Run] {
        guard !ids.isEmpty else { return [] }
        var byID: [String: Run] = [:]
        for row in try await PostgresDatabase.rows(c, "SELECT * FROM tracking_run WHERE run_id = ANY(\(ids)::text[])", logger) {
            let info = try runInfo(row)
            byID[info.runID] = Run(info: info)
        }
        for row in try await PostgresDatabase.rows(c, "SELECT run_id, key, value FROM tracking_param WHERE run_id = ANY(\(ids)::text[])", logger) {
            byID[try row["run_id"].decode(String.self)]?.params[try row["key"].decode(String.self)] = try row["value"].decode(String.self)
        }
        for row in try await PostgresDatabase.rows(c, "SELECT run_id, key, value FROM tracking_tag WHERE run_id = ANY(\(ids)::text[])", logger) {
            byID[try row["run_id"].decode(String.self)]?.tags[try row["key"].decode(String.self)] = try row["value"].decode(String.self)
        }
        for row in try await PostgresDatabase.rows(
            c, "SELECT run_id, key, step, timestamp, value, is_nan FROM tracking_latest_metric WHERE run_id = ANY(\(ids)::text[]) ORDER BY run_id, key COLLATE \"C\"",
            logger) {
            byID[try row["run_id"].decode(String.self)]?.metrics.append(Metric(
                key: try row["key"].decode(String.self),
                value: TrackingColumns.metric(try row["value"].decode(Double.self), isNaN: Int(try row["is_nan"].decode(Int32.self))),
                timestamp: try row["timestamp"].decode(Int64.self), step: try row["step"].decode(Int64.self)))
        }
        for row in try await PostgresDatabase.rows(
            c, "SELECT run_id, model_id, step FROM tracking_run_output WHERE run_id = ANY(\(ids)::text[]) ORDER BY run_id, model_id COLLATE \"C\"", logger) {
            byID[try row["run_id"].decode(String.self)]?.outputs.append(
                RunOutput(modelID: try row["model_id"].decode(String.self), step: try row["step"].decode(Int64.self)))
        }
        return ids.compactMap { byID[$0] }
    }

    // MARK: Logged models

    public func createLoggedModel(_ model: LoggedModel) async throws {
        let tags = try Self.json(model.tags), params = try Self.json(model.params)
        try await database.transaction { c in
            let logger = self.database.logger
            guard let experiment = Int64(model.experimentID),
                  try await !PostgresDatabase.rows(c, "SELECT 1 FROM tracking_experiment WHERE id = \(experiment)", logger).isEmpty else {
                throw FerryError.notFound("no experiment with id '\(model.experimentID)'")
            }
            try await PostgresDatabase.execute(
                c, """
                    INSERT INTO tracking_logged_model (model_id, experiment_id, name, artifact_location, creation_time, last_updated_time,
                        model_type, source_run_id, status, status_message, lifecycle_stage, tags, params)
                    VALUES (\(model.modelID), \(experiment), \(model.name), \(model.artifactLocation), \(model.creationTime), \(model.lastUpdatedTime),
                        \(model.modelType), \(model.sourceRunID), \(model.status.rawValue), \(model.statusMessage), \(model.lifecycleStage.rawValue),
                        \(tags), \(params))
                    """, logger)
        }
    }

    public func loggedModel(id: String) async throws -> LoggedModel? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT * FROM tracking_logged_model WHERE model_id = \(id)", self.database.logger).first.map(Self.loggedModel)
        }
    }

    public func loggedModels(experimentIDs: [String], name: String?) async throws -> [LoggedModel] {
        let ids = experimentIDs.compactMap { Int64($0) }
        return try await database.read { c in
            try await PostgresDatabase.rows(
                c, """
                    SELECT * FROM tracking_logged_model WHERE experiment_id = ANY(\(ids)::bigint[]) AND lifecycle_stage = 'active'
                        AND (\(name)::text IS NULL OR name = \(name)) ORDER BY creation_time DESC, model_id COLLATE "C"
                    """, self.database.logger
            ).map(Self.loggedModel)
        }
    }

    public func updateLoggedModel(_ model: LoggedModel) async throws {
        let tags = try Self.json(model.tags), params = try Self.json(model.params)
        try await database.transaction { c in
            let updated = try await PostgresDatabase.rows(
                c, """
                    UPDATE tracking_logged_model SET status = \(model.status.rawValue), status_message = \(model.statusMessage),
                        lifecycle_stage = \(model.lifecycleStage.rawValue), tags = \(tags), params = \(params), last_updated_time = \(model.lastUpdatedTime)
                    WHERE model_id = \(model.modelID) RETURNING model_id
                    """, self.database.logger)
            if updated.isEmpty { throw FerryError.notFound("no logged model with id '\(model.modelID)'") }
        }
    }

    // MARK: Files

    public func putTrackedFile(_ file: TrackedFile) async throws {
        try await database.transaction { c in
            try await PostgresDatabase.execute(
                c, """
                    INSERT INTO tracking_file (path, sha256, size) VALUES (\(file.path), \(file.artifact.sha256), \(Int64(file.artifact.size)))
                    ON CONFLICT (path) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size
                    """, self.database.logger)
        }
    }

    public func trackedFile(path: String) async throws -> TrackedFile? {
        try await database.read { c in
            try await PostgresDatabase.rows(c, "SELECT path, sha256, size FROM tracking_file WHERE path = \(path)", self.database.logger).first.map(Self.trackedFile)
        }
    }

    public func trackedFiles(under prefix: String) async throws -> [TrackedFile] {
        let end = TrackingColumns.prefixEnd(prefix)
        return try await database.read { c in
            try await PostgresDatabase.rows(
                c, "SELECT path, sha256, size FROM tracking_file WHERE path >= \(prefix) AND path < \(end) ORDER BY path", self.database.logger
            ).map(Self.trackedFile)
        }
    }

    // MARK: Rows

    private static func trackedFile(_ row: PostgresRandomAccessRow) throws -> TrackedFile {
        TrackedFile(
            path: try row["path"].decode(String.self),
            artifact: ArtifactRef(sha256: try row["sha256"].decode(String.self), size: Int(try row["size"].decode(Int64.self))))
    }

    private static func experiment(_ row: PostgresRandomAccessRow) throws -> Experiment {
        Experiment(
            id: String(try row["id"].decode(Int64.self)), name: try row["name"].decode(String.self),
            artifactLocation: try row["artifact_location"].decode(String.self),
            lifecycleStage: try Records.parse(try row["lifecycle_stage"].decode(String.self), as: LifecycleStage.self, field: "lifecycle_stage", in: "tracking_experiment"),
            creationTime: try row["creation_time"].decode(Int64.self), lastUpdateTime: try row["last_update_time"].decode(Int64.self),
            tags: try decode(try row["tags"].decode(String.self)))
    }

    private static func runInfo(_ row: PostgresRandomAccessRow) throws -> RunInfo {
        RunInfo(
            runID: try row["run_id"].decode(String.self), experimentID: String(try row["experiment_id"].decode(Int64.self)),
            runName: try row["run_name"].decode(String.self), userID: try row["user_id"].decode(String.self),
            status: try Records.parse(try row["status"].decode(String.self), as: RunStatus.self, field: "status", in: "tracking_run"),
            startTime: try row["start_time"].decode(Int64?.self), endTime: try row["end_time"].decode(Int64?.self),
            artifactURI: try row["artifact_uri"].decode(String.self),
            lifecycleStage: try Records.parse(try row["lifecycle_stage"].decode(String.self), as: LifecycleStage.self, field: "lifecycle_stage", in: "tracking_run"))
    }

    private static func loggedModel(_ row: PostgresRandomAccessRow) throws -> LoggedModel {
        LoggedModel(
            modelID: try row["model_id"].decode(String.self), experimentID: String(try row["experiment_id"].decode(Int64.self)),
            name: try row["name"].decode(String.self), artifactLocation: try row["artifact_location"].decode(String.self),
            creationTime: try row["creation_time"].decode(Int64.self), lastUpdatedTime: try row["last_updated_time"].decode(Int64.self),
            modelType: try row["model_type"].decode(String.self), sourceRunID: try row["source_run_id"].decode(String.self),
            status: try Records.parse(try row["status"].decode(String.self), as: LoggedModel.Status.self, field: "status", in: "tracking_logged_model"),
            statusMessage: try row["status_message"].decode(String.self),
            lifecycleStage: try Records.parse(try row["lifecycle_stage"].decode(String.self), as: LifecycleStage.self, field: "lifecycle_stage", in: "tracking_logged_model"),
            tags: try decode(try row["tags"].decode(String.self)), params: try decode(try row["params"].decode(String.self)))
    }
}
