import FerryCore
import FerryStoreRecords
import Foundation
import GRDB

extension SQLiteMetadataStore: TrackingStore {
    // MARK: Experiments

    public func createExperiment(_ experiment: Experiment) async throws -> Experiment {
        try await writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM tracking_experiment WHERE name = ?", arguments: [experiment.name]) != nil {
                throw FerryError(.alreadyExists, "an experiment named '\(experiment.name)' already exists (perhaps deleted: restore it, or choose another name)")
            }
            let id = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM tracking_experiment") ?? -1) + 1
            var stored = experiment
            stored.id = String(id)
            stored.artifactLocation = experiment.artifactLocation.replacingOccurrences(of: "{id}", with: stored.id)
            try db.execute(
                sql: """
                    INSERT INTO tracking_experiment (id, name, artifact_location, lifecycle_stage, creation_time, last_update_time, tags)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [id, stored.name, stored.artifactLocation, stored.lifecycleStage.rawValue, stored.creationTime, stored.lastUpdateTime, try Self.json(stored.tags)])
            return stored
        }
    }

    public func experiment(id: String) async throws -> Experiment? {
        guard let number = Int64(id) else { return nil }
        return try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tracking_experiment WHERE id = ?", arguments: [number]).map(Self.experiment)
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tracking_experiment WHERE name = ?", arguments: [name]).map(Self.experiment)
        }
    }

    public func experiments(_ view: ViewType) async throws -> [Experiment] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tracking_experiment ORDER BY id").map(Self.experiment)
                .filter { view.stages.contains($0.lifecycleStage) }
        }
    }

    public func updateExperiment(id: String, name: String?, stage: LifecycleStage?, tags: [String: String], at: Int64) async throws -> Experiment {
        try await writer.write { db in
            guard let number = Int64(id), var experiment = try Row.fetchOne(db, sql: "SELECT * FROM tracking_experiment WHERE id = ?", arguments: [number]).map(Self.experiment) else {
                throw FerryError.notFound("no experiment with id '\(id)'")
            }
            if let name, name != experiment.name {
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM tracking_experiment WHERE name = ?", arguments: [name]) != nil {
                    throw FerryError(.alreadyExists, "an experiment named '\(name)' already exists")
                }
                experiment.name = name
            }
            if let stage, stage != experiment.lifecycleStage {
                experiment.lifecycleStage = stage
                // As MLflow: an experiment's runs are deleted with it and restored with it.
                try db.execute(sql: "UPDATE tracking_run SET lifecycle_stage = ? WHERE experiment_id = ?", arguments: [stage.rawValue, number])
            }
            experiment.tags.merge(tags) { $1 }
            experiment.lastUpdateTime = at
            try db.execute(
                sql: "UPDATE tracking_experiment SET name = ?, lifecycle_stage = ?, tags = ?, last_update_time = ? WHERE id = ?",
                arguments: [experiment.name, experiment.lifecycleStage.rawValue, try Self.json(experiment.tags), at, number])
            return experiment
        }
    }

    // MARK: Runs

    public func createRun(_ info: RunInfo, tags: [String: String]) async throws -> Run {
        try await writer.write { db in
            guard let experiment = Int64(info.experimentID),
                  try Bool.fetchOne(db, sql: "SELECT 1 FROM tracking_experiment WHERE id = ?", arguments: [experiment]) != nil else {
                throw FerryError.notFound("no experiment with id '\(info.experimentID)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO tracking_run (run_id, experiment_id, run_name, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [info.runID, experiment, info.runName, info.userID, info.status.rawValue, info.startTime, info.endTime, info.artifactURI, info.lifecycleStage.rawValue])
            for (key, value) in tags {
                try db.execute(sql: "INSERT INTO tracking_tag (run_id, key, value) VALUES (?, ?, ?)", arguments: [info.runID, key, value])
            }
            return Run(info: info, tags: tags)
        }
    }

    public func run(id: String) async throws -> Run? {
        try await writer.read { db in try Self.runs(db, ids: [id]).first }
    }

    public func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo {
        try await writer.write { db in
            guard var info = try Row.fetchOne(db, sql: "SELECT * FROM tracking_run WHERE run_id = ?", arguments: [id]).map(Self.runInfo) else {
                throw FerryError.notFound("no run with id '\(id)'")
            }
            if let status = update.status { info.status = status }
            if let end = update.endTime { info.endTime = end }
            if let name = update.runName { info.runName = name }
            if let stage = update.lifecycleStage { info.lifecycleStage = stage }
            try db.execute(
                sql: "UPDATE tracking_run SET status = ?, end_time = ?, run_name = ?, lifecycle_stage = ? WHERE run_id = ?",
                arguments: [info.status.rawValue, info.endTime, info.runName, info.lifecycleStage.rawValue, id])
            if let name = update.runName {
                try db.execute(
                    sql: "INSERT INTO tracking_tag (run_id, key, value) VALUES (?, 'mlflow.runName', ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    arguments: [id, name])
            }
            return info
        }
    }

    public func log(runID: String, metrics: [Metric], params: [String: String], tags: [String: String]) async throws {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tracking_run WHERE run_id = ?", arguments: [runID]) != nil else {
                throw FerryError.notFound("no run with id '\(runID)'")
            }
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                if let stored = try String.fetchOne(db, sql: "SELECT value FROM tracking_param WHERE run_id = ? AND key = ?", arguments: [runID, key]) {
                    guard stored == value else { throw TrackingColumns.paramConflict(key: key, stored: stored, given: value, run: runID) }
                } else {
                    try db.execute(sql: "INSERT INTO tracking_param (run_id, key, value) VALUES (?, ?, ?)", arguments: [runID, key, value])
                }
            }
            for (key, value) in tags {
                try db.execute(
                    sql: "INSERT INTO tracking_tag (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
                    arguments: [runID, key, value])
            }
            let history = try db.cachedStatement(sql: """
                INSERT INTO tracking_metric (run_id, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                """)
            let latest = try db.cachedStatement(sql: "SELECT step, timestamp, value, is_nan FROM tracking_latest_metric WHERE run_id = ? AND key = ?")
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO tracking_latest_metric (run_id, key, step, timestamp, value, is_nan) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, value = excluded.value, is_nan = excluded.is_nan
                """)
            for metric in metrics {
                let (value, isNaN) = TrackingColumns.metricValue(metric.value)
                let arguments: StatementArguments = [runID, metric.key, metric.step, metric.timestamp, value, isNaN]
                try history.execute(arguments: arguments)
                if let row = try Row.fetchOne(latest, arguments: [runID, metric.key]) {
                    let current = Metric(key: metric.key, value: TrackingColumns.metric(row[2], isNaN: row[3]), timestamp: row[1], step: row[0])
                    guard metric.supersedes(current) else { continue }
                }
                try upsert.execute(arguments: arguments)
            }
        }
    }

    public func deleteTag(runID: String, key: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM tracking_tag WHERE run_id = ? AND key = ?", arguments: [runID, key])
            if db.changesCount == 0 { throw FerryError.notFound("run '\(runID)' has no tag '\(key)'") }
        }
    }

    public func metricHistory(runID: String, key: String) async throws -> [Metric] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT step, timestamp, value, is_nan FROM tracking_metric WHERE run_id = ? AND key = ? ORDER BY step, timestamp, value",
                arguments: [runID, key]
            ).map { Metric(key: key, value: TrackingColumns.metric($0[2], isNaN: $0[3]), timestamp: $0[1], step: $0[0]) }
        }
    }

    public func searchRuns(_ search: RunSearch) async throws -> (runs: [Run], more: Bool) {
        let start = TrackingSQL.Pager(search, experimentIDs: search.experimentIDs.compactMap { Int64($0) }, dialect: .sqlite)
        return try await writer.read { db in
            var pager = start
            func arguments(_ query: TrackingSQL.Query) -> StatementArguments {
                StatementArguments(query.values.map { value -> (any DatabaseValueConvertible)? in
                    switch value {
                    case .text(let s): s
                    case .integer(let i): i
                    case .real(let d): d
                    }
                })
            }
            while let request = pager.next() {
                switch request {
                case .rows(let q): pager.received(rows: try String.fetchAll(db, sql: q.text, arguments: arguments(q)))
                case .count(let q): pager.received(count: try Int.fetchOne(db, sql: q.text, arguments: arguments(q)) ?? 0)
                }
            }
            let page = Array(pager.ids.prefix(search.maxResults))
            return (try Self.runs(db, ids: page), pager.ids.count > search.maxResults)
        }
    }

    public func logOutputs(runID: String, _ outputs: [RunOutput]) async throws {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tracking_run WHERE run_id = ?", arguments: [runID]) != nil else {
                throw FerryError.notFound("no run with id '\(runID)'")
            }
            for output in outputs {
                try db.execute(
                    sql: "INSERT INTO tracking_run_output (run_id, model_id, step) VALUES (?, ?, ?) ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step",
                    arguments: [runID, output.modelID, output.step])
            }
        }
    }

    /// Runs with their params, tags, latest metrics and outputs, in the order of `ids` (unknown ids are skipped).
    private static func runs(_ db: Database, ids: [String]) throws -> [Run] {
        guard !ids.isEmpty else { return [] }
        var byID: [String: Run] = [:]
        // Bounded IN lists: SQLite allows 32766 variables per statement.
        for chunk in stride(from: 0, to: ids.count, by: 10_000).map({ Array(ids[$0..<min($0 + 10_000, ids.count)]) }) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let arguments = StatementArguments(chunk)
            for row in try Row.fetchAll(db, sql: "SELECT * FROM tracking_run WHERE run_id IN (\(marks))", arguments: arguments) {
                let info = try runInfo(row)
                byID[info.runID] = Run(info: info)
            }
            for row in try Row.fetchAll(db, sql: "SELECT run_id, key, value FROM tracking_param WHERE run_id IN (\(marks))", arguments: arguments) {
                byID[row[0]]?.params[row[1]] = row[2]
            }
            for row in try Row.fetchAll(db, sql: "SELECT run_id, key, value FROM tracking_tag WHERE run_id IN (\(marks))", arguments: arguments) {
                byID[row[0]]?.tags[row[1]] = row[2]
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT run_id, key, step, timestamp, value, is_nan FROM tracking_latest_metric WHERE run_id IN (\(marks)) ORDER BY run_id, key",
                arguments: arguments) {
                byID[row[0]]?.metrics.append(Metric(key: row[1], value: TrackingColumns.metric(row[4], isNaN: row[5]), timestamp: row[3], step: row[2]))
            }
            for row in try Row.fetchAll(
                db, sql: "SELECT run_id, model_id, step FROM tracking_run_output WHERE run_id IN (\(marks)) ORDER BY run_id, model_id", arguments: arguments) {
                byID[row[0]]?.outputs.append(RunOutput(modelID: row[1], step: row[2]))
            }
        }
        return ids.compactMap { byID[$0] }
    }

    // MARK: Logged models

    public func createLoggedModel(_ model: LoggedModel) async throws {
        try await writer.write { db in
            guard let experiment = Int64(model.experimentID),
                  try Bool.fetchOne(db, sql: "SELECT 1 FROM tracking_experiment WHERE id = ?", arguments: [experiment]) != nil else {
                throw FerryError.notFound("no experiment with id '\(model.experimentID)'")
            }
            try db.execute(
                sql: """
                    INSERT INTO tracking_logged_model (model_id, experiment_id, name, artifact_location, creation_time, last_updated_time,
                        model_type, source_run_id, status, status_message, lifecycle_stage, tags, params)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    model.modelID, experiment, model.name, model.artifactLocation, model.creationTime, model.lastUpdatedTime, model.modelType,
                    model.sourceRunID, model.status.rawValue, model.statusMessage, model.lifecycleStage.rawValue,
                    try Self.json(model.tags), try Self.json(model.params),
                ])
        }
    }

    public func loggedModel(id: String) async throws -> LoggedModel? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tracking_logged_model WHERE model_id = ?", arguments: [id]).map(Self.loggedModel)
        }
    }

    public func loggedModels(experimentIDs: [String], name: String?) async throws -> [LoggedModel] {
        let ids = experimentIDs.compactMap { Int64($0) }
        guard !ids.isEmpty else { return [] }
        return try await writer.read { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            var arguments = StatementArguments(ids.map { $0 as (any DatabaseValueConvertible)? })
            var sql = "SELECT * FROM tracking_logged_model WHERE experiment_id IN (\(marks)) AND lifecycle_stage = 'active'"
            if let name {
                sql += " AND name = ?"
                arguments += [name]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY creation_time DESC, model_id", arguments: arguments).map(Self.loggedModel)
        }
    }

    public func updateLoggedModel(_ model: LoggedModel) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE tracking_logged_model SET status = ?, status_message = ?, lifecycle_stage = ?, tags = ?, params = ?, last_updated_time = ?
                    WHERE model_id = ?
                    """,
                arguments: [
                    model.status.rawValue, model.statusMessage, model.lifecycleStage.rawValue, try Self.json(model.tags), try Self.json(model.params),
                    model.lastUpdatedTime, model.modelID,
                ])
            if db.changesCount == 0 { throw FerryError.notFound("no logged model with id '\(model.modelID)'") }
        }
    }

    // MARK: Files

    public func putTrackedFile(_ file: TrackedFile) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO tracking_file (path, sha256, size) VALUES (?, ?, ?) ON CONFLICT (path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
                arguments: [file.path, file.artifact.sha256, file.artifact.size])
        }
    }

    public func trackedFile(path: String) async throws -> TrackedFile? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT path, sha256, size FROM tracking_file WHERE path = ?", arguments: [path])
                .map { TrackedFile(path: $0[0], artifact: ArtifactRef(sha256: $0[1], size: $0[2])) }
        }
    }

    public func trackedFiles(under prefix: String) async throws -> [TrackedFile] {
        try await writer.read { db in
            // A range on the primary key instead of LIKE, which would read '%' and '_' in paths as wildcards.
            try Row.fetchAll(
                db, sql: "SELECT path, sha256, size FROM tracking_file WHERE path >= ? AND path < ? ORDER BY path",
                arguments: [prefix, TrackingColumns.prefixEnd(prefix)]
            ).map { TrackedFile(path: $0[0], artifact: ArtifactRef(sha256: $0[1], size: $0[2])) }
        }
    }

    // MARK: Rows

    private static func experiment(_ row: Row) throws -> Experiment {
        Experiment(
            id: String(row["id"] as Int64), name: row["name"], artifactLocation: row["artifact_location"],
            lifecycleStage: try Records.parse(row["lifecycle_stage"], as: LifecycleStage.self, field: "lifecycle_stage", in: "tracking_experiment"),
            creationTime: row["creation_time"], lastUpdateTime: row["last_update_time"], tags: try decode(row["tags"]))
    }

    private static func runInfo(_ row: Row) throws -> RunInfo {
        RunInfo(
            runID: row["run_id"], experimentID: String(row["experiment_id"] as Int64), runName: row["run_name"], userID: row["user_id"],
            status: try Records.parse(row["status"], as: RunStatus.self, field: "status", in: "tracking_run"),
            startTime: row["start_time"], endTime: row["end_time"], artifactURI: row["artifact_uri"],
            lifecycleStage: try Records.parse(row["lifecycle_stage"], as: LifecycleStage.self, field: "lifecycle_stage", in: "tracking_run"))
    }

    private static func loggedModel(_ row: Row) throws -> LoggedModel {
        LoggedModel(
            modelID: row["model_id"], experimentID: String(row["experiment_id"] as Int64), name: row["name"],
            artifactLocation: row["artifact_location"], creationTime: row["creation_time"], lastUpdatedTime: row["last_updated_time"],
            modelType: row["model_type"], sourceRunID: row["source_run_id"],
            status: try Records.parse(row["status"], as: LoggedModel.Status.self, field: "status", in: "tracking_logged_model"),
            statusMessage: row["status_message"],
            lifecycleStage: try Records.parse(row["lifecycle_stage"], as: LifecycleStage.self, field: "lifecycle_stage", in: "tracking_logged_model"),
            tags: try decode(row["tags"]), params: try decode(row["params"]))
    }
}
