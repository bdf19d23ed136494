import ArgumentParser
import FerryCore
import FerryEngine
import FerryHTTP
import FerryServer
import Foundation
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the registry and inference server on embedded defaults (SQLite + a local artifact folder).",
        discussion: """
            Data lives in --data-dir: ferry.sqlite (registry metadata, API keys, audit trail), predictions.sqlite
            and artifacts/ (model files by SHA-256).

            Every route but the health probes needs an API key ('Authorization: Bearer <key>' or 'X-API-Key').
            On first start Ferry creates an admin key and prints it once; set FERRY_ADMIN_KEY (24+ characters) to
            choose it instead. `--auth none` turns authentication off, and is refused on a non-loopback address
            unless --allow-insecure-remote is given too.

            SIGINT/SIGTERM stop accepting connections, finish in-flight requests, then exit.
            """
    )

    @Option(name: .customLong("trainer"), help: "A command retraining policies may run as their trainer, or its first words (repeatable): --trainer 'python3 /opt/ml/train.py' admits that script with any arguments, --trainer python3 any python3 command. None by default: a policy runs only what the operator allows here. Trainers get PATH, HOME, the locale, TMPDIR, PYTHONPATH, VIRTUAL_ENV and MLFLOW_* of the server's environment, never its secrets.")
    var trainers: [String] = []

    @Option(name: .customLong("job-input-dir"), help: "A folder whose files batch jobs and data validations may read by path (repeatable). None by default: both then take uploaded files only.")
    var jobInputDirectories: [String] = []

    @Option(name: .customLong("feature-source-dir"), help: "A folder whose CSV and JSON Lines files feature views may use as sources (repeatable). None by default (file sources are refused; PostgreSQL sources and pushes work); --example adds the example's folder.")
    var featureSourceDirectories: [String] = []

    @Option(name: .customLong("model-memory-budget"), help: "MiB the loaded model versions may hold together; past it the least recently used are unloaded and reloaded on their next request (0: no limit).")
    var modelMemoryBudget = 0

    @Option(name: .customLong("cold-load-wait"), help: "Seconds a request waits for a version that is not in memory to load; past it the answer is 503 with Retry-After and the load goes on.")
    var coldLoadWait = 5.0

    @Flag(name: .customLong("pin-aliased"), help: "Never unload a version an alias points at to stay within --model-memory-budget.")
    var pinAliased = false

    @Option(name: .customLong("cost-per-cpu-hour"), help: "Price of one CPU hour: with it, /metrics, GET /api/v1/cost and `ferry cost report` give the cost per 1,000 predictions per model and per client.")
    var costPerCPUHour: Double?

    @Option(name: .customLong("cost-per-gib-hour"), help: "Price of one GiB of model memory held for an hour (added to each model's cost).")
    var costPerGiBHour: Double?

    @Option(name: .customLong("max-queued-jobs"), help: "Batch jobs that may wait in the queue; more are refused with 503.")
    var maxQueuedJobs = 100

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(name: .customLong("grpc-port"), help: "Port of the Open Inference Protocol's gRPC service on the same address, with the same TLS (0 turns it off).")
    var grpcPort = 8081

    @Option(name: .customLong("data-dir"), help: "Folder for the registry database and artifacts.")
    var dataDir = ".ferry"

    @Option(name: .customLong("database-url"), help: "PostgreSQL to keep metadata, keys, audit, endpoints, alerts and the prediction log in, as postgres://user[:password]@host[:port]/database[?sslmode=disable|require] (default: $FERRY_DATABASE_URL, else SQLite in --data-dir). Model artifacts go there too; --data-dir only caches them, so replicas sharing the database need no shared folder.")
    var databaseURL: String?

    @Option(name: .customLong("replica-id"), help: "This server's name among replicas sharing --database-url (default: $FERRY_REPLICA_ID, else the host name and process id).")
    var replicaID: String?

    @Option(help: "Register the example model in this folder (model.json) as 'fraud' if it is not registered yet.")
    var example: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("max-rows"), help: "Most rows one inference request may carry.")
    var maxRows = 10_000

    @Option(name: .customLong("max-body-mb"), help: "Largest inference request body, in MiB.")
    var maxBodyMB = 32

    @Option(name: .customLong("request-metrics"), help: "Count every inference request in /metrics: on or off.")
    var requestMetrics = "on"

    @Option(name: .customLong("direct-inference"), help: "Answer V2 inference requests to loaded models on the connection's I/O thread, without the router (same auth, limits, metrics and answers): on or off.")
    var directInference = "on"

    @Option(name: .customLong("log-sample-rate"), help: "Share of inference requests recorded in the prediction log (0 turns it off, 1 logs all).")
    var logSampleRate = 1.0

    @Option(name: .customLong("log-retention-days"), help: "Prediction log records older than this are deleted.")
    var logRetentionDays = 30.0

    @Option(name: .customLong("log-max-records"), help: "At most this many prediction log records are kept.")
    var logMaxRecords = 10_000_000

    @Option(name: .customLong("alert-interval"), help: "Seconds between evaluations of the alert rules.")
    var alertInterval = 30.0

    @Option(name: .customLong("max-concurrent"), help: "Requests one model version may hold at once; more are refused with 429 and Retry-After.")
    var maxConcurrent = 1024

    @Option(name: .customLong("breaker-threshold"), help: "Consecutive failures or timeouts that open a version's circuit breaker.")
    var breakerThreshold = 5

    @Option(name: .customLong("breaker-cooldown"), help: "Seconds an open breaker refuses a version before trying it again.")
    var breakerCooldown = 10.0

    @Option(name: .customLong("batch-max-rows"), help: "Dynamic batching: merge concurrent requests to a version up to this many rows (0: off, the default; see benchmarks/serve for when it helps).")
    var batchMaxRows = 0

    @Option(name: .customLong("batch-max-delay-ms"), help: "Dynamic batching: 0 (the default) runs a request at once when the version is idle and merges those that arrive while it is busy; above 0, requests wait up to this long for a batch to fill.")
    var batchMaxDelayMs = 0.0

    @Option(name: .customLong("rollout-interval"), help: "Seconds between evaluations of running rollouts' gates.")
    var rolloutInterval = 1.0

    @Option(help: "Authentication: 'keys' (API keys, the default) or 'none' (everyone acts as admin; loopback only).")
    var auth = "keys"

    @Flag(name: .customLong("allow-insecure-remote"), help: "Allow --auth none on a non-loopback address.")
    var allowInsecureRemote = false

    @Option(name: .customLong("rate-limit"), help: "Requests per second per principal of a role, as ROLE=N (repeatable), e.g. predictor=1000. A key's own limit takes precedence.")
    var rateLimit: [String] = []

    @Option(name: .customLong("trusted-key"), help: "Public key file (NAME.pub.json from `ferry sign keygen`) whose model signatures are trusted (repeatable).")
    var trustedKey: [String] = []

    @Flag(name: .customLong("require-signature"), help: "Register and load only versions signed by a trusted key.")
    var requireSignature = false

    @Option(name: .customLong("require-signed-alias"), help: "Only a version signed by a trusted key may take this alias, e.g. production (repeatable).")
    var requireSignedAlias: [String] = []

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve HTTPS (with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may stay silent (slow or idle clients) before it is closed.")
    var idleTimeout = 60.0

    @Option(name: .customLong("jwt-hs256-secret-file"), help: "File holding an HS256 secret (32+ bytes): accept JWT bearer tokens signed with it.")
    var jwtSecretFile: String?

    @Option(name: .customLong("jwt-public-key"), help: "PEM RSA (RS256) or P-256 (ES256) public key: accept JWTs it signed (repeatable).")
    var jwtPublicKey: [String] = []

    @Option(name: .customLong("jwt-issuer"), help: "Required 'iss' claim of JWTs.")
    var jwtIssuer: String?

    @Option(name: .customLong("jwt-audience"), help: "Required 'aud' claim of JWTs.")
    var jwtAudience: String?

    func validate() throws {
        guard maxQueuedJobs >= 1 else { throw ValidationError("--max-queued-jobs must be at least 1") }
        for (flag, price) in [("--cost-per-cpu-hour", costPerCPUHour), ("--cost-per-gib-hour", costPerGiBHour)] {
            if let price, !(price.isFinite && price >= 0) { throw ValidationError("\(flag) must be a price of 0 or more, got \(price)") }
        }
        guard modelMemoryBudget >= 0 else { throw ValidationError("--model-memory-budget must be 0 (no limit) or a number of MiB") }
        if auth == "none" && (jwtSecretFile != nil || !jwtPublicKey.isEmpty) {
            throw ValidationError("JWT options need authentication on; drop --auth none")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
        guard (0...65535).contains(grpcPort) else { throw ValidationError("--grpc-port must be between 0 and 65535") }
        guard grpcPort == 0 || grpcPort != port else { throw ValidationError("--grpc-port \(grpcPort) is the HTTP port too; give it another one, or 0 to turn gRPC off") }
        if let id = replicaID ?? ProcessInfo.processInfo.environment["FERRY_REPLICA_ID"] {
            // It names this replica's rows in the shared store: an empty or outsized one would mix or bloat them.
            guard !id.trimmingCharacters(in: .whitespaces).isEmpty, id.count <= 128 else {
                throw ValidationError("--replica-id (or FERRY_REPLICA_ID) must be 1 to 128 characters, not blank")
            }
        }
        do { _ = try FerryServer.httpServer(configuration(signatures: .none)) } catch let error as FerryError { throw ValidationError(error.message) }
        if (requireSignature || !requireSignedAlias.isEmpty) && trustedKey.isEmpty {
            throw ValidationError("--require-signature and --require-signed-alias need at least one --trusted-key")
        }
        _ = try signaturePolicy()
        guard ["keys", "none"].contains(auth) else { throw ValidationError("--auth must be 'keys' or 'none'") }
        if auth == "none" && !Self.isLoopback(host) && !allowInsecureRemote {
            throw ValidationError("refusing to serve without authentication on \(host), which is not a loopback address: drop --auth none, or add --allow-insecure-remote if something in front of Ferry authenticates")
        }
        _ = try rateLimits()
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard maxRows > 0 else { throw ValidationError("--max-rows must be positive") }
        guard maxBodyMB > 0 else { throw ValidationError("--max-body-mb must be positive") }
        guard ["on", "off"].contains(requestMetrics) else { throw ValidationError("--request-metrics must be 'on' or 'off'") }
        guard ["on", "off"].contains(directInference) else { throw ValidationError("--direct-inference must be 'on' or 'off'") }
        guard (0...1).contains(logSampleRate) else { throw ValidationError("--log-sample-rate must be between 0 and 1") }
        guard logRetentionDays > 0 else { throw ValidationError("--log-retention-days must be positive") }
        guard logMaxRecords > 0 else { throw ValidationError("--log-max-records must be positive") }
        guard alertInterval >= 1 else { throw ValidationError("--alert-interval must be at least 1 second") }
        guard batchMaxRows >= 0 else { throw ValidationError("--batch-max-rows must be 0 (off) or more") }
        guard batchMaxDelayMs >= 0 && batchMaxDelayMs <= 1000 else { throw ValidationError("--batch-max-delay-ms must be between 0 and 1000") }
        guard maxConcurrent >= 1 else { throw ValidationError("--max-concurrent must be at least 1") }
        guard breakerThreshold >= 1 else { throw ValidationError("--breaker-threshold must be at least 1") }
        guard coldLoadWait > 0 else { throw ValidationError("--cold-load-wait must be more than 0 seconds") }
        guard breakerCooldown >= 0 else { throw ValidationError("--breaker-cooldown must be 0 or more seconds") }
        guard rolloutInterval >= 0.1 else { throw ValidationError("--rollout-interval must be at least 0.1 second") }
    }

    static func isLoopback(_ host: String) -> Bool {
        // An address in 127.0.0.0/8, not any name that starts with "127." (127.example.com is not loopback).
        var address = in_addr()
        if inet_pton(AF_INET, host, &address) == 1 { return UInt32(bigEndian: address.s_addr) >> 24 == 127 }
        return host == "localhost" || host == "::1"
    }

    func rateLimits() throws -> [Role: Double] {
        var limits: [Role: Double] = [:]
        for item in rateLimit {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let role = Role(rawValue: parts[0]), let n = Double(parts[1]), n > 0, n.isFinite else {
                throw ValidationError("--rate-limit '\(item)' must be ROLE=N with ROLE one of viewer, predictor, deployer, admin and N a positive number of requests per second")
            }
            limits[role] = n
        }
        return limits
    }

    /// The JWT settings, when JWT keys are configured.
    func jwtSettings() throws -> ServerConfiguration.JWT? {
        guard jwtSecretFile != nil || !jwtPublicKey.isEmpty else { return nil }
        func read(_ path: String, _ option: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(option) '\(path)' cannot be read") }
            return String(decoding: data, as: UTF8.self)
        }
        return ServerConfiguration.JWT(
            hs256Secret: try jwtSecretFile.map { try read($0, "--jwt-hs256-secret-file").trimmingCharacters(in: .whitespacesAndNewlines) },
            publicKeysPEM: try jwtPublicKey.map { try read($0, "--jwt-public-key") }, issuer: jwtIssuer, audience: jwtAudience)
    }

    /// Where the data lives, for the banner (a database URL's password masked).
    var dataDescription: String {
        let folder = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        guard let url = databaseURLSetting else { return folder }
        return "\(URLComponents(string: url) == nil ? "PostgreSQL" : url.maskingPassword), artifacts in \(folder)"
    }

    /// --database-url, else FERRY_DATABASE_URL; nil keeps the embedded SQLite store.
    var databaseURLSetting: String? {
        let value = databaseURL ?? ProcessInfo.processInfo.environment["FERRY_DATABASE_URL"]
        return value.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The server these flags describe.
    func configuration(signatures: SignaturePolicy) throws -> ServerConfiguration {
        var configuration = ServerConfiguration(
            store: databaseURLSetting.map { .postgres(url: $0) } ?? .sqlite,
            dataDirectory: URL(fileURLWithPath: dataDir, isDirectory: true), host: host, port: port,
            serverVersion: Ferry.version, authentication: auth == "keys",
            adminKeyPreset: ProcessInfo.processInfo.environment["FERRY_ADMIN_KEY"], rateLimits: try rateLimits(),
            jwt: try jwtSettings(), signatures: signatures,
            serving: ServingPolicy(
                maxConcurrent: maxConcurrent, breakerThreshold: breakerThreshold, breakerCooldown: breakerCooldown,
                batchMaxRows: batchMaxRows, batchMaxDelay: batchMaxDelayMs / 1000, coldLoadWait: coldLoadWait),
            inference: InferenceLimits(maxRows: maxRows, maxElements: max(maxRows * 64, 4_000_000)),
            http: HTTPLimits(maxInferenceBodyBytes: maxBodyMB << 20), requestMetrics: requestMetrics == "on",
            predictionLog: logSampleRate > 0
                ? PredictionLogger.Configuration(
                    sampleRate: logSampleRate, retention: .seconds(logRetentionDays * 86_400), maxRecords: logMaxRecords)
                : nil,
            alertInterval: .seconds(alertInterval), rolloutInterval: .milliseconds(Int64(rolloutInterval * 1000)),
            replicaID: replicaID ?? ProcessInfo.processInfo.environment["FERRY_REPLICA_ID"] ?? Replica.defaultID,
            tls: zip(tlsCert, tlsKey).map { ServerConfiguration.TLS(certificateChain: $0, privateKey: $1) },
            grpcPort: grpcPort == 0 ? nil : grpcPort,
            idleTimeout: .milliseconds(Int64(idleTimeout * 1000)), trainers: trainers,
            jobInputDirectories: jobInputDirectories,
            featureSourceDirectories: featureSourceDirectories + (example.map { [$0] } ?? []), maxQueuedJobs: maxQueuedJobs,
            modelMemoryBudget: modelMemoryBudget > 0 ? modelMemoryBudget << 20 : nil, pinAliased: pinAliased,
            costPrices: CostMeter.Prices(cpuHour: costPerCPUHour, gibHour: costPerGiBHour))
        configuration.directInference = directInference == "on"
        return configuration
    }

    func signaturePolicy() throws -> SignaturePolicy {
        let keys = try trustedKey.map { path -> TrustedKey in
            guard let data = FileManager.default.contents(atPath: path),
                  let key = try? JSONDecoder().decode(TrustedKey.self, from: data), key.publicKey.count == 32 else {
                throw ValidationError("--trusted-key '\(path)' is not a public key file written by `ferry sign keygen` (NAME.pub.json)")
            }
            return key
        }
        return SignaturePolicy(trusted: keys, requireForLoad: requireSignature, requiredForAliases: Set(requireSignedAlias))
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ferry")

        let server: FerryServer
        do {
            server = try await FerryServer.build(try configuration(signatures: try signaturePolicy()), logger: logger)
        } catch let error as FerryError {
            throw CLIError(error.message)
        }
        if !server.configuration.authentication { logger.warning("authentication is off (--auth none): every caller acts as admin") }
        let limits = server.configuration.rateLimits
        try await server.audit.record("server.start", target: "server", by: "ferry", after: [
            "version": .string(Ferry.version), "host": .string(host), "auth": .string(auth),
            "store": .string(databaseURLSetting == nil ? "sqlite" : "postgres"),
            "rate_limits": .object(Dictionary(uniqueKeysWithValues: limits.map { ($0.key.rawValue, JSONValue.number($0.value)) })),
            "max_rows": .number(Double(maxRows)), "max_body_mb": .number(Double(maxBodyMB)),
            "log_sample_rate": .number(logSampleRate),
            "jwt": .bool(jwtSecretFile != nil || !jwtPublicKey.isEmpty), "jwt_issuer": jwtIssuer.map { .string($0) } ?? .null,
            "tls": .bool(tlsCert != nil), "idle_timeout": .number(idleTimeout), "grpc_port": .number(Double(grpcPort)),
            "trusted_keys": .array(try signaturePolicy().trusted.keys.sorted().map { .string($0) }),
            "require_signature": .bool(requireSignature), "require_signed_alias": .array(requireSignedAlias.map { .string($0) }),
        ])
        if let example { try await registerExample(folder: example, registry: server.registry, logger: logger) }
        let banner = Banner(
            scheme: tlsCert == nil ? "http" : "https", host: host, dataDir: dataDescription,
            example: example.map { URL(fileURLWithPath: $0).standardizedFileURL.path }, authenticated: server.configuration.authentication,
            newAdminKey: server.newAdminKey)
        try await server.run { channel in
            banner.print(port: channel.localAddress?.port ?? self.port)
        }
        logger.info("ferry stopped")
    }

    /// Registers `folder/model.json` as model 'fraud' with the `production` alias, unless it already exists.
    private func registerExample(folder: String, registry: Registry, logger: Logger) async throws {
        let name = "fraud"
        if try await registry.store.model(named: name) != nil { return }
        let file = URL(fileURLWithPath: folder).appendingPathComponent("model.json")
        guard let bytes = try? Data(contentsOf: file) else {
            throw ValidationError("--example: cannot read \(file.path); pass the folder that holds the example's model.json (examples/fraud)")
        }
        _ = try await registry.createModel(
            name: name, description: "Example fraud classifier (XGBoost, 12 features, synthetic data)",
            tags: ["example": "true"], by: "ferry-example")
        let version = try await registry.register(Registry.NewVersion(
            model: name, artifact: bytes, description: "trained by examples/fraud/train.py",
            lineage: Lineage(trainingData: "synthetic (examples/fraud/train.py, seed 7)", code: "examples/fraud/train.py"),
            createdBy: "ferry-example"))
        try await registry.setAlias(model: name, alias: Alias.production, version: version.version, by: "ferry-example", reason: "example")
        logger.info("example model registered", metadata: ["model": "\(name)", "version": "\(version.version)"])
    }

}

/// What `ferry serve` prints once it listens: the address, the new admin key (once), and commands that work from
/// any folder against this server (absolute paths, the actual port).
struct Banner {
    let scheme: String
    let host: String
    let dataDir: String
    /// Absolute path of the example folder, when one was registered.
    let example: String?
    let authenticated: Bool
    let newAdminKey: String?

    func print(port: Int) {
        FileHandle.standardOutput.write(Data(text(port: port).utf8))
    }

    func text(port: Int) -> String {
        let base = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        let authHeader = authenticated ? " -H \"Authorization: Bearer $FERRY_API_KEY\"" : ""
        var text = """

            Ferry \(Ferry.version) is serving on \(base)  (data: \(dataDir))

            """
        if let newAdminKey {
            text += """

                  An admin API key was created. It is shown only this once; store it now:

                      export FERRY_API_KEY=\(newAdminKey)

                  Create narrower keys with `ferry keys create --name NAME --role predictor`.

                """
        }
        text += """

              health:    curl \(base)/v2/health/ready
              API docs:  curl\(authHeader) \(base)/openapi.json

            """
        if let example {
            let server = base == "http://127.0.0.1:8080" ? "" : " --server \(base)"
            text += """
                  predict:   curl -s\(authHeader) \(base)/v2/models/fraud/infer -H 'Content-Type: application/json' -d @\(example)/request.json
                  V1:        curl -s\(authHeader) \(base)/v1/models/fraud:predict -H 'Content-Type: application/json' -d @\(example)/request-v1.json
                  CLI:       ferry predict fraud --csv \(example)/rows.csv\(server)

                """
        }
        text += "Stop with Ctrl-C (in-flight requests finish first).\n"
        return text
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
