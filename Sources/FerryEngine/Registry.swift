import FerryCore
import Foundation
import Logging

/// The model registry's use cases: models, immutable versions with verified artifacts, aliases and their history.
///
/// Every change that alters what a model name serves goes through here, so the `ModelManager` can load the new
/// version before the change is committed and swap routes right after it.
public final class Registry: Sendable {
    /// What a caller supplies to register a new version.
    public struct NewVersion: Sendable {
        public var model: String
        /// The artifact's format; nil detects it from the bytes.
        public var format: ModelFormat?
        public var artifact: Data
        public var description: String
        /// Overrides the schema the runtime derives (same features, in the same order; may set `nullable`).
        public var inputSchema: InputSchema?
        public var params: [String: JSONValue]
        public var metrics: [String: Double]
        public var lineage: Lineage
        public var runtimeOptions: [String: String]
        /// A signature by a trusted key over the artifact's digest; checked before anything is stored.
        public var signature: ModelSignature?
        /// Aliases to point at the new version, in the same transaction that stores it.
        public var aliases: [String]
        /// Features the online store supplies at inference (see `ModelVersion.features`).
        public var features: [FeatureRef]
        /// Inputs named sensitive at registration and how the prediction log keeps them (hashed values still group
        /// for fairness); applied on top of the schema.
        public var sensitive: [String: Sensitivity]
        public var createdBy: String

        public init(
            model: String, format: ModelFormat? = nil, artifact: Data, description: String = "",
            inputSchema: InputSchema? = nil, params: [String: JSONValue] = [:], metrics: [String: Double] = [:],
            lineage: Lineage = Lineage(), runtimeOptions: [String: String] = [:], signature: ModelSignature? = nil,
            aliases: [String] = [], features: [FeatureRef] = [], sensitive: [String: Sensitivity] = [:], createdBy: String
        ) {
            self.features = features
            self.sensitive = sensitive
            self.signature = signature
            self.aliases = aliases
            self.model = model
            self.format = format
            self.artifact = artifact
            self.description = description
            self.inputSchema = inputSchema
            self.params = params
            self.metrics = metrics
            self.lineage = lineage
            self.runtimeOptions = runtimeOptions
            self.createdBy = createdBy
        }
    }

    public let store: any MetadataStore
    private let artifacts: any ArtifactStore
    private let runtimes: RuntimeCatalog
    private let models: ModelManager
    private let now: @Sendable () -> Date
    private let logger: Logger
    /// The audit trail every change is appended to (by the store, in the change's transaction), for reading.
    public let audit: AuditTrail?
    /// Checks the feature refs a registration declares; nil refuses them.
    let features: FeatureService?
    /// Where protected aliases are recorded: they move only through `Approvals`.
    let protections: (any ApprovalStore)?

    public init(
        store: any MetadataStore, artifacts: any ArtifactStore, runtimes: RuntimeCatalog, models: ModelManager,
        audit: AuditTrail? = nil, features: FeatureService? = nil, protections: (any ApprovalStore)? = nil, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.features = features
        self.protections = protections
        self.store = store
        self.audit = audit
        self.artifacts = artifacts
        self.runtimes = runtimes
        self.models = models
        self.logger = logger
        self.now = now
    }

    // MARK: Models

    public func createModel(name: String, description: String = "", tags: [String: String] = [:], by: String) async throws -> Model {
        try Model.validate(name: name)
        let time = now()
        let model = Model(name: name, description: description, tags: tags, createdBy: by, createdAt: time)
        try await store.createModel(model) { created in
            AuditDraft(at: time, actor: by, action: "model.create", target: name, after: try JSONValue(encoding: created))
        }
        logger.info("model created", metadata: ["model": "\(name)", "by": "\(by)"])
        return try await self.model(named: name)
    }

    public func updateModel(name: String, description: String?, tags: [String: String]?, by: String) async throws -> Model {
        let before = try await self.model(named: name)
        var model = before
        if let description { model.description = description }
        if let tags { model.tags = tags }
        let time = now()
        try await store.updateModel(model) { updated in
            AuditDraft(
                at: time, actor: by, action: "model.update", target: name, before: try JSONValue(encoding: before),
                after: try JSONValue(encoding: updated))
        }
        return model
    }

    public func model(named name: String) async throws -> Model {
        guard let model = try await store.model(named: name) else {
            throw FerryError.notFound("model '\(name)' is not registered")
        }
        return model
    }

    public func models() async throws -> [Model] { try await store.models() }

    /// A page of models by name with their newest version and aliases (see `MetadataStore.modelSummaries`).
    public func modelSummaries(after: String?, limit: Int) async throws -> [ModelSummary] {
        try await store.modelSummaries(after: after, limit: limit)
    }

    // MARK: Versions

    /// Validates the artifact with its runtime, stores it content-addressed, and records a new version with its
    /// aliases in one transaction: a registration that is refused (a bad artifact or alias, an alias that needs a
    /// signature) leaves nothing behind. Creates the model when it does not exist yet. When the new version becomes
    /// what the model name serves, it is loaded and warmed before this returns.
    public func register(_ given: NewVersion) async throws -> ModelVersion {
        var new = given
        try Model.validate(name: new.model, field: "model name")
        for alias in new.aliases { try Model.validate(name: alias, field: "alias") }
        if Set(new.aliases).count != new.aliases.count { throw FerryError.invalid("field 'aliases' names an alias twice") }
        for alias in new.aliases where try await protections?.protection(target: .alias(model: new.model, alias: alias)) != nil {
            throw FerryError(
                .failedPrecondition,
                "alias '\(alias)' of model '\(new.model)' is protected and cannot be set at registration; register without it, then ask for the move with `ferry alias set` (a second principal approves it)")
        }
        guard !new.artifact.isEmpty else { throw FerryError.invalid("artifact is empty") }
        if try await store.model(named: new.model) == nil, let endpoints = store as? any EndpointStore,
           try await endpoints.endpoints().contains(where: { $0.name == new.model }) {
            throw FerryError(
                .alreadyExists,
                "'\(new.model)' is an endpoint; a model of that name could not be reached by it (the endpoint answers first). Name the model differently")
        }
        let format = try new.format ?? runtimes.detectFormat(new.artifact)
        let runtime = try runtimes.runtime(for: format)
        new.artifact = try await runtime.prepare(new.artifact, options: new.runtimeOptions)
        let requestedAliases = new.aliases
        // A version that will serve at once (it takes an alias, or its model has no production alias) is loaded
        // now from the same parse that describes it; any other is only described.
        var servesAtOnce = !new.aliases.isEmpty
        if !servesAtOnce {
            let current = (try? await store.aliases(model: new.model)) ?? []
            servesAtOnce = !current.contains { $0.name == Alias.production }
        }
        let (predictor, description): ((any Predictor)?, ModelDescription) = servesAtOnce
            ? try await runtime.loadDescribed(new.artifact, options: new.runtimeOptions)
            : (nil, try runtime.inspect(new.artifact, options: new.runtimeOptions))
        var schema = try Self.merge(derived: description.inputSchema, override: new.inputSchema)
        for (name, how) in new.sensitive.sorted(by: { $0.key < $1.key }) {
            guard let index = schema.features.firstIndex(where: { $0.name == name }) else {
                throw FerryError.invalid("field 'sensitive' names '\(name)', which is not an input of this model (it has \(schema.featureNames.prefix(12).joined(separator: ", ")))")
            }
            schema.features[index].sensitive = how
        }
        if !new.features.isEmpty {
            guard let features else { throw FerryError(.failedPrecondition, "field 'features' needs the feature store, which this server does not run") }
            try await features.checkBinding(new.features, schema: schema)
        }
        let digest = LocalArtifactStore.sha256(new.artifact)
        if let signature = new.signature {
            do {
                try models.signatures.verify(signature, sha256: digest, format: format.rawValue, model: new.model)
            } catch let error as FerryError {
                throw FerryError.invalid("field 'signature': \(error.message)")
            }
        } else if models.signatures.requireForLoad {
            throw FerryError.invalid("field 'signature' is required: this server accepts only models signed by a trusted key (--require-signature); sign with `ferry sign`")
        } else if let alias = new.aliases.first(where: models.signatures.requiredForAliases.contains) {
            throw FerryError(.failedPrecondition, "the new version of model '\(new.model)' is not signed; alias '\(alias)' requires a trusted signature (--require-signed-alias): sign it with `ferry sign` and register with its signature, or register without that alias")
        }
        if try await store.model(named: new.model) == nil {
            do {
                _ = try await createModel(name: new.model, by: new.createdBy)
            } catch let error as FerryError where error.code == .alreadyExists {
                // Created concurrently by another registration: fine.
            }
        }
        let ref = try await artifacts.put(new.artifact)
        let time = now()
        let version = try await store.addVersion(ModelVersion(
            model: new.model, format: format, artifact: ref, inputSchema: schema,
            outputSchema: description.outputSchema, description: new.description, params: new.params,
            metrics: new.metrics, lineage: new.lineage, details: description.details,
            runtimeOptions: new.runtimeOptions, createdBy: new.createdBy,
            createdAt: time, signature: new.signature, features: new.features), aliases: new.aliases, reason: "set at registration"
        ) { stored in
            AuditDraft(
                at: time, actor: stored.createdBy, action: "version.register", target: "\(stored.model)/\(stored.version)",
                after: [
                    "format": .string(stored.format.rawValue), "sha256": .string(stored.artifact.sha256),
                    "size": .number(Double(stored.artifact.size)), "runtime_options": try JSONValue(encoding: stored.runtimeOptions),
                    "signed_by": stored.signature.map { .string($0.keyID) } ?? .null,
                    "aliases": .array(requestedAliases.map { .string($0) }),
                ])
        }
        logger.info("version registered", metadata: [
            "model": "\(version.model)", "version": "\(version.version)", "sha256": "\(ref.sha256)", "by": "\(new.createdBy)"])
        let aliases = try await store.aliases(model: new.model)
        if aliases.contains(where: { $0.version == version.version }) || !aliases.contains(where: { $0.name == Alias.production }) {
            try await models.prepare(version, loaded: predictor)
        }
        try await models.routeChanged(model: new.model)
        return version
    }

    /// What a runtime makes of an artifact (its format detected when nil), without storing anything.
    public func describe(_ artifact: Data, format: ModelFormat?, options: [String: String] = [:]) async throws -> ModelDescription {
        let format = try format ?? runtimes.detectFormat(artifact)
        let runtime = try runtimes.runtime(for: format)
        return try runtime.inspect(try await runtime.prepare(artifact, options: options), options: options)
    }

    public func version(model: String, number: Int) async throws -> ModelVersion {
        _ = try await self.model(named: model)
        guard let version = try await store.version(model: model, number: number) else {
            throw FerryError.notFound("model '\(model)' has no version \(number)")
        }
        return version
    }

    public func versions(model: String) async throws -> [ModelVersion] {
        _ = try await self.model(named: model)
        return try await store.versions(model: model)
    }

    /// Marks a version archived: it is no longer the default and cannot take an alias (an alias that points at it
    /// keeps serving it until moved). Its artifact is kept, so `unarchive` brings it back (archiving by mistake loses
    /// nothing; before, an artifact nothing else held was deleted). A version an endpoint uses (a variant, a shadow,
    /// its fallback, a rollout's candidate) is refused: the endpoint would fail every request it sends there.
    public func archive(model: String, number: Int, by: String) async throws -> ModelVersion {
        _ = try await self.version(model: model, number: number)
        if let endpoints = store as? any EndpointStore {
            let ref = VersionRef(model: model, version: number)
            let candidates = Set(try await endpoints.rollouts().filter { !$0.status.isFinished && $0.candidate == ref }.map(\.endpoint))
            let users = try await endpoints.endpoints().filter { e in
                candidates.contains(e.name) || e.variants.contains { $0.ref == ref } || e.shadows.contains { $0.ref == ref } || e.fallback?.ref == ref
            }
            if !users.isEmpty {
                throw FerryError(
                    .failedPrecondition,
                    "version \(number) of model '\(model)' is used by the endpoint\(users.count == 1 ? "" : "s") \(users.map { "'\($0.name)'" }.joined(separator: ", ")); take it out of \(users.count == 1 ? "it" : "them") (ferry endpoints set, or end its rollout) before archiving it")
            }
        }
        let time = now()
        let archived = try await store.setArchived(model: model, number: number, archived: true) { version in
            AuditDraft(at: time, actor: by, action: "version.archive", target: "\(model)/\(number)", before: ["archived": false], after: ["archived": true])
        }
        models.archived(model: model, version: number)
        try await models.routeChanged(model: model)
        logger.info("version archived", metadata: ["model": "\(model)", "version": "\(number)", "by": "\(by)"])
        return archived
    }

    /// Takes a version out of the archive (MLflow's transition from Archived to another stage, `ferry models
    /// unarchive`). A version archived by an older Ferry may have lost its artifact then: it stays archived.
    public func unarchive(model: String, number: Int, by: String) async throws -> ModelVersion {
        let version = try await self.version(model: model, number: number)
        guard version.archived else { return version }
        guard try await artifacts.contains(sha256: version.artifact.sha256) else {
            throw FerryError(
                .failedPrecondition,
                "version \(number) of model '\(model)' cannot leave the archive: its artifact was deleted when it was archived; register the model file again")
        }
        let time = now()
        let restored = try await store.setArchived(model: model, number: number, archived: false) { _ in
            AuditDraft(at: time, actor: by, action: "version.unarchive", target: "\(model)/\(number)", before: ["archived": true], after: ["archived": false])
        }
        models.unarchived(model: model, version: number)
        try await models.routeChanged(model: model)
        return restored
    }

    // MARK: Aliases

    /// Points an alias at a version. The version is loaded and warmed first, so serving switches without a gap;
    /// a version that cannot load is refused and the alias stays where it was. A protected alias moves only
    /// `approved` (through `Approvals`).
    @discardableResult
    public func setAlias(model: String, alias: String, version number: Int, by: String, reason: String = "", approved: Bool = false) async throws -> AliasEvent {
        try Model.validate(name: alias, field: "alias")
        try await Approvals.refuseIfProtected(protections, .alias(model: model, alias: alias), approved: approved)
        let version = try await self.version(model: model, number: number)
        guard !version.archived else { throw FerryError.archivedTakesNoAlias(model: model, version: number, alias: alias) }
        try models.signatures.checkAlias(alias, version)
        try await models.prepare(version)
        let event = try await store.setAlias(
            model: model, alias: alias, version: number, by: by, at: now(), reason: reason, audit: Self.aliasAudit)
        try await models.routeChanged(model: model)
        logger.info("alias moved", metadata: [
            "model": "\(model)", "alias": "\(alias)", "from": "\(event.from.map(String.init) ?? "-")", "to": "\(number)", "by": "\(by)"])
        return event
    }

    @discardableResult
    public func removeAlias(model: String, alias: String, by: String, reason: String = "", approved: Bool = false) async throws -> AliasEvent {
        _ = try await self.model(named: model)
        try await Approvals.refuseIfProtected(protections, .alias(model: model, alias: alias), approved: approved)
        let event = try await store.setAlias(
            model: model, alias: alias, version: nil, by: by, at: now(), reason: reason, audit: Self.aliasAudit)
        if alias == Alias.production, let fallback = try await store.versions(model: model).last(where: { !$0.archived }) {
            try await models.prepare(fallback)
        }
        try await models.routeChanged(model: model)
        return event
    }

    static let aliasAudit: AuditBuilder<AliasEvent> = { event in
        AuditDraft(
            at: event.at, actor: event.by, action: event.to == nil ? "alias.remove" : "alias.set",
            target: "\(event.model)@\(event.alias)", before: ["version": event.from.map { .number(Double($0)) } ?? .null],
            after: ["version": event.to.map { .number(Double($0)) } ?? .null, "reason": .string(event.reason)])
    }

    public func aliases(model: String) async throws -> [Alias] {
        _ = try await self.model(named: model)
        return try await store.aliases(model: model)
    }

    /// Aliases the signature policy keeps from serving (alias -> why): pointed at a version before the policy
    /// required a signature for them.
    public func blockedAliases(model: String) async throws -> [String: String] {
        try await models.blockedAliases(model: model)
    }

    public func aliasHistory(model: String, alias: String?) async throws -> [AliasEvent] {
        _ = try await self.model(named: model)
        return try await store.aliasHistory(model: model, alias: alias)
    }

    // MARK: Schema

    static func merge(derived: InputSchema, override: InputSchema?) throws -> InputSchema {
        guard let override else { return derived }
        guard override.features.count == derived.features.count else {
            throw FerryError.invalid("inputSchema has \(override.features.count) features but the model reads \(derived.features.count)")
        }
        let derivedNames = derived.featureNames
        let anonymous = derivedNames.enumerated().allSatisfy { $0.element == "f\($0.offset)" }
        var merged = override
        for (i, feature) in override.features.enumerated() {
            // A string input of the model (an ONNX graph's) stays one; everything else must be numeric.
            if feature.datatype != .bytes || derived.features[i].datatype != .bytes { try Model.validateFeature(feature, index: i) }
            if derived.features[i].isText, feature.categories != nil {
                throw FerryError.invalid("inputSchema feature '\(feature.name)' is text the model reads as sent; it takes no categories")
            }
            if !anonymous && feature.name != derivedNames[i] {
                throw FerryError.invalid("inputSchema feature \(i) is '\(feature.name)' but the model names it '\(derivedNames[i])'")
            }
            if feature.categories == nil { merged.features[i].categories = derived.features[i].categories }
        }
        if Set(override.featureNames).count != override.features.count {
            throw FerryError.invalid("inputSchema has duplicate feature names")
        }
        // The model's own named input tensors (an ONNX graph's) are what its clients send.
        merged.tensors = override.tensors ?? derived.tensors
        return merged
    }
}

extension Model {
    static func validateFeature(_ feature: FeatureSpec, index: Int) throws {
        guard !feature.name.isEmpty else { throw FerryError.invalid("inputSchema feature \(index) has an empty name") }
        guard feature.datatype.isNumeric, feature.datatype != .fp16, feature.datatype != .bf16 else {
            throw FerryError.invalid("inputSchema feature '\(feature.name)' has datatype \(feature.datatype.rawValue); tree models take numeric features (FP32, FP64, INT*, UINT*, BOOL)")
        }
    }
}
