import FerryCore
import FerryEngine
import FerryHTTP
import Foundation

/// Everything `ferry serve` can be told, as one value. `FerryServer.build` turns it into a running server's parts;
/// the executable fills it from flags and the tests fill it directly, so both run the same wiring.
public struct ServerConfiguration: Sendable {
    /// Where registry metadata, keys, the audit trail and the prediction log live.
    public enum Store: Sendable {
        /// SQLite files in the data directory (the embedded default); the folder is locked to one server.
        case sqlite
        /// SQLite in memory, artifacts in the data directory: for tests.
        case memory
        /// PostgreSQL at this `postgres://` URL for everything, artifacts included (the data directory caches
        /// them): replicas sharing the database share the state.
        case postgres(url: String)
    }

    /// JWT bearer tokens accepted next to API keys.
    public struct JWT: Sendable {
        public var hs256Secret: String?
        public var publicKeysPEM: [String]
        public var issuer: String?
        public var audience: String?

        public init(hs256Secret: String? = nil, publicKeysPEM: [String] = [], issuer: String? = nil, audience: String? = nil) {
            self.hs256Secret = hs256Secret
            self.publicKeysPEM = publicKeysPEM
            self.issuer = issuer
            self.audience = audience
        }
    }

    /// PEM files for HTTPS.
    public struct TLS: Sendable {
        public var certificateChain: String
        public var privateKey: String

        public init(certificateChain: String, privateKey: String) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    public var store: Store
    public var dataDirectory: URL
    public var host: String
    public var port: Int
    public var serverVersion: String

    /// API keys (and JWTs) required on every route but the health probes; false makes every caller an admin.
    public var authentication: Bool
    /// The first admin key, instead of a random one (FERRY_ADMIN_KEY).
    public var adminKeyPreset: String?
    /// Requests per second per principal of a role; a key's own limit always applies.
    public var rateLimits: [Role: Double]
    public var jwt: JWT?
    public var signatures: SignaturePolicy

    public var serving: ServingPolicy
    public var inference: InferenceLimits
    public var http: HTTPLimits
    public var requestMetrics: Bool
    /// Answers inference requests that need no wait on the connection's event loop (`DirectInference`); off, the
    /// router answers every request.
    public var directInference = true
    /// nil turns the prediction log off (and with it monitoring and alerts).
    public var predictionLog: PredictionLogger.Configuration?
    public var alertInterval: Duration
    public var webhookRetryDelays: [Duration]
    public var rolloutInterval: Duration
    /// This server's name among replicas (in stored rollout figures, logs and /api/v1/cluster).
    public var replicaID: String
    /// How often a replica reads the changes others committed (it also reads at once on a NOTIFY).
    public var changePollInterval: Duration
    /// How often a replica tries to take the lead, and the leader checks its connection.
    public var leadershipInterval: Duration

    public var tls: TLS?
    /// The Open Inference Protocol's gRPC service on this port of `host` (0: any free port); nil turns it off.
    public var grpcPort: Int?
    public var idleTimeout: Duration
    /// Runtimes beyond the built-in XGBoost and LightGBM ones (tests add a fake).
    public var extraRuntimes: [any ModelRuntime]
    /// The programs retraining policies may run as trainers (a policy's first word must be one of them).
    public var trainers: [String]
    /// Folders whose files batch jobs may read by path; none by default (jobs then take uploaded files only).
    public var jobInputDirectories: [String]
    /// Folders whose files feature views may use as sources; none: file sources are refused.
    public var featureSourceDirectories: [String]
    /// Batch jobs that may wait in the queue, across replicas.
    public var maxQueuedJobs: Int
    /// Bytes the loaded model versions may hold together; the least recently used are unloaded past it (nil: no
    /// limit). With `pinAliased`, versions an alias points at are never unloaded for it.
    public var modelMemoryBudget: Int?
    public var pinAliased: Bool
    /// Prices of a CPU hour and a GiB-hour of model memory, for the cost per 1,000 predictions (nil: no cost).
    public var costPrices: CostMeter.Prices

    public init(
        store: Store = .sqlite, dataDirectory: URL, host: String = "127.0.0.1", port: Int = 8080, serverVersion: String,
        authentication: Bool = true, adminKeyPreset: String? = nil, rateLimits: [Role: Double] = [:], jwt: JWT? = nil,
        signatures: SignaturePolicy = .none, serving: ServingPolicy = ServingPolicy(), inference: InferenceLimits = InferenceLimits(),
        http: HTTPLimits = HTTPLimits(), requestMetrics: Bool = true,
        predictionLog: PredictionLogger.Configuration? = PredictionLogger.Configuration(),
        alertInterval: Duration = .seconds(30), webhookRetryDelays: [Duration] = [.seconds(1), .seconds(4), .seconds(16)],
        rolloutInterval: Duration = .seconds(1), replicaID: String = Replica.defaultID, changePollInterval: Duration = .milliseconds(250),
        leadershipInterval: Duration = .seconds(1), tls: TLS? = nil, grpcPort: Int? = nil, idleTimeout: Duration = .seconds(60),
        extraRuntimes: [any ModelRuntime] = [], trainers: [String] = [], jobInputDirectories: [String] = [], featureSourceDirectories: [String] = [], maxQueuedJobs: Int = 100,
        modelMemoryBudget: Int? = nil, pinAliased: Bool = false, costPrices: CostMeter.Prices = CostMeter.Prices()
    ) {
        self.costPrices = costPrices
        self.modelMemoryBudget = modelMemoryBudget
        self.pinAliased = pinAliased
        self.jobInputDirectories = jobInputDirectories
        self.featureSourceDirectories = featureSourceDirectories
        self.maxQueuedJobs = maxQueuedJobs
        self.store = store
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.serverVersion = serverVersion
        self.authentication = authentication
        self.adminKeyPreset = adminKeyPreset
        self.rateLimits = rateLimits
        self.jwt = jwt
        self.signatures = signatures
        self.serving = serving
        self.inference = inference
        self.http = http
        self.requestMetrics = requestMetrics
        self.predictionLog = predictionLog
        self.alertInterval = alertInterval
        self.webhookRetryDelays = webhookRetryDelays
        self.rolloutInterval = rolloutInterval
        self.replicaID = replicaID
        self.changePollInterval = changePollInterval
        self.leadershipInterval = leadershipInterval
        self.tls = tls
        self.grpcPort = grpcPort
        self.idleTimeout = idleTimeout
        self.extraRuntimes = extraRuntimes
        self.trainers = trainers
    }
}
