import Foundation

// Asynchronous batch scoring: a file of rows scored by one model version, in chunks, each chunk's results and
// errors stored before the job records it, so a restarted job resumes after its last recorded chunk and no row
// appears twice in its output.

/// One scoring job: a model version, an input file and how far it got.
public struct BatchJob: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case queued, running, succeeded, failed, cancelled

        public var isActive: Bool { self == .queued || self == .running }
    }

    /// Where the rows come from: a file uploaded into the artifact store, or a path the server reads.
    public enum Input: Sendable, Equatable {
        case upload(ArtifactRef)
        case path(String)
    }

    public enum Format: String, Sendable, CaseIterable {
        case csv, jsonl
    }

    public var id: String
    public var model: String
    /// The version that scores every row, fixed when the job is submitted (so a resumed job scores with it too).
    public var version: Int
    /// The endpoint named at submission, when the version was resolved through it.
    public var endpoint: String?
    public var input: Input
    public var format: Format
    /// Input columns copied to each result row beside its `row` number (e.g. an id to join on).
    public var keyColumns: [String]
    /// Called with the job when it ends (signed with the secret like alert webhooks, retried).
    public var webhook: String?
    public var webhookSecret: String?
    public var state: State
    public var createdBy: String
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Why it failed or was cancelled.
    public var reason: String
    /// The input's size in bytes (nil until the job starts reading it).
    public var inputBytes: Int?
    /// A path input's identity when the job first read it (inode, modification time, size): a file replaced or
    /// written to since, even at the same size, fails the job instead of mixing two files' rows.
    public var inputStamp: String?
    /// The checkpoint: bytes of the input consumed by the recorded chunks, and their rows.
    public var bytesDone: Int
    public var rowsDone: Int
    public var rowsFailed: Int
    /// The recorded chunks of the results (`row`, the key columns, the outputs; CSV without a header) and of the
    /// errors (`row`, `line`, `error`), in input order.
    public var outputChunks: [ArtifactRef]
    public var errorChunks: [ArtifactRef]
    /// The results' header (set with the first chunk).
    public var outputColumns: [String]
    /// Whether its webhook is still to be told how it ended: set with its end, cleared once delivered or given up,
    /// so a delivery cut short by a restart is made again.
    public var webhookPending = false

    public init(
        id: String, model: String, version: Int, endpoint: String? = nil, input: Input, format: Format, keyColumns: [String] = [],
        webhook: String? = nil, webhookSecret: String? = nil, state: State = .queued, createdBy: String, createdAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil, reason: String = "", inputBytes: Int? = nil, bytesDone: Int = 0, rowsDone: Int = 0,
        rowsFailed: Int = 0, outputChunks: [ArtifactRef] = [], errorChunks: [ArtifactRef] = [], outputColumns: [String] = []
    ) {
        self.id = id
        self.model = model
        self.version = version
        self.endpoint = endpoint
        self.input = input
        self.format = format
        self.keyColumns = keyColumns
        self.webhook = webhook
        self.webhookSecret = webhookSecret
        self.state = state
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.reason = reason
        self.inputBytes = inputBytes
        self.bytesDone = bytesDone
        self.rowsDone = rowsDone
        self.rowsFailed = rowsFailed
        self.outputChunks = outputChunks
        self.errorChunks = errorChunks
        self.outputColumns = outputColumns
    }

    /// Progress at `now`: rows per second since the job started and the seconds left at that pace (by bytes).
    public func progress(now: Date) -> (fraction: Double?, rowsPerSecond: Double?, secondsLeft: Double?) {
        let fraction = inputBytes.map { $0 == 0 ? 1 : min(1, Double(bytesDone) / Double($0)) } ?? (state == .succeeded ? 1 : nil)
        guard let startedAt else { return (fraction, nil, nil) }
        let elapsed = (finishedAt ?? now).timeIntervalSince(startedAt)
        guard elapsed > 0, rowsDone + rowsFailed > 0 else { return (fraction, nil, nil) }
        let rate = Double(rowsDone + rowsFailed) / elapsed
        let left = fraction.flatMap { f -> Double? in f > 0 && state == .running ? elapsed * (1 - f) / f : nil }
        return (fraction, rate, left)
    }
}

/// Batch jobs. Every implementation must pass `BatchJobStoreConformance` in `FerryTesting`.
public protocol BatchJobStore: Sendable {
    /// Stores a new queued job; `.unavailable` when `maxQueued` jobs already wait (across replicas).
    func createBatchJob(_ job: BatchJob, maxQueued: Int, audit: AuditBuilder<BatchJob>?) async throws
    func batchJob(id: String) async throws -> BatchJob?
    /// Jobs newest first, optionally only those in `states`.
    func batchJobs(states: [BatchJob.State]?, limit: Int) async throws -> [BatchJob]
    /// Replaces a job if its stored state is still `expected` (nil: whatever it is); false when it is not (e.g. it
    /// was cancelled meanwhile); `.notFound` for an unknown id.
    @discardableResult
    func updateBatchJob(_ job: BatchJob, expected: BatchJob.State?, audit: AuditBuilder<BatchJob>?) async throws -> Bool
}
