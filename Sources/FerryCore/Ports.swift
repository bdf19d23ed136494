import Foundation

/// Persistent registry metadata: models, versions, aliases and alias history.
///
/// Every implementation must pass the conformance suite in `FerryTesting` (`MetadataStoreConformance`).
public protocol MetadataStore: Sendable {
    /// Creates a model; throws `.alreadyExists` if the name is taken.
    ///
    /// Every change takes an optional `audit` builder: the store appends the entry it builds from the change's
    /// result to the audit trail in the same transaction, so a change and its entry commit or vanish together.
    func createModel(_ model: Model, audit: AuditBuilder<Model>?) async throws
    /// Replaces a model's description and tags; throws `.notFound` if it does not exist.
    func updateModel(_ model: Model, audit: AuditBuilder<Model>?) async throws
    func model(named name: String) async throws -> Model?
    /// All models, ordered by name.
    func models() async throws -> [Model]
    /// At most `limit` models ordered by name, after the name `after` when given, each with its newest version's
    /// number and its aliases: a fixed number of queries however many models and versions there are.
    func modelSummaries(after: String?, limit: Int) async throws -> [ModelSummary]

    /// Stores a new version, assigning it the next number of its model atomically; `version.version` is ignored.
    /// Points `aliases` at it (each move in the alias history, by the version's creator, with `reason`) in the same
    /// transaction: the version and its aliases commit or vanish together. Throws `.notFound` if the model does
    /// not exist.
    func addVersion(
        _ version: ModelVersion, aliases: [String], reason: String, audit: AuditBuilder<ModelVersion>?
    ) async throws -> ModelVersion
    func version(model: String, number: Int) async throws -> ModelVersion?
    /// All versions of a model, ascending by number.
    func versions(model: String) async throws -> [ModelVersion]
    /// Versions (of any model) whose artifact has this digest.
    func versions(artifactSHA256: String) async throws -> [ModelVersion]
    /// Marks a version archived or not; throws `.notFound` for an unknown version.
    func setArchived(model: String, number: Int, archived: Bool, audit: AuditBuilder<ModelVersion>?) async throws -> ModelVersion

    /// Points `alias` at `version` (or removes it when `version` is nil) and appends the move to the history,
    /// in one transaction. Throws `.notFound` for an unknown model or version, or when removing an absent alias.
    @discardableResult
    func setAlias(
        model: String, alias: String, version: Int?, by: String, at: Date, reason: String, audit: AuditBuilder<AliasEvent>?
    ) async throws -> AliasEvent
    /// A model's aliases, ordered by name.
    func aliases(model: String) async throws -> [Alias]
    /// Alias moves of a model (optionally one alias), oldest first.
    func aliasHistory(model: String, alias: String?) async throws -> [AliasEvent]

    /// Stores (replacing any earlier one) the reference profile of a version; `.notFound` for an unknown version.
    func setReferenceProfile(model: String, version: Int, profile: ReferenceProfile, audit: AuditBuilder<ReferenceProfile>?) async throws
    func referenceProfile(model: String, version: Int) async throws -> ReferenceProfile?
}

extension MetadataStore {
    public func createModel(_ model: Model) async throws { try await createModel(model, audit: nil) }
    public func updateModel(_ model: Model) async throws { try await updateModel(model, audit: nil) }
    public func addVersion(_ version: ModelVersion, audit: AuditBuilder<ModelVersion>?) async throws -> ModelVersion {
        try await addVersion(version, aliases: [], reason: "", audit: audit)
    }
    public func addVersion(_ version: ModelVersion) async throws -> ModelVersion {
        try await addVersion(version, aliases: [], reason: "", audit: nil)
    }
    public func setArchived(model: String, number: Int, archived: Bool) async throws -> ModelVersion {
        try await setArchived(model: model, number: number, archived: archived, audit: nil)
    }
    @discardableResult
    public func setAlias(model: String, alias: String, version: Int?, by: String, at: Date, reason: String) async throws -> AliasEvent {
        try await setAlias(model: model, alias: alias, version: version, by: by, at: at, reason: reason, audit: nil)
    }
    public func setReferenceProfile(model: String, version: Int, profile: ReferenceProfile) async throws {
        try await setReferenceProfile(model: model, version: version, profile: profile, audit: nil)
    }
}

/// Content-addressed storage for model artifacts.
public protocol ArtifactStore: Sendable {
    /// Stores bytes durably and returns their address; storing the same bytes twice is a no-op.
    func put(_ data: Data) async throws -> ArtifactRef
    /// Reads an artifact and verifies its digest; throws `.integrity` when the bytes do not match.
    func get(_ ref: ArtifactRef) async throws -> Data
    func contains(sha256: String) async throws -> Bool
    func delete(sha256: String) async throws
}

/// What a runtime learned by inspecting an artifact.
public struct ModelDescription: Sendable, Equatable {
    public var inputSchema: InputSchema
    public var outputSchema: OutputSchema
    public var details: [String: JSONValue]

    public init(inputSchema: InputSchema, outputSchema: OutputSchema, details: [String: JSONValue] = [:]) {
        self.inputSchema = inputSchema
        self.outputSchema = outputSchema
        self.details = details
    }
}

/// An inference engine for one model format.
///
/// Construction is cheap; `load` does the work and returns a ready predictor (holding it keeps the model alive).
public protocol ModelRuntime: Sendable {
    var format: ModelFormat { get }
    /// Validates an artifact and describes it. Throws `FerryError` `.unsupported` naming any construct this runtime
    /// cannot run exactly, or `.invalidArgument` when the artifact or an option is malformed or unknown.
    /// `options` are the runtime options chosen at registration (e.g. which trees to use).
    func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription
    /// Parses the artifact into a ready predictor.
    func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor
    /// Whether the bytes look like this runtime's format (used when a registration names no format).
    func recognizes(_ artifact: Data) -> Bool
    /// Completes an artifact before it is inspected and stored, where that needs I/O (a remote backend's
    /// descriptor gets the remote's inputs and outputs). Most runtimes return it unchanged.
    func prepare(_ artifact: Data, options: [String: String]) async throws -> Data
    /// `load` and `inspect` together: a runtime whose predictor knows its description parses the artifact once
    /// (registering a version that serves at once needs both).
    func loadDescribed(_ artifact: Data, options: [String: String]) async throws -> (predictor: any Predictor, description: ModelDescription)
}

extension ModelRuntime {
    public func recognizes(_ artifact: Data) -> Bool { false }
    public func prepare(_ artifact: Data, options: [String: String]) async throws -> Data { artifact }
    public func loadDescribed(_ artifact: Data, options: [String: String]) async throws -> (predictor: any Predictor, description: ModelDescription) {
        (try await load(artifact, options: options), try inspect(artifact, options: options))
    }
    public func inspect(_ artifact: Data) throws -> ModelDescription { try inspect(artifact, options: [:]) }
    public func load(_ artifact: Data) async throws -> any Predictor { try await load(artifact, options: [:]) }

    /// Refuses options this runtime does not know, naming them.
    public func checkOptions(_ options: [String: String], known: Set<String>) throws {
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            let list = known.isEmpty ? "it takes none" : "known: \(known.sorted().joined(separator: ", "))"
            throw FerryError.invalid("runtime option '\(unknown)' is not known to the \(format.rawValue) runtime (\(list))")
        }
    }
}

/// A predictor that can explain its predictions with per-feature contributions (e.g. exact TreeSHAP).
public protocol Explainer: Predictor {
    /// Contributions of shape `[rows, groups, features + 1]`: one value per feature then the bias, per output
    /// group (class); for each row and group they sum to the model's raw (margin) output.
    func contributions(_ batch: FeatureMatrix) throws -> (values: [Double], groups: Int)
}

/// A predictor that explains against a background sample (interventional TreeSHAP: ONNX trees keep no node covers):
/// each feature's contribution to the raw output, averaged over the background rows, which the version's reference
/// sample supplies (`ReferenceProfile.background`).
public protocol BackgroundExplainer: Predictor {
    /// Contributions of shape `[rows, groups, features + 1]` as `Explainer` gives them; the last value of each group
    /// is the mean raw output on the background rows.
    func contributions(_ batch: FeatureMatrix, background: FeatureMatrix) throws -> (values: [Double], groups: Int)
}

/// A predictor whose answers come from another server (a remote inference backend): asked asynchronously, so a
/// request waiting on the network holds no thread.
public protocol RemotePredictor: Predictor {
    func predictRemotely(_ batch: FeatureMatrix) async throws -> [Tensor]
}

/// A loaded model that predicts on a batch of rows.
public protocol Predictor: Sendable {
    /// Number of feature columns a batch must have.
    var featureCount: Int { get }
    var outputSchema: OutputSchema { get }
    /// Predicts every row; each returned tensor has the batch dimension first.
    func predict(_ batch: FeatureMatrix) throws -> [Tensor]
    /// Approximate bytes the loaded model holds in memory (0 when unknown).
    var memoryBytes: Int { get }
}

extension Predictor {
    public var memoryBytes: Int { 0 }
}

/// Bytes an array's elements occupy.
public func byteCount<T>(_ array: [T]) -> Int { array.capacity * MemoryLayout<T>.stride }
