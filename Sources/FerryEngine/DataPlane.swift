import FerryCore
import Foundation
import Synchronization

/// Server metadata in the shape of the Open Inference Protocol.
public struct ServerMetadata: Sendable, Equatable {
    public var name: String
    public var version: String
    public var extensions: [String]
}

/// Model metadata in the shape of the Open Inference Protocol (`-1` marks a variable dimension).
public struct ModelMetadata: Sendable, Equatable {
    public struct TensorMetadata: Sendable, Equatable {
        public var name: String
        public var datatype: DataType
        public var shape: [Int]
    }

    public var name: String
    public var versions: [String]
    public var platform: String
    public var inputs: [TensorMetadata]
    public var outputs: [TensorMetadata]
    /// The version the request resolved to and its features, for clients that send one tensor per feature.
    public var resolvedVersion: Int
    public var features: [FeatureSpec]
}

/// The inference API, shared by every transport: health, metadata and inference, V2-shaped, with no HTTP in it.
public final class DataPlane: Sendable {
    public let models: ModelManager
    public let limits: InferenceLimits
    public let serverName: String
    public let serverVersion: String
    /// Where served predictions are recorded; nil disables the prediction log.
    public let predictionLog: PredictionLogger?
    /// Named endpoints that spread traffic over versions; a request naming one is routed by it.
    public let endpoints: Endpoints?
    /// Supplies the features a version declares, from the online store.
    public let features: FeatureService?
    /// Each version's expectations, whose ranges and categories every request's rows are checked against.
    let validation: DataValidation?
    /// Each version's checks, as last read (they are read again after `checksLifetime`, so edits on any replica
    /// take effect).
    private let checks = Mutex<[VersionRef: (checks: InputChecks, read: ContinuousClock.Instant)]>([:])
    static let checksLifetime: Duration = .seconds(30)
    private let isReady = Mutex(false)

    public init(
        models: ModelManager, limits: InferenceLimits = InferenceLimits(), serverName: String = "ferry", serverVersion: String,
        predictionLog: PredictionLogger? = nil, endpoints: Endpoints? = nil, features: FeatureService? = nil, validation: DataValidation? = nil
    ) {
        self.validation = validation
        self.features = features
        self.endpoints = endpoints
        self.models = models
        self.limits = limits
        self.serverName = serverName
        self.serverVersion = serverVersion
        self.predictionLog = predictionLog
    }

    /// A time-ordered 128-bit id in UUID text form (version-7 layout: 48 bits of Unix milliseconds, then random
    /// bits), built without Foundation's formatting. Ids that grow with time keep the log's index appends cheap.
    static func predictionID(now: Date = Date()) -> String {
        let (r1, r2) = randomBits.withLock { $0.next() }
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let high = (millis << 16) | 0x7000 | (r1 & 0x0FFF)
        let low = (r2 & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        let hex = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
        var i = 0
        for word in [high, low] {
            for k in 0..<16 {
                if i == 8 || i == 13 || i == 18 || i == 23 { i += 1 }   // the dashes of the 8-4-4-4-12 form
                bytes[i] = hex[Int((word >> UInt64(60 - 4 * k)) & 0xF)]
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The system's random bits, fetched 4 KiB at a time (`arc4random_buf`, one `getrandom` call):
    /// `SystemRandomNumberGenerator` makes a call per word, and two per prediction id were 1% of a request's CPU time.
    private static let randomBits = Mutex(RandomBits())

    struct RandomBits {
        private var words = [UInt64](repeating: 0, count: 512)
        private var used = 512

        mutating func next() -> (UInt64, UInt64) {
            if used + 2 > words.count {
                words.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
                used = 0
            }
            defer { used += 2 }
            return (words[used], words[used + 1])
        }
    }

    // MARK: Health

    public var live: Bool { true }
    public var ready: Bool { isReady.withLock { $0 } }

    /// Marks the server ready (after start-up loading) or not (while draining).
    public func setReady(_ value: Bool) { isReady.withLock { $0 = value } }

    public var serverMetadata: ServerMetadata {
        ServerMetadata(name: serverName, version: serverVersion, extensions: ["binary_tensor_data"])
    }

    // MARK: Models

    public func modelMetadata(model: String, version: String?) async throws -> ModelMetadata {
        if version == nil, let endpoint = endpoints?.endpoint(named: model), let endpoints {
            // An endpoint describes itself by the version its failed requests fall back to.
            let primary = endpoints.primary(of: endpoint)
            var metadata = try await modelMetadata(model: primary.model, version: String(primary.version))
            metadata.name = model
            metadata.versions = endpoint.variants.map(\.ref.description)
            return metadata
        }
        let v = try await models.version(model: model, selector: VersionSelector(parsing: version))
        let all = try await models.servableVersions(model: model)
        return ModelMetadata(
            name: model, versions: all.map(String.init), platform: Self.platform(v.format),
            inputs: v.inputSchema.tensors?.map { .init(name: $0.name, datatype: $0.datatype, shape: [-1] + $0.perRowShape) }
                ?? [.init(name: InputSchema.matrixInputName, datatype: .fp32, shape: [-1, v.inputSchema.features.count])],
            outputs: v.outputSchema.outputs.map { .init(name: $0.name, datatype: $0.datatype, shape: [-1] + $0.shape) },
            resolvedVersion: v.version, features: v.inputSchema.features)
    }

    /// A version is ready when it is loaded and warmed; asking loads it (models load at first use).
    public func modelReady(model: String, version: String?) async throws -> Bool {
        if version == nil, let endpoint = endpoints?.endpoint(named: model) {
            for variant in endpoint.variants where variant.weight > 0 {
                guard try await modelReady(model: variant.model, version: String(variant.version)) else { return false }
            }
            return true
        }
        do {
            _ = try await models.served(model: model, selector: VersionSelector(parsing: version), bounded: true)
            return true
        } catch let error as FerryError where error.code == .unavailable {
            return false
        }
    }

    // MARK: Inference

    /// Runs a V2 inference request: resolves the version, checks the inputs against its schema, predicts, and
    /// returns the requested outputs.
    /// Runs a V2 request on a model version, or through an endpoint when `model` names one (see `CallOptions`).
    public func infer(model: String, version: String?, request: InferenceRequest, options: CallOptions = CallOptions()) async throws -> InferenceResponse {
        if version == nil, let endpoints, let endpoint = endpoints.endpoint(named: model) {
            let rows = request.inputs.first?.shape.first ?? 1
            var response = try await routed(endpoint, endpoints, options, mirror: request, cacheKey: PredictionCache.canonical(request)) { variant in
                var response = try await self.inferOnVersion(model: variant.model, version: String(variant.version), request: request)
                response.modelName = endpoint.name
                return (response, Self.firstOutput(response.outputs))
            } constant: { value, spec in
                let data: TensorData = spec?.datatype == .fp32 ? .float32(Array(repeating: Float(value), count: rows)) : .float64(Array(repeating: value, count: rows))
                return InferenceResponse(
                    modelName: endpoint.name, modelVersion: nil, id: request.id,
                    outputs: [Tensor(name: spec?.name ?? "predict", datatype: spec?.datatype == .fp32 ? .fp32 : .fp64, shape: [rows], data: data)])
            } mark: { response, serving in
                // The version's own prediction id stays; a cached answer gets its own below.
                let id = response.serving.predictionID
                response.serving = serving
                response.serving.predictionID = serving.cached ? nil : id
            }
            if response.serving.cached, let ref = response.serving.servedBy {
                response.serving.predictionID = await recordCached(ref, request, response.outputs)
            }
            return response
        }
        return try await Self.withDeadline(options.timeout.flatMap { $0 > 0 ? $0 : nil }) {
            try await self.inferOnVersion(model: model, version: version, request: request)
        }
    }

    private func inferOnVersion(model: String, version: String?, request: InferenceRequest) async throws -> InferenceResponse {
        let start = ContinuousClock.now
        let served = try await resolve(model: model, version: version)
        // Written out rather than through closures: this is the hot path, and generic async closures cost
        // runtime metadata lookups and task hops on every request.
        try admit(served, since: start)
        do {
            var inputs = request.inputs
            if !served.version.features.isEmpty {
                inputs = try await requireFeatures(served).join(inputs, refs: served.version.features, schema: served.version.inputSchema)
            }
            let batch = try served.version.inputSchema.matrix(from: inputs, limits: limits)
            let outputs = try await served.predict(batch)
            let checks = await inputChecks(served)
            let background = Self.asksContributions(request) && served.predictor is any BackgroundExplainer ? try await background(served) : nil
            return try answer(served, model: model, request: request, batch: batch, outputs: outputs, checks: checks, background: background, since: start)
        } catch {
            served.metrics.recordError((error as? FerryError)?.code ?? .internal, seconds: ModelManager.seconds(ContinuousClock.now - start))
            served.admission.exit(error)
            throw error
        }
    }

    /// A version that can answer a request at once: loaded, predicting in the caller's thread (no batcher, not
    /// remote), reading no features, with its input checks in hand.
    public struct ReadyVersion: Sendable {
        let served: ModelManager.Served
        let checks: InputChecks?

        /// Whether `request` asks for contributions this version measures against its reference's background,
        /// which must be read first (then `infer` answers it).
        public func needsBackground(_ request: InferenceRequest) -> Bool {
            DataPlane.asksContributions(request) && served.predictor is any BackgroundExplainer
        }
    }

    /// The version a V2 request names when answering it needs no wait, or nil: the request names an endpoint, or
    /// the version must be resolved, loaded, batched, called remotely, joined with features or have its
    /// expectations read first. Then `infer` answers it. Nothing is counted or changed but the version's use.
    public func readyVersion(model: String, version: String?) -> ReadyVersion? {
        if version == nil, endpoints?.endpoint(named: model) != nil { return nil }
        guard let selector = try? VersionSelector(parsing: version),
              let served = models.servedNow(model: model, selector: selector),
              served.predictsNow, served.version.features.isEmpty,
              case .some(let checks) = cachedChecks(served)
        else { return nil }
        return ReadyVersion(served: served, checks: checks)
    }

    /// Answers a V2 request on a ready version without suspending: the same checks, metrics, prediction log and
    /// errors as `infer`, for a transport that answers on its I/O thread. No deadline applies (nothing waits).
    public func infer(_ ready: ReadyVersion, model: String, request: InferenceRequest) throws -> InferenceResponse {
        let start = ContinuousClock.now
        let served = ready.served
        try admit(served, since: start)
        do {
            let batch = try served.version.inputSchema.matrix(from: request.inputs, limits: limits)
            let outputs = try served.predictor.predict(batch)
            return try answer(served, model: model, request: request, batch: batch, outputs: outputs, checks: ready.checks, since: start)
        } catch {
            served.metrics.recordError((error as? FerryError)?.code ?? .internal, seconds: ModelManager.seconds(ContinuousClock.now - start))
            served.admission.exit(error)
            throw error
        }
    }

    /// The response to a predicted request: contributions if asked, the requested outputs, input findings counted,
    /// the prediction logged, success counted and the version's admission released.
    private func answer(
        _ served: ModelManager.Served, model: String, request: InferenceRequest, batch: FeatureMatrix, outputs predicted: [Tensor],
        checks: InputChecks?, background: FeatureMatrix? = nil, since start: ContinuousClock.Instant
    ) throws -> InferenceResponse {
        var outputs = predicted
        if let asked = request.parameters[Self.contributionsParameter], asked.boolValue == nil {
            throw FerryError.invalid("parameter 'contributions' must be a boolean (true or false)")
        }
        if Self.asksContributions(request) {
            let (values, groups) = try contributions(served, batch, background: background)
            let width = batch.columns + 1
            outputs.append(Tensor(
                name: Self.contributionsOutput, datatype: .fp64,
                shape: groups == 1 ? [batch.rows, width] : [batch.rows, groups, width], data: .float64(values)))
        }
        if let requested = request.outputs {
            outputs = try requested.map { wanted in
                guard var tensor = outputs.first(where: { $0.name == wanted.name }) else {
                    let names = outputs.map { "'\($0.name)'" }.joined(separator: ", ")
                    throw FerryError.invalid("requested output '\(wanted.name)' does not exist; this model returns \(names)")
                }
                // Triton's classification extension answers "score:index" strings; ignored, the numbers would be
                // read as those. Refused, so a client asking for it knows.
                if wanted.parameters["classification"] != nil {
                    throw FerryError(
                        .unsupported,
                        "requested output '\(wanted.name)': the classification extension (parameter 'classification', tritonclient's class_count) is not supported; ask without it and read the output's numbers")
                }
                tensor.parameters = wanted.parameters
                return tensor
            }
        }
        var response = InferenceResponse(
            modelName: model, modelVersion: String(served.version.version), id: request.id, outputs: outputs)
        let findings = inputFindings(checks, served, batch)
        response.serving.predictionID = record(served, batch, outputs, flags: findings?.flags ?? [], since: start)
        served.metrics.recordSuccess(rows: batch.rows, seconds: ModelManager.seconds(ContinuousClock.now - start))
        served.admission.exit(nil)
        return response
    }

    /// Runs V1 instances; returns the version that answered and one prediction per instance (a number for a
    /// scalar output, a list for a vector output).
    public func predict(model: String, version: String?, instances: [Instance], options: CallOptions = CallOptions()) async throws -> Prediction {
        if version == nil, let endpoints, let endpoint = endpoints.endpoint(named: model) {
            return try await routed(endpoint, endpoints, options, mirror: nil, cacheKey: nil) { variant in
                let result = try await self.predictOnVersion(model: variant.model, version: String(variant.version), instances: instances)
                let outputs = result.predictions.compactMap { value -> Double? in
                    if case .number(let n) = value { return n }
                    if case .array(let a) = value, case .number(let n)? = a.first { return n }
                    return nil
                }
                return (result, outputs)
            } constant: { value, _ in
                Prediction(version: nil, predictions: Array(repeating: .number(value), count: instances.count), predictionID: nil)
            } mark: { result, serving in
                let id = result.serving.predictionID
                result.serving = serving
                result.serving.predictionID = id
            }
        }
        return try await Self.withDeadline(options.timeout.flatMap { $0 > 0 ? $0 : nil }) {
            try await self.predictOnVersion(model: model, version: version, instances: instances)
        }
    }

    private func predictOnVersion(model: String, version: String?, instances: [Instance]) async throws -> Prediction {
        let start = ContinuousClock.now
        let served = try await resolve(model: model, version: version)
        try admit(served, since: start)
        do {
            guard !instances.isEmpty else { throw FerryError.invalid("instances is empty; send at least one row") }
            var rows = instances
            if !served.version.features.isEmpty {
                rows = try await requireFeatures(served).join(rows, refs: served.version.features, schema: served.version.inputSchema)
            }
            let batch = try served.version.inputSchema.matrix(from: rows, limits: limits)
            let outputs = try await served.predict(batch)
            guard let first = outputs.scores else { throw FerryError(.internal, "model returned no output") }
            let values: [Double] = switch first.data {
            case .float32(let v): v.map(Double.init)
            case .float64(let v): v
            default: throw FerryError(.internal, "model returned a non-float output")
            }
            let width = first.shape.dropFirst().reduce(1, *)
            let predictions: [JSONValue] = (0..<batch.rows).map { r in
                if first.shape.count == 1 { return .number(values[r]) }
                return .array((0..<width).map { .number(values[r * width + $0]) })
            }
            let findings = inputFindings(await inputChecks(served), served, batch)
            let id = record(served, batch, outputs, flags: findings?.flags ?? [], since: start)
            served.metrics.recordSuccess(rows: batch.rows, seconds: ModelManager.seconds(ContinuousClock.now - start))
            served.admission.exit(nil)
            return Prediction(version: served.version.version, predictions: predictions, predictionID: id)
        } catch {
            served.metrics.recordError((error as? FerryError)?.code ?? .internal, seconds: ModelManager.seconds(ContinuousClock.now - start))
            served.admission.exit(error)
            throw error
        }
    }

    /// Logs an answer an endpoint's cache gave (it is a prediction the caller acts on, and feedback may name it)
    /// and returns its own prediction id. The answer's inputs are validated against the version as any request's.
    private func recordCached(_ ref: VersionRef, _ request: InferenceRequest, _ outputs: [Tensor]) async -> String? {
        guard predictionLog != nil,
              let served = try? await models.served(model: ref.model, selector: .number(ref.version)),
              let batch = try? served.version.inputSchema.matrix(from: request.inputs, limits: limits)
        else { return nil }
        let modelOutputs = outputs.filter { $0.name != Self.contributionsOutput }
        return record(served, batch, modelOutputs, flags: [], since: .now)
    }

    /// A version's input checks (read from its expectations when not read within `checksLifetime`); nil when
    /// validation is off, the version has no expectations or they cannot be read (a store outage leaves requests
    /// unchecked rather than failing them).
    private func inputChecks(_ served: ModelManager.Served) async -> InputChecks? {
        if case .some(let checks) = cachedChecks(served) { return checks }
        guard let validation, let expectations = try? await validation.expectations(of: served.version) else { return nil }
        let made = InputChecks(schema: served.version.inputSchema, expectations: expectations)
        checks.withLock { $0[VersionRef(model: served.version.model, version: served.version.version)] = (made, .now) }
        return made
    }

    /// The version's input checks when no read is needed: `.some(nil)` with validation off, nil when they must be
    /// read first.
    private func cachedChecks(_ served: ModelManager.Served) -> InputChecks?? {
        guard validation != nil else { return .some(nil) }
        let ref = VersionRef(model: served.version.model, version: served.version.version)
        let now = ContinuousClock.now
        return checks.withLock { all -> InputChecks?? in
            guard let entry = all[ref], now - entry.read < Self.checksLifetime else { return nil }
            return .some(entry.checks)
        }
    }

    /// What the checks find in a request's rows (out-of-range values, unknown categories), counted in the
    /// version's metrics; nil when nothing was found.
    private func inputFindings(_ checks: InputChecks?, _ served: ModelManager.Served, _ batch: FeatureMatrix) -> InputChecks.Findings? {
        guard let findings = checks?.check(batch), !findings.isEmpty else { return nil }
        served.metrics.recordInputs(findings)
        return findings
    }

    /// Forgets the checks of a model's versions, so the next request reads their expectations again.
    public func expectationsChanged(model: String) {
        checks.withLock { all in all = all.filter { $0.key.model != model } }
    }

    /// Logs a served request (when the log is on and the request is sampled) and returns its prediction id.
    private func record(
        _ served: ModelManager.Served, _ batch: FeatureMatrix, _ outputs: [Tensor], flags: [[String]], since start: ContinuousClock.Instant
    ) -> String? {
        guard let log = predictionLog else { return nil }
        let id = Self.predictionID()
        guard log.sampled(), let first = outputs.scores else { return id }
        let values: [Double] = switch first.data {
        case .float32(let v): v.map(Double.init)
        case .float64(let v): v
        default: []
        }
        let width = batch.rows > 0 ? values.count / batch.rows : 0
        let schema = served.version.inputSchema
        let key = log.hashKey
        log.submit(PredictionRecord(
            id: id, model: served.version.model, version: served.version.version, at: Date(),
            latencyMicros: Int(ModelManager.seconds(ContinuousClock.now - start) * 1e6),
            inputs: (0..<batch.rows).map { PredictionLogger.storedRow(batch, row: $0, schema: schema, key: key) },
            outputs: (0..<batch.rows).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }, flags: flags))
        return id
    }

    /// Explains V1 instances: per instance (and per class for multi-class models) each feature's contribution to
    /// the raw output, plus the bias they are measured from.
    public func explain(model: String, version: String?, instances: [Instance]) async throws -> (version: Int, explanations: [JSONValue]) {
        if version == nil, let endpoints, let endpoint = endpoints.endpoint(named: model) {
            // An endpoint explains with the version its failed requests fall back to.
            let primary = endpoints.primary(of: endpoint)
            return try await explain(model: primary.model, version: String(primary.version), instances: instances)
        }
        let start = ContinuousClock.now
        let served = try await resolve(model: model, version: version)
        var rows = instances
        if !served.version.features.isEmpty {
            rows = try await requireFeatures(served).join(rows, refs: served.version.features, schema: served.version.inputSchema)
        }
        let background = served.predictor is any BackgroundExplainer ? try await background(served) : nil
        return try measured(served, since: start) {
            guard !rows.isEmpty else { throw FerryError.invalid("instances is empty; send at least one row") }
            let batch = try served.version.inputSchema.matrix(from: rows, limits: limits)
            let (values, groups) = try contributions(served, batch, background: background)
            let names = served.version.inputSchema.featureNames
            let width = names.count + 1
            let explanations: [JSONValue] = (0..<batch.rows).map { r in
                let perGroup: [JSONValue] = (0..<groups).map { g in
                    let base = (r * groups + g) * width
                    var members: [String: JSONValue] = [:]
                    for (f, name) in names.enumerated() { members[name] = .number(values[base + f]) }
                    return .object(["contributions": .object(members), "bias": .number(values[base + names.count])])
                }
                return groups == 1 ? perGroup[0] : .array(perGroup)
            }
            return ((served.version.version, explanations), batch.rows)
        }
    }

    private func requireFeatures(_ served: ModelManager.Served) throws -> FeatureService {
        guard let features else {
            throw FerryError(.unavailable, "model '\(served.version.model)' version \(served.version.version) reads features from the feature store, which this server does not run")
        }
        return features
    }

    /// Resolves the version a request names; failures here are counted without a version label.
    private func resolve(model: String, version: String?) async throws -> ModelManager.Served {
        do {
            return try await models.served(model: model, selector: VersionSelector(parsing: version), bounded: true)
        } catch {
            models.metrics.recordUnresolved((error as? FerryError)?.code ?? .internal)
            throw error
        }
    }

    /// Admits a request to a version (counting a refusal as an error of its kind: rate_limited, unavailable).
    private func admit(_ served: ModelManager.Served, since start: ContinuousClock.Instant) throws {
        do {
            try served.admission.enter()
        } catch {
            served.metrics.recordError((error as? FerryError)?.code ?? .internal, seconds: ModelManager.seconds(ContinuousClock.now - start))
            throw error
        }
    }

    /// Runs a request's work against a resolved version, counting it (rows, latency, or the error's kind).
    private func measured<T>(_ served: ModelManager.Served, since start: ContinuousClock.Instant, _ body: () throws -> (T, Int)) throws -> T {
        do {
            let (result, rows) = try body()
            served.metrics.recordSuccess(rows: rows, seconds: ModelManager.seconds(ContinuousClock.now - start))
            return result
        } catch {
            served.metrics.recordError((error as? FerryError)?.code ?? .internal, seconds: ModelManager.seconds(ContinuousClock.now - start))
            throw error
        }
    }

    /// Request parameter (`"parameters": {"contributions": true}`) that adds the `contributions` output.
    public static let contributionsParameter = "contributions"
    public static let contributionsOutput = "contributions"

    /// Whether a V2 request asks for the `contributions` output (by parameter or by naming the output).
    static func asksContributions(_ request: InferenceRequest) -> Bool {
        request.parameters[contributionsParameter]?.boolValue == true || request.outputs?.contains(where: { $0.name == contributionsOutput }) == true
    }

    private func contributions(_ served: ModelManager.Served, _ batch: FeatureMatrix, background: FeatureMatrix?) throws -> (values: [Double], groups: Int) {
        if let explainer = served.predictor as? any Explainer { return try explainer.contributions(batch) }
        if let explainer = served.predictor as? any BackgroundExplainer, let background {
            return try explainer.contributions(batch, background: background)
        }
        throw FerryError(.unsupported, "model '\(served.version.model)' version \(served.version.version) (\(served.version.format)) cannot explain its predictions")
    }

    /// The rows a version's explanations are measured against: its reference sample's background, read from the
    /// store each time (so every replica explains against the one most recently set).
    private func background(_ served: ModelManager.Served) async throws -> FeatureMatrix {
        let v = served.version
        guard let profile = try await models.store.referenceProfile(model: v.model, version: v.version),
              let rows = profile.background, !rows.isEmpty
        else {
            throw FerryError(.failedPrecondition, "model '\(v.model)' version \(v.version) explains its predictions against a background sample of its reference, and it has none: upload its training or validation sample first (ferry monitor reference \(v.model) \(v.version) --csv FILE)")
        }
        let width = v.inputSchema.features.count
        guard rows.allSatisfy({ $0.count == width }) else {
            throw FerryError(.failedPrecondition, "the reference background of model '\(v.model)' version \(v.version) does not have its \(width) features; set the reference again")
        }
        return FeatureMatrix(rows: rows.count, columns: width, values: rows.flatMap { $0 })
    }

    static func platform(_ format: ModelFormat) -> String {
        format.rawValue.replacingOccurrences(of: "-", with: "_")
    }
}

extension ModelManager {
    /// Version numbers that can be served by number (not archived).
    func servableVersions(model: String) async throws -> [Int] {
        try await store.versions(model: model).filter { !$0.archived }.map(\.version)
    }
}
