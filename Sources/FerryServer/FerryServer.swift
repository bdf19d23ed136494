import FerryCore
import FerryEngine
import FerryGRPC
import FerryHTTP
import FerryRuntimes
import FerryStorePostgres
import FerryStoreSQLite
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle

/// Every store port one backend provides.
public typealias FerryStore = MetadataStore & KeyStore & AuditStore & EndpointStore & AlertStore & ObservationStore & FeatureStore & TrackingStore & RetrainStore & BatchJobStore & ApprovalStore & ValidationStore

/// Ferry's composition root: the stores, engine services, router and background services of one server, built
/// from a `ServerConfiguration`. `ferry serve` and the tests both build their server here.
public struct FerryServer: Sendable {
    public let configuration: ServerConfiguration
    public let store: any FerryStore
    public let artifacts: any ArtifactStore
    public let models: ModelManager
    public let registry: Registry
    public let audit: AuditTrail
    /// Keys are managed even with authentication off; they are only checked when it is on.
    public let authenticator: Authenticator
    public let predictionLogger: PredictionLogger?
    public let monitor: ModelMonitor?
    public let endpoints: Endpoints
    public let dataPlane: DataPlane
    public let alerts: AlertManager?
    public let access: AccessControl
    /// Feature definitions, training sets and the online store.
    public let features: FeatureService
    /// Experiment tracking (MLflow's API).
    public let tracking: TrackingService
    /// Retraining policies and jobs (needs the prediction log).
    public let retrainer: Retrainer?
    /// Batch scoring jobs.
    public let jobs: BatchScoring
    /// Protected aliases and endpoints, and the requests to change them.
    public let approvals: Approvals
    /// Expectations of the data a version is trained on or scores, and files checked against them.
    public let validation: DataValidation
    /// CPU and memory per version and principal, and what they cost.
    public let cost: CostMeter
    /// This server among the replicas sharing its store.
    public let replica: Replica
    /// Leadership and change hints, when the store is PostgreSQL.
    let coordinator: PostgresCoordinator?
    /// The gRPC service, when `grpcPort` is set.
    package let grpc: GRPCInferenceServer?
    /// The admin key created on first start, to show once (nil when keys already existed or one was preset).
    public let newAdminKey: String?
    let lock: DataDirectoryLock?
    let logger: Logger
    /// Answers inference on the event loop where it can (nil with `directInference` off).
    public let direct: DirectInference?

    /// Opens the stores (locking the data directory), wires the engine and the router, creates the first admin key
    /// when none exists, loads aliased versions and endpoints, and reports ready.
    public static func build(_ configuration: ServerConfiguration, logger: Logger) async throws -> FerryServer {
        let data = configuration.dataDirectory
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let lock: DataDirectoryLock?
        let store: any FerryStore
        let predictionLog: (any PredictionLog)?
        let local = try LocalArtifactStore(root: data.appendingPathComponent("artifacts"))
        let artifacts: any ArtifactStore
        var coordinator: PostgresCoordinator?
        switch configuration.store {
        case .sqlite:
            lock = try DataDirectoryLock(directory: data)
            store = try SQLiteMetadataStore(path: data.appendingPathComponent("ferry.sqlite").path)
            predictionLog = try configuration.predictionLog.map { _ in
                try SQLitePredictionLog(path: data.appendingPathComponent("predictions.sqlite").path)
            }
            artifacts = local
        case .memory:
            lock = nil
            store = try SQLiteMetadataStore()
            predictionLog = try configuration.predictionLog.map { _ in try SQLitePredictionLog() }
            artifacts = local
        case .postgres(let url):
            // The database is the shared store, artifacts included; the data directory only caches them, so each
            // replica has its own and no lock is taken.
            lock = nil
            let postgres = try await PostgresMetadataStore(url: url, logger: logger)
            store = postgres
            predictionLog = configuration.predictionLog.map { _ in PostgresPredictionLog(sharing: postgres) }
            artifacts = PostgresArtifactStore(sharing: postgres, cache: local)
            coordinator = PostgresCoordinator(url: url, logger: logger, interval: configuration.leadershipInterval)
        }
        // Changes committed from here on are followed; what was committed before is what the loading below reads.
        let head = try await store.latestAuditSeq()
        let runtimes = RuntimeCatalog([XGBoostRuntime(), LightGBMRuntime(), ONNXRuntime(), RemoteRuntime()] + configuration.extraRuntimes)
        let models = ModelManager(
            store: store, artifacts: artifacts, runtimes: runtimes, logger: logger,
            metrics: ServingMetrics(requestMetrics: configuration.requestMetrics), signatures: configuration.signatures,
            serving: configuration.serving, memoryBudget: configuration.modelMemoryBudget, pinAliased: configuration.pinAliased)
        let audit = AuditTrail(store: store, logger: logger)
        let features = FeatureService(
            store: store, database: PostgresFeatureSource(logger: logger), sourceFolders: ReadableFolders(configuration.featureSourceDirectories),
            logger: logger, maxOnlineEntities: configuration.inference.maxRows)
        let registry = Registry(
            store: store, artifacts: artifacts, runtimes: runtimes, models: models, audit: audit, features: features, protections: store, logger: logger)
        let tracking = TrackingService(store: store, artifacts: artifacts, registry: registry, logger: logger)
        let authenticator = Authenticator(store: store, logger: logger)
        let newAdminKey = configuration.authentication ? try await authenticator.bootstrap(preset: configuration.adminKeyPreset) : nil
        if !configuration.authentication { try await authenticator.reload() }
        let predictionLogger = zip(predictionLog, configuration.predictionLog).map { PredictionLogger(log: $0, configuration: $1, logger: logger) }
        try await predictionLogger?.loadHashKey()
        let monitor = predictionLogger.map { ModelMonitor(registry: registry, models: models, log: $0.log, writer: $0) }
        let endpoints = Endpoints(store: store, models: models, monitor: monitor, logger: logger, replica: configuration.replicaID, protections: store)
        let approvals = Approvals(store: store, registry: registry, endpoints: endpoints, logger: logger)
        let cost = CostMeter(prices: configuration.costPrices, metrics: models.metrics)
        let validation = DataValidation(
            store: store, registry: registry, models: models, monitor: monitor, artifacts: artifacts, logger: logger,
            inputFolders: ReadableFolders(configuration.jobInputDirectories))
        let dataPlane = DataPlane(
            models: models, limits: configuration.inference, serverVersion: configuration.serverVersion,
            predictionLog: predictionLogger, endpoints: endpoints, features: features, validation: validation)
        let alerts = monitor.map {
            AlertManager(
                store: store, monitor: $0, metrics: models.metrics, sender: HTTPWebhookSender(), logger: logger, replica: configuration.replicaID,
                retryDelays: configuration.webhookRetryDelays, cost: cost)
        }
        let scheme = configuration.tls == nil ? "http" : "https"
        let host = ["0.0.0.0", "::", ""].contains(configuration.host) ? "127.0.0.1" : configuration.host
        let retrainer = monitor.map {
            Retrainer(
                store: store, registry: registry, models: models, monitor: $0, endpoints: endpoints, approvals: approvals, artifacts: artifacts,
                sender: HTTPWebhookSender(), retryDelays: configuration.webhookRetryDelays, workDirectory: data.appendingPathComponent("retrain"), trainers: configuration.trainers,
                trackingURI: configuration.port == 0 ? nil : "\(scheme)://\(host):\(configuration.port)", logger: logger)
        }
        let jobs = BatchScoring(
            store: store, models: models, endpoints: endpoints, artifacts: artifacts, sender: HTTPWebhookSender(),
            retryDelays: configuration.webhookRetryDelays, inputDirectories: configuration.jobInputDirectories,
            maxQueued: configuration.maxQueuedJobs, logger: logger)
        var jwt: JWTVerifier?
        if let settings = configuration.jwt {
            jwt = try await JWTVerifier(
                hs256Secret: settings.hs256Secret, publicKeysPEM: settings.publicKeysPEM, issuer: settings.issuer, audience: settings.audience)
        }
        let access = AccessControl(
            authenticator: configuration.authentication ? authenticator : nil, jwt: jwt,
            rateLimiter: RateLimiter(defaults: configuration.rateLimits))
        let follower = coordinator.map { _ in
            ChangeFollower(
                audit: store, after: head, models: models, endpoints: endpoints, authenticator: authenticator, features: features, logger: logger)
        }
        let storeName = switch configuration.store {
        case .sqlite: "sqlite"
        case .memory: "memory"
        case .postgres: "postgres"
        }
        let replica = Replica(
            id: configuration.replicaID, store: storeName, leadership: coordinator ?? SoleLeader() as any Leadership, follower: follower)
        await models.warmStart()
        try await endpoints.load()
        dataPlane.setReady(true)
        return FerryServer(
            configuration: configuration, store: store, artifacts: artifacts, models: models, registry: registry, audit: audit,
            authenticator: authenticator, predictionLogger: predictionLogger, monitor: monitor, endpoints: endpoints,
            dataPlane: dataPlane, alerts: alerts, access: access, features: features, tracking: tracking, retrainer: retrainer, jobs: jobs, approvals: approvals, validation: validation, cost: cost, replica: replica, coordinator: coordinator,
            grpc: try configuration.grpcPort.map { port in
                try GRPCInferenceServer(
                    host: configuration.host, port: port, tls: configuration.tls.map { ($0.certificateChain, $0.privateKey) },
                    maxRequestBytes: configuration.http.maxInferenceBodyBytes, service: InferenceService(dataPlane: dataPlane, access: access, cost: cost))
            },
            newAdminKey: newAdminKey, lock: lock, logger: logger,
            direct: configuration.directInference ? DirectInference(
                dataPlane: dataPlane, features: features, access: access, cost: cost, maxBodyBytes: configuration.http.maxInferenceBodyBytes,
                serverName: "ferry", logger: logger) : nil)
    }

    /// The router of the whole HTTP API on this server's parts (built on each call; routers are not Sendable).
    public var router: Router<FerryRequestContext> {
        makeRouter(
            dataPlane: dataPlane, registry: registry, monitor: monitor, alerts: alerts, access: access, replica: replica,
            features: features, tracking: tracking, retrainer: retrainer, jobs: jobs, approvals: approvals, validation: validation, cost: cost, direct: direct, limits: configuration.http)
    }

    /// HTTP/1.1 (HTTPS when a certificate is configured) answering `Expect: 100-continue`, closing connections
    /// silent for the idle timeout. Throws naming the file that cannot be read.
    public static func httpServer(_ configuration: ServerConfiguration, direct: DirectInference? = nil) throws -> HTTPServerBuilder {
        let idleTimeout = TimeAmount.milliseconds(Int64(configuration.idleTimeout / .milliseconds(1)))
        let http = HTTPServerBuilder { responder in FerryHTTP1Channel(responder: responder, idleTimeout: idleTimeout, direct: direct) }
        guard let tls = configuration.tls else { return http }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain)
        } catch {
            throw FerryError.invalid("--tls-cert '\(tls.certificateChain)' is not a readable PEM certificate file (\(error))")
        }
        do {
            key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
        } catch {
            throw FerryError.invalid("--tls-key '\(tls.privateKey)' is not a readable PEM private key file (\(error))")
        }
        guard !chain.isEmpty else { throw FerryError.invalid("--tls-cert '\(tls.certificateChain)' holds no certificate") }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // TLS 1.0 and 1.1 are deprecated (RFC 8996); NIOSSL's default still accepts them.
        configuration.minimumTLSVersion = .tlsv12
        return try .tls(http, tlsConfiguration: configuration)
    }

    /// The HTTP application on the configured address.
    public func application(
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        Application(
            router: router,
            server: try Self.httpServer(configuration, direct: direct),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ferry"),
            onServerRunning: onServerRunning,
            logger: logger)
    }

    /// The services that run beside the HTTP server: the prediction log's writer, alert evaluation, rollouts and,
    /// on PostgreSQL, leadership and following other replicas' changes. Alert evaluation, retention and the
    /// rollout controller act only while this replica leads.
    public var backgroundServices: [any Service] {
        let leadership = replica.leadership
        var services: [any Service] = []
        if let predictionLogger { services.append(PredictionLogService(logger: predictionLogger, leadership: leadership)) }
        if let coordinator { services.append(CoordinatorService(coordinator: coordinator)) }
        if let follower = replica.follower {
            services.append(FollowerService(follower: follower, interval: configuration.changePollInterval, hints: coordinator?.hints))
        }
        if let alerts { services.append(AlertService(alerts: alerts, interval: configuration.alertInterval, leadership: leadership)) }
        if let retrainer { services.append(RetrainService(retrainer: retrainer, interval: .seconds(5), leadership: leadership)) }
        services.append(BatchJobService(jobs: jobs, interval: .seconds(1), leadership: leadership))
        services.append(CostService(cost: cost, interval: .seconds(10)))
        services.append(ApprovalExpiryService(approvals: approvals, leadership: leadership))
        services.append(RolloutService(endpoints: endpoints, store: store, interval: configuration.rolloutInterval, leadership: leadership))
        return services
    }

    /// Serves until SIGTERM or SIGINT, then drains: readiness turns false first, in-flight requests finish, the
    /// prediction log writes what they queued.
    public func run(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) async throws {
        // Shutdown runs in reverse order, so the prediction log, first here, stops last.
        let services = backgroundServices + [try application(onServerRunning: onServerRunning)] + (grpc.map { [$0] } ?? [])
            + [ReadinessService(dataPlane: dataPlane, logger: logger)]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
