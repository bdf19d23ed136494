import Foundation

/// One logged inference request: what went in (after redaction), what came out, when and how fast.
public struct PredictionRecord: Sendable, Equatable {
    /// Returned to the caller; feedback (ground truth) refers to it.
    public var id: String
    public var model: String
    public var version: Int
    public var at: Date
    public var latencyMicros: Int
    /// Input rows in schema order; a redacted value is null, a hashed one a `sha256:` string.
    public var inputs: [[JSONValue]]
    /// Output values per row (a class's probabilities, or one value).
    public var outputs: [[Double]]
    /// Per row, what the serving path noticed of its inputs (`out_of_range:amount`, `unseen_category:country`);
    /// empty when nothing was.
    public var flags: [[String]]

    public init(
        id: String, model: String, version: Int, at: Date, latencyMicros: Int, inputs: [[JSONValue]], outputs: [[Double]], flags: [[String]] = []
    ) {
        self.flags = flags
        self.id = id
        self.model = model
        self.version = version
        self.at = at
        self.latencyMicros = latencyMicros
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// Durable storage of prediction records. Every implementation must pass `PredictionLogConformance`.
public protocol PredictionLog: Sendable {
    /// Stores records in one transaction.
    func append(_ records: [PredictionRecord]) async throws
    /// The same, for a writer that is not behind: a store whose writes cost this process CPU time (SQLite) gives
    /// the processor away between small groups of rows so requests are not kept waiting; the default is `append`.
    func appendUnhurried(_ records: [PredictionRecord]) async throws
    func record(id: String) async throws -> PredictionRecord?
    /// Records of a model (optionally one version) in a time range, newest first, at most `limit`.
    func records(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [PredictionRecord]
    func count(model: String?) async throws -> Int
    /// Deletes records older than `date`; returns how many.
    @discardableResult func purge(olderThan date: Date) async throws -> Int
    /// Keeps only the newest `count` records; returns how many were deleted.
    @discardableResult func trim(keepNewest count: Int) async throws -> Int

    /// Stores ground truth (a later label for the same prediction row replaces the earlier one), including for
    /// predictions that were never logged (they count as unmatched). Returns how many match a logged prediction.
    @discardableResult func addFeedback(_ items: [Feedback]) async throws -> Int
    /// Logged predictions of a model that have ground truth, joined row by row, in a window of prediction time.
    func labeled(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [LabeledPrediction]
    /// Feedback that matches no logged prediction (sampled out, expired, or an unknown id).
    func unmatchedFeedbackCount() async throws -> Int
    /// The deployment's secret key for hashing sensitive inputs (32 random bytes, hex): made the first time it is
    /// asked for, then the same for every caller and every replica that shares the store.
    func hashKey() async throws -> String
}

extension PredictionLog {
    public func appendUnhurried(_ records: [PredictionRecord]) async throws { try await append(records) }
}

/// How a sensitive feature is stored in the prediction log.
public enum Sensitivity: String, Sendable, Codable, Equatable {
    /// Not stored (null).
    case redact
    /// Stored as `hmac:<hex>`, HMAC-SHA256 of the value's text under the deployment's secret key (the log's
    /// `hashKey`), so equal values can still be matched but a value cannot be found by hashing candidates.
    case hash
}
