import FerryCore
import Foundation
import Logging
import Synchronization

/// Retraining's use cases and its runner: policies, jobs triggered by hand, by a firing alert or on a schedule, and
/// each job's steps: export the served version's newest labelled rows (the newest fraction held out), run the
/// trainer, register its model as a candidate with lineage, evaluate it against the champion on the held-out rows,
/// and roll a winner out (a canary on the policy's endpoint, or the `challenger` alias). A candidate that loses stays
/// registered and the job says why; the champion serves throughout.
public final class Retrainer: Sendable {
    public typealias Store = RetrainStore & AlertStore
    let store: any Store
    let registry: Registry
    let models: ModelManager
    let monitor: ModelMonitor
    let endpoints: Endpoints
    /// Files an approval request when the winner goes to a protected alias or endpoint (unless its protection
    /// pre-approves retraining).
    let approvals: Approvals?
    /// Keeps each job's training data (under its digest), which a webhook trainer downloads.
    let artifacts: any ArtifactStore
    /// Calls webhook trainers, retried after each of `retryDelays`.
    let sender: (any WebhookSender)?
    let retryDelays: [Duration]
    /// How often a job waiting for a webhook trainer looks for its report in the store (which any replica may have
    /// written).
    let reportPoll: Duration
    /// Where each job's folder (training data, the trainer's output and log) is made.
    let workDirectory: URL
    /// Given to trainers as `MLFLOW_TRACKING_URI`: this server's own address.
    let trackingURI: String?
    /// The programs a policy may run (its command's first word): the operator's choice, not an API caller's.
    let trainers: [String]
    let logger: Logger
    let now: @Sendable () -> Date
    private let finished = Mutex(false)

    public static let challengerAlias = "challenger"

    public init(
        store: any Store, registry: Registry, models: ModelManager, monitor: ModelMonitor, endpoints: Endpoints, approvals: Approvals? = nil,
        artifacts: any ArtifactStore, sender: (any WebhookSender)?, retryDelays: [Duration], reportPoll: Duration = .seconds(1), workDirectory: URL, trainers: [String],
        trackingURI: String?, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.artifacts = artifacts
        self.sender = sender
        self.retryDelays = retryDelays
        self.reportPoll = reportPoll
        self.store = store
        self.registry = registry
        self.models = models
        self.monitor = monitor
        self.endpoints = endpoints
        self.approvals = approvals
        self.workDirectory = workDirectory
        self.trackingURI = trackingURI
        self.trainers = trainers
        self.logger = logger
        self.now = now
    }

    // MARK: Policies

    public func setPolicy(_ given: RetrainPolicy, by actor: String) async throws -> RetrainPolicy {
        var policy = given
        try policy.validate()
        if case .command(let argv) = policy.trainer, !Self.allowed(argv, by: trainers) {
            throw FerryError.invalid(
                "field 'command' runs '\(argv.joined(separator: " "))', which this server does not allow as a trainer (\(trainers.isEmpty ? "it allows none" : "it allows \(trainers.map { "'\($0)'" }.joined(separator: ", "))")); its operator allows a command with `ferry serve --trainer '\(argv.joined(separator: " "))'`")
        }
        _ = try await registry.model(named: policy.model)
        let rules = Set(try await store.rules(model: policy.model).map(\.name))
        if let unknown = policy.alerts.first(where: { !rules.contains($0) }) {
            throw FerryError.invalid("field 'alerts' names '\(unknown)', which is not an alert rule of model '\(policy.model)' (it has \(rules.sorted().joined(separator: ", ")))")
        }
        if let endpoint = policy.endpoint, endpoints.endpoint(named: endpoint) == nil {
            throw FerryError.invalid("field 'endpoint' names '\(endpoint)', which is not an endpoint")
        }
        (policy.updatedBy, policy.updatedAt) = (actor, now())
        let time = policy.updatedAt
        try await store.setRetrainPolicy(policy) { stored in
            AuditDraft(at: time, actor: actor, action: "retrain.policy.set", target: stored.model)
        }
        return policy
    }

    public func policy(model: String) async throws -> RetrainPolicy {
        guard let policy = try await store.retrainPolicy(model: model) else {
            throw FerryError.notFound("model '\(model)' has no retraining policy; set one with `ferry retrain policy set`")
        }
        return policy
    }

    public func deletePolicy(model: String, by actor: String) async throws {
        let time = now()
        try await store.deleteRetrainPolicy(model: model) { _ in AuditDraft(at: time, actor: actor, action: "retrain.policy.delete", target: model) }
    }

    // MARK: Jobs

    /// Queues a retraining of `model`; refused when it has no policy or a job is already queued or running.
    public func trigger(model: String, reason: String = "manual", by actor: String) async throws -> RetrainJob {
        _ = try await policy(model: model)
        let job = RetrainJob(id: "rt_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)), model: model, trigger: reason, createdBy: actor, createdAt: now())
        try await store.createRetrainJob(job) { stored in
            AuditDraft(at: stored.createdAt, actor: actor, action: "retrain.queue", target: model, after: ["job": .string(stored.id), "trigger": .string(reason)])
        }
        logger.notice("retraining queued", metadata: ["model": "\(model)", "job": "\(job.id)", "trigger": "\(reason)"])
        return job
    }

    public func job(id: String) async throws -> RetrainJob {
        guard let job = try await store.retrainJob(id: id) else { throw FerryError.notFound("no retraining job '\(id)'") }
        return job
    }

    public func jobs(model: String?, limit: Int = 50) async throws -> [RetrainJob] {
        try await store.retrainJobs(model: model, limit: limit)
    }

    /// Cancels a queued job (a running one finishes or times out).
    public func cancel(id: String, by actor: String) async throws -> RetrainJob {
        var job = try await self.job(id: id)
        guard job.state == .queued else {
            throw FerryError(.failedPrecondition, "job '\(id)' is \(job.state.rawValue); only a queued job can be cancelled (a running one ends at its timeout)")
        }
        (job.state, job.finishedAt, job.reason) = (.cancelled, now(), "cancelled by \(actor)")
        try await store.updateRetrainJob(job, audit: Self.audit("retrain.cancel", actor))
        return job
    }

    /// A webhook trainer's report on a job it was asked for: the version of the job's model it registered, or
    /// why it could not train one. The job's runner (on whichever replica leads) picks it up from the store.
    public func report(model: String, id: String, _ report: TrainerReport, by actor: String) async throws -> RetrainJob {
        var job = try await self.job(id: id)
        guard job.model == model else { throw FerryError.notFound("model '\(model)' has no retraining job '\(id)'") }
        guard job.state == .running, job.dataDigest != nil, job.candidate == nil, job.report == nil else {
            throw FerryError(.failedPrecondition, job.report != nil || job.candidate != nil
                ? "job '\(id)' already has its candidate or report"
                : "job '\(id)' is \(job.state.rawValue) and is not waiting for a trainer's report")
        }
        guard case .webhook = try await policy(model: model).trainer else {
            throw FerryError(.failedPrecondition, "model '\(model)' is retrained by a command, which reports by exiting; only a webhook trainer reports through the API")
        }
        if case .version(let number) = report {
            guard (try? await registry.version(model: model, number: number)) != nil else {
                throw FerryError.invalid("field 'version' is \(number), which is not a version of model '\(model)'; register the trainer's model first")
            }
        }
        job.report = report
        try await store.updateRetrainJob(job) { stored in
            var after: [String: JSONValue] = ["job": .string(stored.id)]
            switch report {
            case .version(let v): after["version"] = .number(Double(v))
            case .failure(let why): after["error"] = .string(why)
            }
            return AuditDraft(at: self.now(), actor: actor, action: "retrain.report", target: model, after: .object(after))
        }
        return job
    }

    /// The CSV a job trained on (features as logged, then `label`), kept in the artifact store.
    public func trainingData(model: String, id: String) async throws -> Data {
        let job = try await self.job(id: id)
        guard job.model == model else { throw FerryError.notFound("model '\(model)' has no retraining job '\(id)'") }
        guard let digest = job.dataDigest, digest.hasPrefix("sha256:"), let bytes = job.dataBytes else {
            throw FerryError.notFound("job '\(id)' has no training data kept (\(job.state.rawValue))")
        }
        return try await artifacts.get(ArtifactRef(sha256: String(digest.dropFirst(7)), size: bytes))
    }

    // MARK: Running

    /// Evaluates every `interval` while `when()` holds (this replica leads): first marks jobs a restart interrupted,
    /// then on each pass queues what the policies' triggers call for and runs the queued jobs, oldest first.
    public func run(interval: Duration, when: @Sendable () -> Bool = { true }) async {
        var recovered = false
        while !finished.withLock({ $0 }) && !Task.isCancelled {
            if when() {
                if !recovered {
                    await recoverInterrupted()
                    recovered = true
                }
                await tick()
            }
            await pause(for: interval, unless: { finished.withLock { $0 } })
        }
    }

    public func finish() { finished.withLock { $0 = true } }

    /// One pass: automatic triggers, then every queued job.
    public func tick() async {
        do {
            for policy in try await store.retrainPolicies() {
                var firing: [(rule: String, since: Date)] = []
                for rule in policy.alerts {
                    let status = try await store.status(model: policy.model, name: rule)
                    if status.state == .firing { firing.append((rule, status.since ?? now())) }
                }
                let last = try await store.retrainJobs(model: policy.model, limit: 1).first
                if last?.state.isActive == true { continue }
                if let reason = retrainTrigger(policy: policy, firing: firing, lastJob: last?.createdAt, now: now()) {
                    _ = try? await trigger(model: policy.model, reason: reason, by: "retrain:\(reason)")
                }
            }
            let queued = try await store.retrainJobs(model: nil, limit: 200).filter { $0.state == .queued }.reversed()
            for job in queued { _ = await execute(job) }
        } catch {
            logger.error("retraining pass failed", metadata: ["error": "\(error)"])
        }
    }

    /// Jobs left running by a restart: requeued while attempts remain, failed otherwise.
    func recoverInterrupted() async {
        for var job in (try? await store.retrainJobs(model: nil, limit: 200).filter { $0.state == .running }) ?? [] {
            let retries = (try? await store.retrainPolicy(model: job.model))?.retries ?? 0
            if job.attempt <= retries {
                (job.state, job.attempt, job.reason) = (.queued, job.attempt + 1, "interrupted by a restart; attempt \(job.attempt + 1)")
            } else {
                (job.state, job.finishedAt, job.reason) = (.failed, now(), "interrupted by a restart of the server running it")
            }
            try? await store.updateRetrainJob(job, audit: Self.audit("retrain.recover", "ferry"))
        }
    }

    /// Runs one queued job to its end (or back to the queue for another attempt); returns it as stored.
    @discardableResult
    public func execute(_ queued: RetrainJob) async -> RetrainJob {
        var job = queued
        (job.state, job.startedAt, job.finishedAt, job.report) = (.running, now(), nil, nil)
        do {
            try await store.updateRetrainJob(job, audit: Self.audit("retrain.start", job.createdBy))
            let policy = try await policy(model: job.model)
            do {
                try await steps(&job, policy)
            } catch {
                let reason = (error as? FerryError)?.message ?? "\(error)"
                if job.attempt <= policy.retries {
                    (job.state, job.attempt, job.reason) = (.queued, job.attempt + 1, "attempt \(job.attempt) failed: \(reason)")
                } else {
                    (job.state, job.reason) = (.failed, reason)
                }
            }
        } catch {
            (job.state, job.reason) = (.failed, (error as? FerryError)?.message ?? "\(error)")
        }
        if !job.state.isActive { job.finishedAt = now() }
        try? await store.updateRetrainJob(job, audit: Self.audit("retrain.finish", job.createdBy))
        logger.notice("retraining ended", metadata: [
            "model": "\(job.model)", "job": "\(job.id)", "state": "\(job.state.rawValue)", "reason": "\(job.reason)"])
        return job
    }

    /// Data, trainer, candidate, evaluation, rollout. Throws what ends the attempt.
    func steps(_ job: inout RetrainJob, _ policy: RetrainPolicy) async throws {
        let champion = try await models.served(model: job.model, selector: .default)
        job.champion = champion.version.version
        let schema = champion.version.inputSchema
        // 1. The newest labelled rows of the served version, oldest first; the newest fraction is held out.
        let labeled = try await monitor.log.labeled(model: job.model, version: champion.version.version, since: nil, until: nil, limit: policy.windowRows)
            .sorted { ($0.at, $0.predictionID, $0.row) < ($1.at, $1.predictionID, $1.row) }
        let holdoutCount = Int((Double(labeled.count) * policy.holdoutFraction).rounded(.up))
        guard labeled.count >= 20, holdoutCount >= 10, labeled.count - holdoutCount >= 10 else {
            throw FerryError(.failedPrecondition, "version \(champion.version.version) of '\(job.model)' has \(labeled.count) predictions with ground truth; retraining needs at least 20 (post feedback first)")
        }
        let training = Array(labeled.dropLast(holdoutCount)), holdout = Array(labeled.suffix(holdoutCount))
        let folder = workDirectory.appendingPathComponent(job.id)
        let output = folder.appendingPathComponent("output")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let csv = Data(Self.trainingCSV(training, schema: schema).utf8)
        let dataFile = folder.appendingPathComponent("training.csv")
        try csv.write(to: dataFile)
        job.trainingRows = training.count
        job.holdoutRows = holdout.count
        (job.dataSince, job.dataUntil) = (training.first?.at, training.last?.at)
        let kept = try await artifacts.put(csv)
        (job.dataDigest, job.dataBytes) = ("sha256:" + kept.sha256, kept.size)
        try await store.updateRetrainJob(job, audit: nil)

        // 2. The trainer, and 3. its candidate, which must take the champion's inputs.
        let candidate: Int
        switch policy.trainer {
        case .command(let argv):
            candidate = try await runCommand(argv, &job, policy: policy, champion: champion.version, folder: folder, dataFile: dataFile)
        case .webhook(let url, let secret):
            candidate = try await callWebhook(url, secret: secret, &job, policy: policy, champion: champion.version)
            let version = try await registry.version(model: job.model, number: candidate)
            guard version.inputSchema.featureNames == schema.featureNames else {
                throw FerryError(.failedPrecondition, Self.otherInputs(version.inputSchema.featureNames, schema.featureNames, "version \(candidate), which the trainer reported, takes"))
            }
        }
        job.candidate = candidate
        try await store.updateRetrainJob(job, audit: nil)

        // 4. Champion against candidate on the held-out rows.
        let challenger = try await models.served(model: job.model, selector: .number(candidate))
        let evaluation = try await Self.evaluate(champion: champion, challenger: challenger, rows: holdout, gate: policy.gate)
        job.evaluation = evaluation
        let (passed, reasons) = policy.gate.decide(evaluation)
        guard passed else {
            (job.state, job.reason) = (.rejected, reasons.joined(separator: "; "))
            return
        }

        // 5. Out it goes (or, into a protected alias or endpoint, waits for a second principal's approval).
        let actor = Principal(id: "retrain:\(job.id)", name: "retrain:\(job.id)", role: .deployer)
        let reason = "won retraining job \(job.id)"
        if let endpoint = policy.endpoint {
            let plan = try RolloutPlan.make(strategy: nil, steps: policy.rolloutSteps, bakeSeconds: policy.rolloutBakeSeconds, gates: policy.rolloutGates)
            let candidateRef = VersionRef(model: job.model, version: candidate)
            let clearance = try await approvals?.clearEndpoint(endpoint, .rollout(candidate: candidateRef, plan: plan), by: actor, reason: reason, source: "retrain") ?? .unprotected
            if case .pending(let request) = clearance {
                (job.state, job.reason) = (.succeeded, "the candidate won; endpoint '\(endpoint)' is protected, so its canary rollout of version \(candidate) waits for approval request \(request.id)")
                return
            }
            try await endpoints.startRollout(endpoint: endpoint, to: candidateRef, plan: plan, by: actor.name, approved: clearance.approved)
            (job.state, job.reason) = (.succeeded, "the candidate won; a canary rollout of version \(candidate) started on endpoint '\(endpoint)'")
        } else {
            let clearance = try await approvals?.clearAlias(
                model: job.model, alias: Self.challengerAlias, version: candidate, by: actor, reason: reason, source: "retrain") ?? .unprotected
            if case .pending(let request) = clearance {
                (job.state, job.reason) = (.succeeded, "the candidate won; alias '\(Self.challengerAlias)' is protected, so pointing it at version \(candidate) waits for approval request \(request.id)")
                return
            }
            _ = try await registry.setAlias(
                model: job.model, alias: Self.challengerAlias, version: candidate, by: actor.name, reason: reason, approved: clearance.approved)
            (job.state, job.reason) = (.succeeded, "the candidate won; alias '\(Self.challengerAlias)' points at version \(candidate) (promote it with `ferry alias set \(job.model) production \(candidate)`)")
        }
    }

    // MARK: Steps

    /// Runs a trainer program on the exported window and registers the model it writes; returns the version.
    func runCommand(_ argv: [String], _ job: inout RetrainJob, policy: RetrainPolicy, champion: ModelVersion, folder: URL, dataFile: URL) async throws -> Int {
        let output = folder.appendingPathComponent("output")
        var environment = Self.trainerEnvironment(ProcessInfo.processInfo.environment)
        environment["FERRY_TRAINING_DATA"] = dataFile.path
        environment["FERRY_OUTPUT_DIR"] = output.path
        environment["FERRY_MODEL"] = job.model
        environment["FERRY_JOB_ID"] = job.id
        environment["FERRY_CHAMPION_VERSION"] = String(champion.version)
        if let trackingURI { environment["MLFLOW_TRACKING_URI"] = trackingURI }
        let (status, logs) = try await TrainerProcess.run(
            argv, environment: environment, log: folder.appendingPathComponent("trainer.log"),
            timeout: .seconds(policy.timeoutSeconds))
        job.logs = logs
        switch status {
        case .exited(0): break
        case .exited(let code): throw FerryError(.failedPrecondition, "the trainer exited with status \(code); see the job's logs")
        case .timedOut: throw FerryError(.deadlineExceeded, "the trainer ran past the policy's timeout of \(policy.timeoutSeconds) s and was stopped")
        }
        let found = try await Self.candidate(in: output)
        let described = try await registry.describe(found.artifact, format: found.format)
        let names = (found.inputSchema ?? described.inputSchema).featureNames
        guard names == champion.inputSchema.featureNames else {
            throw FerryError(.failedPrecondition, Self.otherInputs(names, champion.inputSchema.featureNames, "the trainer's model takes") + "; it was not registered")
        }
        let registered = try await registry.register(Registry.NewVersion(
            model: job.model, format: found.format, artifact: found.artifact,
            description: "retrained by job \(job.id) (\(job.trigger)) from version \(champion.version)",
            inputSchema: found.inputSchema,
            params: ["retrain_job": .string(job.id), "trigger": .string(job.trigger), "parent_version": .number(Double(champion.version))],
            lineage: Lineage(
                trainingData: "ferry:retrain/\(job.id)/training.csv (\(job.trainingRows) labelled rows of version \(champion.version))",
                trainingDataDigest: job.dataDigest, code: argv.joined(separator: " "), run: found.runID.map { "mlflow:\($0)" }),
            createdBy: "retrain:\(job.id)"))
        return registered.version
    }

    static func otherInputs(_ names: [String], _ champion: [String], _ subject: String) -> String {
        "\(subject) the inputs [\(names.prefix(12).joined(separator: ", "))], not the champion's [\(champion.prefix(12).joined(separator: ", "))]"
    }

    /// Asks a webhook trainer for a model (a signed POST, retried) and waits, until the policy's timeout, for the
    /// version it reports back through any replica; returns that version.
    func callWebhook(_ url: String, secret: String?, _ job: inout RetrainJob, policy: RetrainPolicy, champion: ModelVersion) async throws -> Int {
        guard let sender else { throw FerryError(.unavailable, "this server has no webhook client to call trainers with") }
        let started = ContinuousClock.now
        let deadline = now().addingTimeInterval(Double(policy.timeoutSeconds))
        let path = "/api/v1/models/\(job.model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? job.model)/retrain/jobs/\(job.id)"
        let base = trackingURI ?? ""
        var payload: [String: Any] = [
            "event": "retrain.requested", "job": job.id, "model": job.model, "trigger": job.trigger, "attempt": job.attempt,
            "champion_version": champion.version, "deadline": ISO8601DateFormatter().string(from: deadline),
            "training_data": [
                "url": base + path + "/data", "rows": job.trainingRows, "sha256": job.dataDigest ?? "",
                "columns": champion.inputSchema.featureNames + ["label"],
            ] as [String: Any],
            "report_url": base + path + "/report",
        ]
        if let trackingURI { payload["tracking_uri"] = trackingURI }
        let body = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        if let refusal = await sender.deliver(
            url: url, body: body, event: "retrain:\(job.id):\(job.attempt)", secret: secret, at: now(), retryDelays: retryDelays) {
            throw FerryError(.unavailable, "the trainer webhook \(url) did not take the job after \(retryDelays.count + 1) attempts (\(refusal))")
        }
        logger.notice("retraining webhook called", metadata: ["model": "\(job.model)", "job": "\(job.id)", "url": "\(url)"])
        // The job is not written again until the report is in, so a report is never overwritten.
        while ContinuousClock.now - started < .seconds(policy.timeoutSeconds) {
            try await Task.sleep(for: reportPoll)
            guard let report = try await store.retrainJob(id: job.id)?.report else { continue }
            job.report = report
            switch report {
            case .version(let version): return version
            case .failure(let why): throw FerryError(.failedPrecondition, "the trainer reported that it failed: \(why)")
            }
        }
        throw FerryError(.deadlineExceeded, "the trainer webhook \(url) took the job but reported no model within the policy's timeout of \(policy.timeoutSeconds) s")
    }

    /// What a trainer inherits of the server's environment: where programs and libraries are, the locale and
    /// temporary folder, and `MLFLOW_*` settings the operator set for trainers (e.g. `MLFLOW_TRACKING_TOKEN`); never
    /// the server's own secrets (`FERRY_ADMIN_KEY`, the database URL, ...).
    static func trainerEnvironment(_ server: [String: String]) -> [String: String] {
        let kept: Set<String> = ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH"]
        return server.filter { kept.contains($0.key) || $0.key.hasPrefix("MLFLOW_") }
    }

    /// Whether the operator's allow-list admits a command: an entry is a whole command or its first words
    /// (`python3` admits any python3 command; `python3 /opt/ml/train.py` only that script, with any arguments).
    static func allowed(_ argv: [String], by trainers: [String]) -> Bool {
        trainers.contains { entry in
            let words = entry.split(separator: " ").map(String.init)
            return !words.isEmpty && argv.count >= words.count && Array(argv.prefix(words.count)) == words
        }
    }

    /// The training rows as CSV: the features as logged (categories by name), then `label`.
    static func trainingCSV(_ rows: [LabeledPrediction], schema: InputSchema) -> String {
        let features = schema.features
        var lines = [(features.map(\.name) + ["label"]).map(ModelMonitor.csvField).joined(separator: ",")]
        for row in rows {
            var fields: [String] = []
            for (c, feature) in features.enumerated() {
                let value = c < row.inputs.count ? row.inputs[c] : .null
                if case .number(let code) = value, let categories = feature.categories {
                    fields.append(ModelMonitor.names([code], categories)[0] ?? "")
                } else {
                    fields.append(ModelMonitor.text(value))
                }
            }
            fields.append(ModelMonitor.number(row.label))
            lines.append(fields.map(ModelMonitor.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    struct Candidate {
        var artifact: Data
        var format: ModelFormat?
        var inputSchema: InputSchema?
        var runID: String?
    }

    /// The model the trainer wrote: an MLflow model folder (the output folder or one folder in it), or one model
    /// file (`.json`, `.ubj`, `.txt`, `.onnx`).
    static func candidate(in output: URL) async throws -> Candidate {
        let files = FileManager.default
        let top = (try? files.contentsOfDirectory(atPath: output.path))?.sorted() ?? []
        var folders = [output]
        folders += top.map { output.appendingPathComponent($0) }.filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
        for folder in folders where files.fileExists(atPath: folder.appendingPathComponent("MLmodel").path) {
            let names = (files.enumerator(atPath: folder.path)?.allObjects as? [String]) ?? []
            let model = try MLflowModelFolder(files: names, place: "the trainer's MLflow model '\(folder.lastPathComponent)'") { name in
                files.contents(atPath: folder.appendingPathComponent(name).path)
            }
            return Candidate(artifact: model.artifact, format: model.format, inputSchema: model.inputSchema, runID: model.runID)
        }
        let models = top.filter { [".json", ".ubj", ".txt", ".onnx"].contains(where: $0.hasSuffix) }
        guard models.count == 1, let data = files.contents(atPath: output.appendingPathComponent(models[0]).path) else {
            throw FerryError(.failedPrecondition, models.isEmpty
                ? "the trainer wrote no model into FERRY_OUTPUT_DIR (expected an MLflow model folder or one .json, .ubj, .txt or .onnx file)"
                : "the trainer wrote several model files (\(models.joined(separator: ", "))); write one")
        }
        return Candidate(artifact: data, format: nil, inputSchema: nil, runID: nil)
    }

    /// Both versions predict the held-out rows (as logged: numbers, and text for text features, with anything
    /// else missing), each through its own path (a remote version remotely); the gate's metric on each, a paired
    /// bootstrap of the difference, and each version's time per row. The two are timed in turns (so a burst of load
    /// elsewhere on the machine falls on both), each turn repeating the batch until it has run for at least 2 ms,
    /// and each version's best turn of five is its time.
    static func evaluate(
        champion: ModelManager.Served, challenger: ModelManager.Served, rows: [LabeledPrediction], gate: RetrainGate
    ) async throws -> RetrainEvaluation {
        let features = champion.version.inputSchema.features
        let width = features.count
        var values: [Double] = []
        var texts: [[UInt8]] = []
        values.reserveCapacity(rows.count * width)
        for row in rows {
            for c in 0..<width {
                switch c < row.inputs.count ? row.inputs[c] : .null {
                case .number(let v) where !features[c].isText: values.append(v)
                case .string(let text) where features[c].isText:
                    values.append(Double(texts.count))
                    texts.append(Array(text.utf8))
                default: values.append(.nan)
                }
            }
        }
        var batch = FeatureMatrix(rows: rows.count, columns: width, values: values)
        batch.texts = texts
        func table(_ tensors: [Tensor]) -> [[Double]] {
            let columns = ModelMonitor.outputColumns(tensors, rows: batch.rows)
            return (0..<batch.rows).map { r in columns.map { $0.values[r] } }
        }
        func turn(_ served: ModelManager.Served) async throws -> Double {
            let start = ContinuousClock.now
            var runs = 0, elapsed = 0.0
            repeat {
                _ = try await served.predictAlone(batch)
                runs += 1
                elapsed = ModelManager.seconds(ContinuousClock.now - start)
            } while elapsed < 0.002
            return elapsed * 1e6 / Double(runs * batch.rows)
        }
        let a = table(try await champion.predictAlone(batch)), b = table(try await challenger.predictAlone(batch))
        var best = (champion: Double.infinity, challenger: Double.infinity)
        for _ in 0..<5 {
            best.champion = min(best.champion, try await turn(champion))
            best.challenger = min(best.challenger, try await turn(challenger))
        }
        let task = ModelMonitor.task(champion.version)
        func score(_ outputs: [[Double]], _ draw: [Int]) -> Double? {
            let labeled = draw.map { LabeledPrediction(output: outputs[$0], label: rows[$0].label, inputs: []) }
            return gate.value(in: ModelMonitor.score(labeled, task)).flatMap { $0.isFinite ? $0 : nil }
        }
        let resamples = rows.count > 20_000 ? 200 : 1000
        let result = try RetrainEvaluation.paired(rows: rows.count, higherIsBetter: gate.higherIsBetter, resamples: resamples) { draw in
            (score(a, draw), score(b, draw))
        }
        return RetrainEvaluation(
            metric: gate.metric, rows: rows.count, champion: result.champion, challenger: result.challenger, improvement: result.improvement,
            lower: result.lower, upper: result.upper, resamples: resamples, championMicrosPerRow: best.champion, challengerMicrosPerRow: best.challenger)
    }

    static func audit(_ action: String, _ actor: String) -> AuditBuilder<RetrainJob> {
        { job in
            var after: [String: JSONValue] = ["job": .string(job.id), "state": .string(job.state.rawValue), "attempt": .number(Double(job.attempt))]
            if !job.reason.isEmpty { after["reason"] = .string(job.reason) }
            if let candidate = job.candidate { after["candidate"] = .number(Double(candidate)) }
            if let e = job.evaluation {
                after["evaluation"] = [
                    "metric": .string(e.metric), "champion": .number(e.champion), "challenger": .number(e.challenger),
                    "improvement": .number(e.improvement),
                ]
            }
            return AuditDraft(at: job.finishedAt ?? job.startedAt ?? job.createdAt, actor: actor, action: action, target: job.model, after: .object(after))
        }
    }
}
