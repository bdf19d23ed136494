import FerryCore
import Foundation
import Logging

/// Experiment tracking's use cases: experiments, runs and what they log, logged models, the files logged as
/// artifacts (kept in Ferry's artifact store), and registering a logged model as a version of Ferry's registry.
///
/// Artifact locations are `mlflow-artifacts:/<experiment>/<run>/artifacts` (runs) and
/// `mlflow-artifacts:/<experiment>/models/<model id>/artifacts` (logged models), which MLflow's client uploads to
/// through the artifact routes; a file's path is its location without the scheme.
public final class TrackingService: Sendable {
    public let store: any TrackingStore
    private let artifacts: any ArtifactStore
    private let registry: Registry
    private let logger: Logger
    private let now: @Sendable () -> Date

    public static let scheme = "mlflow-artifacts:/"

    public init(store: any TrackingStore, artifacts: any ArtifactStore, registry: Registry, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.artifacts = artifacts
        self.registry = registry
        self.logger = logger
        self.now = now
    }

    var millis: Int64 { Int64((now().timeIntervalSince1970 * 1000).rounded()) }

    // MARK: Experiments

    public func createExperiment(name: String, artifactLocation: String?, tags: [String: String]) async throws -> Experiment {
        let name = try Self.name(name, field: "name")
        let location = artifactLocation.flatMap { $0.isEmpty ? nil : $0 } ?? Self.scheme + "{id}"
        let at = millis
        return try await store.createExperiment(Experiment(name: name, artifactLocation: location, creationTime: at, tags: tags))
    }

    public func experiment(id: String) async throws -> Experiment {
        guard let experiment = try await store.experiment(id: id) else {
            throw FerryError.notFound("no experiment with id '\(id)'")
        }
        return experiment
    }

    public func experiment(named name: String) async throws -> Experiment {
        guard let experiment = try await store.experiment(named: name) else {
            throw FerryError.notFound("no experiment named '\(name)'")
        }
        return experiment
    }

    public func updateExperiment(id: String, name: String? = nil, stage: LifecycleStage? = nil, tags: [String: String] = [:]) async throws -> Experiment {
        let name = try name.map { try Self.name($0, field: "new_name") }
        if let stage, stage == .deleted, id == Experiment.defaultID {
            throw FerryError.invalid("the default experiment (id 0) cannot be deleted")
        }
        // As MLflow: deleting a deleted experiment or restoring an active one finds no such experiment, and a deleted
        // one is not renamed.
        let current = try await experiment(id: id)
        if let stage, stage == current.lifecycleStage {
            throw FerryError.notFound("no \(stage == .deleted ? "active" : "deleted") experiment with id '\(id)'")
        }
        if name != nil, stage == nil, current.lifecycleStage == .deleted {
            throw FerryError(.failedPrecondition, "experiment '\(current.name)' (id \(id)) is deleted; restore it before renaming it")
        }
        return try await store.updateExperiment(id: id, name: name, stage: stage, tags: tags, at: millis)
    }

    // MARK: Runs

    public func createRun(experimentID: String?, userID: String, runName: String?, startTime: Int64?, tags: [String: String]) async throws -> Run {
        let experiment = try await self.experiment(id: experimentID.flatMap { $0.isEmpty ? nil : $0 } ?? Experiment.defaultID)
        guard experiment.lifecycleStage == .active else {
            throw FerryError(.failedPrecondition, "experiment '\(experiment.name)' (id \(experiment.id)) is deleted; restore it to start runs in it")
        }
        var tags = tags
        let id = Self.hexID()
        let name = runName.flatMap { $0.isEmpty ? nil : $0 } ?? tags["mlflow.runName"] ?? Self.runName()
        tags["mlflow.runName"] = name
        if tags["mlflow.user"] == nil, !userID.isEmpty { tags["mlflow.user"] = userID }
        let info = RunInfo(
            runID: id, experimentID: experiment.id, runName: name, userID: userID, startTime: startTime ?? millis,
            artifactURI: "\(experiment.artifactLocation)/\(id)/artifacts")
        try Self.check(params: [:], tags: tags)
        return try await store.createRun(info, tags: tags)
    }

    public func run(id: String) async throws -> Run {
        guard let run = try await store.run(id: id) else { throw FerryError.notFound("no run with id '\(id)'") }
        return run
    }

    public func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo {
        if let name = update.runName { _ = try Self.name(name, field: "run_name") }
        return try await store.updateRun(id: id, update)
    }

    /// Logs metrics, params and tags to an active run, within MLflow's limits (1000 metrics, 100 params, 100 tags,
    /// 1000 of them together; keys of 250 characters, param values of 6000, tag values of 8000), refusing what exceeds
    /// them by name. (MLflow's client sends 100 params and 100 tags in one batch.)
    public func log(runID: String, metrics: [Metric], params: [String: String], tags: [String: String]) async throws {
        guard metrics.count <= 1000 else { throw FerryError.invalid("a batch holds at most 1000 metrics; this one has \(metrics.count)") }
        guard params.count <= 100 else { throw FerryError.invalid("a batch holds at most 100 params; this one has \(params.count)") }
        guard tags.count <= 100 else { throw FerryError.invalid("a batch holds at most 100 tags; this one has \(tags.count)") }
        guard metrics.count + params.count + tags.count <= 1000 else {
            throw FerryError.invalid("a batch holds at most 1000 metrics, params and tags together; this one has \(metrics.count + params.count + tags.count)")
        }
        try Self.check(params: params, tags: tags)
        for metric in metrics { try Self.key(metric.key, kind: "metric") }
        let run = try await self.run(id: runID)
        guard run.info.lifecycleStage == .active else {
            throw FerryError(.failedPrecondition, "run '\(runID)' is deleted; restore it before logging to it")
        }
        try await store.log(runID: runID, metrics: metrics, params: params, tags: tags)
    }

    public func search(_ search: RunSearch) async throws -> (runs: [Run], nextPageToken: String?) {
        guard (1...RunSearch.maxMaxResults).contains(search.maxResults) else {
            throw FerryError.invalid("max_results must be between 1 and \(RunSearch.maxMaxResults); it is \(search.maxResults)")
        }
        let page = try await store.searchRuns(search)
        return (page.runs, page.more ? RunSearch.pageToken(offset: search.offset + page.runs.count) : nil)
    }

    // MARK: Logged models

    public func createLoggedModel(
        experimentID: String, name: String?, modelType: String, sourceRunID: String, params: [String: String], tags: [String: String]
    ) async throws -> LoggedModel {
        let experiment = try await self.experiment(id: experimentID)
        if !sourceRunID.isEmpty { _ = try await run(id: sourceRunID) }
        let id = "m-" + Self.hexID()
        let model = LoggedModel(
            modelID: id, experimentID: experiment.id, name: name.flatMap { $0.isEmpty ? nil : $0 } ?? "model",
            artifactLocation: "\(experiment.artifactLocation)/models/\(id)/artifacts", creationTime: millis, modelType: modelType,
            sourceRunID: sourceRunID, tags: tags, params: params)
        try await store.createLoggedModel(model)
        return model
    }

    public func loggedModel(id: String) async throws -> LoggedModel {
        guard let model = try await store.loggedModel(id: id) else { throw FerryError.notFound("no logged model with id '\(id)'") }
        return model
    }

    /// Changes a logged model's status, tags, params or stage.
    public func updateLoggedModel(id: String, _ change: (inout LoggedModel) throws -> Void) async throws -> LoggedModel {
        var model = try await loggedModel(id: id)
        try change(&model)
        model.lastUpdatedTime = millis
        try await store.updateLoggedModel(model)
        return model
    }

    // MARK: Artifacts

    /// Stores a file's bytes at a path of the artifact tree (`<experiment>/<run>/artifacts/...`).
    public func putFile(path: String, _ data: Data) async throws -> TrackedFile {
        let path = try Self.artifactPath(path)
        let file = TrackedFile(path: path, artifact: try await artifacts.put(data))
        try await store.putTrackedFile(file)
        return file
    }

    public func file(path: String) async throws -> Data {
        let path = try Self.artifactPath(path)
        guard let file = try await store.trackedFile(path: path) else { throw FerryError.notFound("no artifact at '\(path)'") }
        return try await artifacts.get(file.artifact)
    }

    /// The files and folders directly in a folder of the artifact tree: (name, is folder, size of a file).
    public func listFolder(path: String) async throws -> [(name: String, isFolder: Bool, size: Int?)] {
        let folder = path.isEmpty ? "" : try Self.artifactPath(path)
        let prefix = folder.isEmpty ? "" : folder + "/"
        var entries: [(name: String, isFolder: Bool, size: Int?)] = []
        for file in try await store.trackedFiles(under: prefix) {
            let rest = file.path.dropFirst(prefix.count)
            if let slash = rest.firstIndex(of: "/") {
                let name = String(rest[..<slash])
                if entries.last?.name != name { entries.append((name, true, nil)) }
            } else {
                entries.append((String(rest), false, file.artifact.size))
            }
        }
        return entries
    }

    /// A path of the artifact tree from an artifact URI (`mlflow-artifacts:/1/abc/artifacts` gives `1/abc/artifacts`).
    public static func path(ofURI uri: String) throws -> String {
        var rest = Substring(uri)
        if rest.hasPrefix("mlflow-artifacts://") {
            // With an authority (mlflow-artifacts://host:port/path): the path is after the host.
            rest = rest.dropFirst("mlflow-artifacts://".count)
            rest = rest.firstIndex(of: "/").map { rest[rest.index(after: $0)...] } ?? ""
        } else if rest.hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
        } else {
            throw FerryError.invalid("'\(uri)' is not in Ferry's artifact store (an mlflow-artifacts:/ location); Ferry registers models whose files were logged to it")
        }
        return try artifactPath(String(rest))
    }

    /// A normalized relative path: no empty, '.' or '..' segments, no leading slash.
    static func artifactPath(_ path: String) throws -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !segments.isEmpty, !segments.contains(where: { $0 == ".." || $0 == "." }) else {
            throw FerryError.invalid("artifact path '\(path)' is not valid: give a relative path without '.' or '..' segments")
        }
        return segments.joined(separator: "/")
    }

    // MARK: Registry

    /// Registers the MLflow model at `source` (`models:/m-...`, `runs:/<run>/<path>` or an `mlflow-artifacts:/`
    /// location) as a new version of `model` in Ferry's registry, with the run's params and latest metrics and the
    /// run as lineage. Returns the version and where its files were read from.
    public func registerVersion(model: String, source: String, runID: String?, description: String, by: String) async throws -> ModelVersion {
        // As MLflow: a version is created in a registered model that exists (`mlflow.register_model` creates it first).
        guard try await registry.store.model(named: model) != nil else {
            throw FerryError.notFound("Registered Model with name=\(model) not found")
        }
        let location = try await resolve(source: source)
        let folder = try Self.path(ofURI: location)
        let files = try await store.trackedFiles(under: folder + "/")
        guard !files.isEmpty else { throw FerryError.invalid("source '\(source)' holds no files (looked in \(location))") }
        let byName = Dictionary(files.map { (String($0.path.dropFirst(folder.count + 1)), $0) }, uniquingKeysWith: { $1 })
        let mlflow = try await Self.readFolder(files: Array(byName.keys), place: "source '\(source)'") { name in
            guard let file = byName[name] else { return nil }
            return try await self.artifacts.get(file.artifact)
        }
        let runID = runID.flatMap { $0.isEmpty ? nil : $0 } ?? mlflow.runID
        let run = try await runID.asyncMap { try await self.run(id: $0) }
        var metrics: [String: Double] = [:]
        for metric in run?.metrics ?? [] where metric.value.isFinite { metrics[metric.key] = metric.value }
        let version = try await registry.register(Registry.NewVersion(
            model: model, format: mlflow.format, artifact: mlflow.artifact, description: description, inputSchema: mlflow.inputSchema,
            params: (run?.params ?? [:]).mapValues { .string($0) }, metrics: metrics,
            lineage: Lineage(run: runID.map { "mlflow:\($0)" }, source: location), createdBy: by))
        logger.info("version registered from tracking", metadata: ["model": "\(model)", "version": "\(version.version)", "source": "\(location)"])
        return version
    }

    /// The artifact location a model source names.
    func resolve(source: String) async throws -> String {
        if source.hasPrefix("models:/m-") {
            return try await loggedModel(id: String(source.dropFirst("models:/".count)).split(separator: "/").first.map(String.init) ?? "").artifactLocation
        }
        if source.hasPrefix("runs:/") {
            let rest = source.dropFirst("runs:/".count)
            let parts = rest.split(separator: "/", maxSplits: 1)
            guard let id = parts.first else { throw FerryError.invalid("source '\(source)' names no run: runs:/<run_id>/<path>") }
            let run = try await self.run(id: String(id))
            return parts.count > 1 ? "\(run.info.artifactURI)/\(parts[1])" : run.info.artifactURI
        }
        return source
    }

    /// Reads the MLflow folder through async reads (MLflowModelFolder reads synchronously: the MLmodel and the
    /// model file are fetched first).
    static func readFolder(files: [String], place: String, read: @escaping (String) async throws -> Data?) async throws -> MLflowModelFolder {
        var cache: [String: Data] = [:]
        // The MLmodel names the data file; fetch it, then every file the folder parser may ask for at the top.
        if let mlmodel = try await read("MLmodel") { cache["MLmodel"] = mlmodel }
        for name in files where !name.contains("/") && name != "MLmodel" && (name.hasPrefix("model") || name.hasSuffix(".onnx") || name.hasSuffix(".lgb")) {
            cache[name] = try await read(name)
        }
        if let text = cache["MLmodel"].flatMap({ String(data: $0, encoding: .utf8) }) {
            for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("data:") {
                let name = line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
                if cache[name] == nil, let data = try await read(name) { cache[name] = data }
            }
        }
        return try MLflowModelFolder(files: files, place: place) { cache[$0] }
    }

    // MARK: Checks and names

    static func check(params: [String: String], tags: [String: String]) throws {
        for (key, value) in params {
            try Self.key(key, kind: "param")
            guard value.count <= 6000 else { throw FerryError.invalid("param '\(key)' has \(value.count) characters; a param value holds at most 6000") }
        }
        for (key, value) in tags {
            try Self.key(key, kind: "tag")
            guard value.count <= 8000 else { throw FerryError.invalid("tag '\(key)' has \(value.count) characters; a tag value holds at most 8000") }
        }
    }

    /// MLflow's key rule: 1-250 characters of letters, digits, '_', '-', '.', ' ', '/' and ':'; no '..' segment.
    static func key(_ key: String, kind: String) throws {
        let allowed = key.unicodeScalars.allSatisfy { c in
            CharacterSet.alphanumerics.contains(c) || "_-. /:".unicodeScalars.contains(c)
        }
        guard !key.isEmpty, key.count <= 250, allowed, !key.split(separator: "/").contains("..") else {
            throw FerryError.invalid("\(kind) key '\(key)' is not valid: use 1-250 letters, digits, '_', '-', '.', ' ', '/' or ':'")
        }
    }

    static func name(_ name: String, field: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 500 else { throw FerryError.invalid("\(field) must be 1 to 500 characters") }
        return trimmed
    }

    static func hexID() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    static let adjectives = ["amber", "bold", "brisk", "calm", "clever", "crisp", "deft", "eager", "fair", "gentle", "keen", "lucid", "merry", "noble", "quick", "silent", "steady", "sunny", "swift", "vivid"]
    static let nouns = ["ant", "bee", "crane", "deer", "eel", "finch", "fox", "gull", "hare", "heron", "ibis", "jay", "lynx", "mole", "newt", "owl", "pike", "robin", "seal", "wren"]

    /// A readable run name when the client gives none: `swift-heron-417`.
    static func runName() -> String {
        "\(adjectives.randomElement()!)-\(nouns.randomElement()!)-\(Int.random(in: 100...999))"
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
