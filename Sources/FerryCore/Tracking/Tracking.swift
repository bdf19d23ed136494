import Foundation

// Experiment tracking: experiments, runs with their params, metrics and tags, logged models and the files logged
// as artifacts. The shapes follow MLflow's tracking service (its protos are the contract Ferry's `/api/2.0/mlflow`
// routes speak), so an unchanged training script logs to Ferry. Times are milliseconds since the epoch, as MLflow's.

/// Whether an experiment, run or logged model is live or in the bin (deleted ones can be restored).
public enum LifecycleStage: String, Sendable, Codable, CaseIterable {
    case active, deleted
}

/// Which lifecycle stages a listing or search includes (MLflow's `ViewType`).
public enum ViewType: String, Sendable, CaseIterable {
    case activeOnly = "ACTIVE_ONLY", deletedOnly = "DELETED_ONLY", all = "ALL"

    public var stages: [LifecycleStage] {
        switch self {
        case .activeOnly: [.active]
        case .deletedOnly: [.deleted]
        case .all: [.active, .deleted]
        }
    }
}

public struct Experiment: Sendable, Equatable {
    /// A decimal number as text, assigned by the store; "0" is the default experiment every store starts with.
    public var id: String
    public var name: String
    public var artifactLocation: String
    public var lifecycleStage: LifecycleStage
    public var creationTime: Int64
    public var lastUpdateTime: Int64
    public var tags: [String: String]

    public init(
        id: String = "", name: String, artifactLocation: String = "", lifecycleStage: LifecycleStage = .active,
        creationTime: Int64, lastUpdateTime: Int64? = nil, tags: [String: String] = [:]
    ) {
        self.id = id
        self.name = name
        self.artifactLocation = artifactLocation
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime ?? creationTime
        self.tags = tags
    }

    public static let defaultID = "0"
    public static let defaultName = "Default"
}

public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running = "RUNNING", scheduled = "SCHEDULED", finished = "FINISHED", failed = "FAILED", killed = "KILLED"

    public var isTerminal: Bool { self == .finished || self == .failed || self == .killed }
}

public struct RunInfo: Sendable, Equatable {
    /// 32 lowercase hex digits.
    public var runID: String
    public var experimentID: String
    public var runName: String
    public var userID: String
    public var status: RunStatus
    public var startTime: Int64?
    public var endTime: Int64?
    public var artifactURI: String
    public var lifecycleStage: LifecycleStage

    public init(
        runID: String, experimentID: String, runName: String, userID: String, status: RunStatus = .running,
        startTime: Int64?, endTime: Int64? = nil, artifactURI: String, lifecycleStage: LifecycleStage = .active
    ) {
        self.runID = runID
        self.experimentID = experimentID
        self.runName = runName
        self.userID = userID
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.artifactURI = artifactURI
        self.lifecycleStage = lifecycleStage
    }
}

/// One logged value of a metric. `value` may be NaN or infinite (MLflow sends them as "NaN" and "Infinity").
public struct Metric: Sendable, Equatable {
    public var key: String
    public var value: Double
    public var timestamp: Int64
    public var step: Int64

    public init(key: String, value: Double, timestamp: Int64, step: Int64 = 0) {
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.step = step
    }

    /// NaN equals NaN here: a stored NaN round-trips.
    public static func == (a: Metric, b: Metric) -> Bool {
        a.key == b.key && a.timestamp == b.timestamp && a.step == b.step && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
    }

    /// Whether this value replaces `latest` as the run's latest value of the metric: a higher step, then a later
    /// timestamp, then a larger value wins (NaN counts as larger than any number), as MLflow decides.
    public func supersedes(_ latest: Metric) -> Bool {
        if step != latest.step { return step > latest.step }
        if timestamp != latest.timestamp { return timestamp > latest.timestamp }
        if value.isNaN || latest.value.isNaN { return value.isNaN && !latest.value.isNaN }
        return value > latest.value
    }
}

/// A model logged under a run (MLflow 3's logged models): its files live under `artifactLocation`.
public struct LoggedModel: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        case pending = "LOGGED_MODEL_PENDING", ready = "LOGGED_MODEL_READY", failed = "LOGGED_MODEL_UPLOAD_FAILED"
    }

    /// `m-` and 32 lowercase hex digits.
    public var modelID: String
    public var experimentID: String
    public var name: String
    public var artifactLocation: String
    public var creationTime: Int64
    public var lastUpdatedTime: Int64
    public var modelType: String
    public var sourceRunID: String
    public var status: Status
    public var statusMessage: String
    public var lifecycleStage: LifecycleStage
    public var tags: [String: String]
    public var params: [String: String]

    public init(
        modelID: String, experimentID: String, name: String, artifactLocation: String, creationTime: Int64,
        lastUpdatedTime: Int64? = nil, modelType: String = "", sourceRunID: String = "", status: Status = .pending,
        statusMessage: String = "", lifecycleStage: LifecycleStage = .active, tags: [String: String] = [:], params: [String: String] = [:]
    ) {
        self.modelID = modelID
        self.experimentID = experimentID
        self.name = name
        self.artifactLocation = artifactLocation
        self.creationTime = creationTime
        self.lastUpdatedTime = lastUpdatedTime ?? creationTime
        self.modelType = modelType
        self.sourceRunID = sourceRunID
        self.status = status
        self.statusMessage = statusMessage
        self.lifecycleStage = lifecycleStage
        self.tags = tags
        self.params = params
    }
}

/// A run: its info, its params and tags, each metric's latest value, and the models it logged.
public struct Run: Sendable, Equatable {
    public var info: RunInfo
    public var params: [String: String]
    public var tags: [String: String]
    /// The latest value of each metric (see `Metric.supersedes`), ordered by key.
    public var metrics: [Metric]
    /// Models logged as outputs of this run, with the step they were logged at, ordered by model id.
    public var outputs: [RunOutput]

    public init(info: RunInfo, params: [String: String] = [:], tags: [String: String] = [:], metrics: [Metric] = [], outputs: [RunOutput] = []) {
        self.info = info
        self.params = params
        self.tags = tags
        self.metrics = metrics
        self.outputs = outputs
    }
}

public struct RunOutput: Sendable, Equatable {
    public var modelID: String
    public var step: Int64
    public init(modelID: String, step: Int64) {
        self.modelID = modelID
        self.step = step
    }
}

/// A file logged as an artifact: its path in the tracking artifact tree (`<experiment>/<run>/artifacts/...` or
/// `<experiment>/models/<model id>/artifacts/...`) and its bytes' address in the artifact store.
public struct TrackedFile: Sendable, Equatable {
    public var path: String
    public var artifact: ArtifactRef
    public init(path: String, artifact: ArtifactRef) {
        self.path = path
        self.artifact = artifact
    }
}

/// A changed run attribute (nil leaves it as it is).
public struct RunUpdate: Sendable, Equatable {
    public var status: RunStatus?
    public var endTime: Int64?
    public var runName: String?
    public var lifecycleStage: LifecycleStage?
    public init(status: RunStatus? = nil, endTime: Int64? = nil, runName: String? = nil, lifecycleStage: LifecycleStage? = nil) {
        self.status = status
        self.endTime = endTime
        self.runName = runName
        self.lifecycleStage = lifecycleStage
    }
}

/// Experiment tracking state. Every implementation must pass `TrackingStoreConformance` in `FerryTesting`.
public protocol TrackingStore: Sendable {
    /// Stores a new experiment, assigning the next id; `.alreadyExists` when the name is taken (deleted ones too).
    /// `artifactLocation` may contain `{id}`, replaced by the assigned id.
    func createExperiment(_ experiment: Experiment) async throws -> Experiment
    func experiment(id: String) async throws -> Experiment?
    func experiment(named name: String) async throws -> Experiment?
    /// Experiments in the given stages, by id.
    func experiments(_ view: ViewType) async throws -> [Experiment]
    /// Renames, deletes or restores an experiment, and sets tags; `.notFound` for an unknown id, `.alreadyExists`
    /// for a taken name.
    func updateExperiment(id: String, name: String?, stage: LifecycleStage?, tags: [String: String], at: Int64) async throws -> Experiment

    /// Stores a new run with its first tags; `.notFound` when the experiment does not exist.
    func createRun(_ info: RunInfo, tags: [String: String]) async throws -> Run
    func run(id: String) async throws -> Run?
    /// Changes a run's status, end time, name or stage; `.notFound` for an unknown run.
    func updateRun(id: String, _ update: RunUpdate) async throws -> RunInfo
    /// Logs metrics (each value kept in the history; the latest per key kept apart), params and tags in one
    /// transaction. A param is written once: the same value again is fine, another value is `.invalidArgument`.
    /// `.notFound` for an unknown run.
    func log(runID: String, metrics: [Metric], params: [String: String], tags: [String: String]) async throws
    func deleteTag(runID: String, key: String) async throws
    /// Every logged value of one metric of a run, by step then timestamp.
    func metricHistory(runID: String, key: String) async throws -> [Metric]
    /// One page of the runs a search selects, and whether more follow.
    func searchRuns(_ search: RunSearch) async throws -> (runs: [Run], more: Bool)
    /// Records models as outputs of a run.
    func logOutputs(runID: String, _ outputs: [RunOutput]) async throws

    func createLoggedModel(_ model: LoggedModel) async throws
    func loggedModel(id: String) async throws -> LoggedModel?
    /// Active logged models of some experiments (optionally only those of one name), newest first.
    func loggedModels(experimentIDs: [String], name: String?) async throws -> [LoggedModel]
    /// Replaces a logged model's mutable parts (status, message, tags, params, stage, update time).
    func updateLoggedModel(_ model: LoggedModel) async throws

    /// Records (or replaces) the file at a path.
    func putTrackedFile(_ file: TrackedFile) async throws
    func trackedFile(path: String) async throws -> TrackedFile?
    /// Files whose path starts with `prefix` (give it a trailing slash for a folder), by path.
    func trackedFiles(under prefix: String) async throws -> [TrackedFile]
}
