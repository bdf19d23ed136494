import FerryCore
import Foundation
import Logging
import Synchronization

/// Batch scoring's use cases and its runner. A job scores a CSV or JSON Lines file (uploaded, or a path under a
/// folder the operator allowed) with one model version, a chunk at a time on the tree engines' batch path (every
/// core): each chunk's results and errors go into the artifact store, then the job records them with the input
/// offset they reach, in one write. A job interrupted by a restart or a change of leader resumes after its last
/// recorded chunk, so no row is scored twice in its output; rows that cannot be scored go to its errors file with
/// the reason. One job runs at a time (on the leading replica), oldest first, and the queue is bounded.
public final class BatchScoring: Sendable {
    let store: any BatchJobStore
    let models: ModelManager
    let endpoints: Endpoints
    let artifacts: any ArtifactStore
    let sender: (any WebhookSender)?
    let retryDelays: [Duration]
    /// Folders whose files a job may read by path (the operator's `--job-input-dir`).
    let inputDirectories: ReadableFolders
    let maxQueued: Int
    /// Bytes of input read per chunk.
    let chunkBytes: Int
    let logger: Logger
    let now: @Sendable () -> Date
    private let finished = Mutex(false)
    /// Rung by a submission on this replica, so the runner starts it without waiting out its interval.
    private let doorbell = Mutex(false)
    /// Webhook deliveries under way, by job: off the runner, so a webhook that does not answer (retried for a minute)
    /// holds up neither the next job nor a shutdown.
    private let deliveries = Mutex<[String: Task<Void, Never>]>([:])
    /// Whether this replica looked for ended jobs whose webhook was not told yet (a restart cut the delivery short)
    /// since it last started leading.
    private let pendingLookedUp = Mutex(false)

    public init(
        store: any BatchJobStore, models: ModelManager, endpoints: Endpoints, artifacts: any ArtifactStore, sender: (any WebhookSender)?,
        retryDelays: [Duration], inputDirectories: [String], maxQueued: Int = 100, chunkBytes: Int = 2 << 20, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.models = models
        self.endpoints = endpoints
        self.artifacts = artifacts
        self.sender = sender
        self.retryDelays = retryDelays
        self.inputDirectories = ReadableFolders(inputDirectories)
        self.maxQueued = maxQueued
        self.chunkBytes = chunkBytes
        self.logger = logger
        self.now = now
    }

    /// What a caller asks for: a model (at a version or alias, default: what it serves) or an endpoint (its
    /// primary version), and an input.
    public struct Submission: Sendable {
        public var model: String?
        public var version: VersionSelector
        public var endpoint: String?
        public var input: BatchJob.Input
        public var format: BatchJob.Format?
        public var keyColumns: [String]
        public var webhook: String?
        public var webhookSecret: String?

        public init(
            model: String?, version: VersionSelector = .default, endpoint: String? = nil, input: BatchJob.Input, format: BatchJob.Format? = nil,
            keyColumns: [String] = [], webhook: String? = nil, webhookSecret: String? = nil
        ) {
            self.model = model
            self.version = version
            self.endpoint = endpoint
            self.input = input
            self.format = format
            self.keyColumns = keyColumns
            self.webhook = webhook
            self.webhookSecret = webhookSecret
        }
    }

    // MARK: Use cases

    /// Keeps an uploaded input file in the artifact store.
    public func upload(_ data: Data) async throws -> ArtifactRef {
        guard !data.isEmpty else { throw FerryError.invalid("the uploaded input is empty; send a CSV or JSON Lines file as the body") }
        return try await artifacts.put(data)
    }

    /// Checks a submission (the model, the input and its columns) and queues it.
    public func submit(_ s: Submission, by actor: String) async throws -> BatchJob {
        let (model, selector): (String, VersionSelector)
        switch (s.model, s.endpoint) {
        case (let m?, nil): (model, selector) = (m, s.version)
        case (nil, let e?):
            guard let endpoint = endpoints.endpoint(named: e) else { throw FerryError.notFound("field 'endpoint' names '\(e)', which is not an endpoint") }
            let primary = endpoints.primary(of: endpoint).ref
            (model, selector) = (primary.model, .number(primary.version))
        default: throw FerryError.invalid("name exactly one of field 'model' or field 'endpoint'")
        }
        if let webhook = s.webhook {
            guard let url = URL(string: webhook), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false else {
                throw FerryError.invalid("field 'webhook' must be an http or https URL (it is '\(webhook)')")
            }
        }
        if let empty = s.keyColumns.firstIndex(where: \.isEmpty) { throw FerryError.invalid("field 'key_columns' item \(empty) is empty") }
        for (i, key) in s.keyColumns.enumerated() where s.keyColumns[..<i].contains(key) {
            throw FerryError.invalid("field 'key_columns' item \(i) names '\(key)' again; each key column is written once")
        }
        let served = try await models.served(model: model, selector: selector)
        if served.predictor is any RemotePredictor {
            throw FerryError.invalid("model '\(model)' version \(served.version.version) is served by a remote backend; batch jobs score on Ferry's own engines, so send its rows to the remote server instead")
        }
        var input = s.input
        switch s.input {
        case .path(let path): input = .path(try inputDirectories.file(path, field: "field 'path'", holding: "jobs", flag: "--job-input-dir"))
        case .upload(let ref):
            // A model's file is stored in the same place: named as an input, its first line showed in errors to keys
            // that may not see the model.
            guard (try? await artifacts.contains(sha256: ref.sha256)) == true, try await models.store.versions(artifactSHA256: ref.sha256).isEmpty else {
                throw FerryError.notFound("field 'input.upload' names sha256:\(ref.sha256), which is not an uploaded file; upload it with POST /api/v1/jobs/uploads")
            }
        }
        let format = s.format ?? {
            if case .path(let p) = input, p.hasSuffix(".jsonl") || p.hasSuffix(".ndjson") { return .jsonl }
            return .csv
        }()
        let source = try BatchSource(input, artifacts: artifacts)
        // As an empty upload is: an empty file is a mistake (a CSV one would have no header either).
        if case .path(let path) = input, try await source.size() == 0 {
            throw FerryError.invalid("field 'path' names '\(path)', which is empty; it needs \(format == .csv ? "a header line and rows" : "rows")")
        }
        let header: String?
        do {
            // An upload is read (and its digest and size checked) here, so a wrong reference is the caller's error.
            if case .upload = input { _ = try await source.read(0, 1) }
            header = format == .csv ? try await source.firstLine().text : nil
        } catch let error as FerryError where error.code == .integrity {
            guard case .upload(let ref) = input else { throw error }
            throw FerryError.invalid(
                "field 'input.upload' names sha256:\(ref.sha256) with size \(ref.size), which is not the uploaded file's size; send the upload reference POST /api/v1/jobs/uploads answered, unchanged")
        }
        _ = try BatchLayout(format: format, header: header, schema: served.version.inputSchema, keys: s.keyColumns, source: "the input")
        let job = BatchJob(
            id: "job_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)), model: model,
            version: served.version.version, endpoint: s.endpoint, input: input, format: format, keyColumns: s.keyColumns, webhook: s.webhook,
            webhookSecret: s.webhookSecret, createdBy: actor, createdAt: now())
        try await store.createBatchJob(job, maxQueued: maxQueued, audit: Self.audit("job.submit", actor))
        doorbell.withLock { $0 = true }
        logger.notice("batch job queued", metadata: ["job": "\(job.id)", "model": "\(model)", "version": "\(job.version)"])
        return job
    }

    public func job(id: String) async throws -> BatchJob {
        guard let job = try await store.batchJob(id: id) else { throw FerryError.notFound("no batch job '\(id)'") }
        return job
    }

    public func jobs(limit: Int = 50) async throws -> [BatchJob] {
        try await store.batchJobs(states: nil, limit: limit)
    }

    /// Cancels a queued or running job; a running one stops before its next chunk, keeping what it recorded.
    public func cancel(id: String, by actor: String) async throws -> BatchJob {
        for _ in 0..<5 {
            var job = try await self.job(id: id)
            guard job.state.isActive else {
                throw FerryError(.failedPrecondition, "job '\(id)' is \(job.state.rawValue); only a queued or running job can be cancelled")
            }
            let was = job.state
            (job.state, job.finishedAt, job.reason) = (.cancelled, now(), "cancelled by \(actor)")
            job.webhookPending = job.webhook != nil
            if try await store.updateBatchJob(job, expected: was, audit: Self.audit("job.cancel", actor)) {
                deliver(job)
                return job
            }
        }
        throw FerryError(.unavailable, "job '\(id)' kept changing state; try again")
    }

    /// A job's results (or errors) file: its header line and the recorded chunks, in order.
    public func output(id: String, errors: Bool) async throws -> (header: String, chunks: [ArtifactRef]) {
        let job = try await self.job(id: id)
        if errors { return ("row,error\n", job.errorChunks) }
        let columns = job.outputColumns.isEmpty ? ["row"] + job.keyColumns : job.outputColumns
        return (columns.map(ModelMonitor.csvField).joined(separator: ",") + "\n", job.outputChunks)
    }

    public func chunk(_ ref: ArtifactRef) async throws -> Data { try await artifacts.get(ref) }

    /// Checks that every chunk of a job's output is stored, before an answer starts: one found missing midway cut
    /// the answer short with nothing said but "the stream ended".
    public func checkStored(_ chunks: [ArtifactRef], job id: String) async throws {
        for (i, chunk) in chunks.enumerated() where try await !artifacts.contains(sha256: chunk.sha256) {
            throw FerryError(.internal, "job '\(id)': its output's chunk \(i + 1) of \(chunks.count) (artifact \(chunk.sha256.prefix(12))) is missing from the artifact store")
        }
    }

    // MARK: Running

    /// While `when()` holds (this replica leads): resumes running jobs (interrupted by a restart or a change of
    /// leader), then runs queued ones, oldest first, one at a time.
    public func run(interval: Duration, when: @escaping @Sendable () -> Bool = { true }) async {
        while !finished.withLock({ $0 }) && !Task.isCancelled {
            if when() {
                if !pendingLookedUp.withLock({ $0 }) {
                    pendingLookedUp.withLock { $0 = true }
                    await deliverPending()
                }
                await tick(while: when)
            } else {
                pendingLookedUp.withLock { $0 = false }
            }
            await pause(for: interval, step: .milliseconds(20), unless: { doorbell.withLock { $0 } || finished.withLock { $0 } })
            doorbell.withLock { $0 = false }
        }
    }

    public func finish() { finished.withLock { $0 = true } }

    /// Runs every running and queued job, oldest first.
    public func tick(while when: @escaping @Sendable () -> Bool = { true }) async {
        do {
            let active = try await store.batchJobs(states: [.running, .queued], limit: 1000).reversed()
            for job in active.sorted(by: { ($0.state == .running ? 0 : 1, $0.createdAt) < ($1.state == .running ? 0 : 1, $1.createdAt) }) {
                guard when(), !finished.withLock({ $0 }) else { return }
                _ = await execute(job, while: when)
            }
        } catch {
            logger.error("batch job pass failed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs a job from its checkpoint to its end; returns it as stored. It stops early, still running, when
    /// `when()` no longer holds or the server stops (the next leader resumes it), and when it is cancelled.
    @discardableResult
    public func execute(_ given: BatchJob, while when: @escaping @Sendable () -> Bool = { true }) async -> BatchJob {
        var job = given
        do {
            if job.state == .queued {
                (job.state, job.startedAt) = (.running, now())
                guard try await store.updateBatchJob(job, expected: .queued, audit: Self.audit("job.start", job.createdBy)) else {
                    return (try? await self.job(id: job.id)) ?? job
                }
            }
            guard job.state == .running else { return job }
            if try await score(&job, while: when) == false { return (try? await self.job(id: job.id)) ?? job }
            if job.rowsDone == 0, job.rowsFailed > 0 {
                // Nothing to use: a wrong file or a wrong model, not a few bad rows. The errors file stays readable.
                (job.state, job.reason) = (.failed, "none of the \(job.rowsFailed) rows could be scored\(await firstError(job).map { " (row \($0))" } ?? ""); the errors file has every row's reason")
            } else {
                job.state = .succeeded
            }
        } catch {
            // With its cause: storing a chunk on a full disk says "No space left on device", not only which artifact.
            (job.state, job.reason) = (.failed, "\(error)")
        }
        job.finishedAt = now()
        job.webhookPending = job.webhook != nil
        guard (try? await store.updateBatchJob(job, expected: .running, audit: Self.audit("job.finish", job.createdBy))) == true else {
            return (try? await self.job(id: job.id)) ?? job
        }
        logger.notice("batch job ended", metadata: [
            "job": "\(job.id)", "state": "\(job.state.rawValue)", "rows": "\(job.rowsDone)", "failed": "\(job.rowsFailed)", "reason": "\(job.reason)"])
        deliver(job)
        return job
    }

    /// Scores chunk after chunk from the checkpoint; false when it stopped early (cancelled, or no longer its turn).
    private func score(_ job: inout BatchJob, while when: @Sendable () -> Bool) async throws -> Bool {
        let served = try await models.served(model: job.model, selector: .number(job.version))
        let source = try BatchSource(job.input, artifacts: artifacts)
        let size = try await source.size()
        if let known = job.inputBytes, known != size {
            throw FerryError(.failedPrecondition, "the input changed while the job ran (\(known) bytes when it started, \(size) now); what was scored before is kept")
        }
        job.inputBytes = size
        let stamp = try source.stamp()
        if let known = job.inputStamp, known != stamp { throw source.changed() }
        job.inputStamp = stamp
        var header: String?
        if job.format == .csv {
            let first = try await source.firstLine()
            header = first.text
            if job.bytesDone == 0 { job.bytesDone = first.end }
        }
        let layout = try BatchLayout(format: job.format, header: header, schema: served.version.inputSchema, keys: job.keyColumns, source: "the input")
        // A pipeline of two: while one chunk's results are stored, the next is read, parsed, scored and formatted.
        // Chunks are recorded in order, each once its files are stored.
        var pending: Task<Written, any Error>?
        defer { pending?.cancel() }
        var offset = job.bytesDone
        var nextRow = job.rowsDone + job.rowsFailed + 1
        while offset < size {
            guard when(), !finished.withLock({ $0 }) else {
                if let written = pending { pending = nil; _ = try await record(try await written.value, into: &job) }
                return false
            }
            let (bytes, consumed) = try await source.lines(from: offset, upTo: chunkBytes, size: size)
            // Looked at after the read: a write during it has changed the stamp by now.
            if try source.stamp() != stamp { throw source.changed() }
            let scored = try await Self.score(bytes, layout: layout, firstRow: nextRow, predictor: served.predictor)
            offset += consumed
            nextRow += scored.count
            if let written = pending {
                pending = nil
                guard try await record(try await written.value, into: &job) else { return false }
            }
            let artifacts = self.artifacts
            pending = Task {
                var stored: (output: ArtifactRef?, errors: ArtifactRef?) = (nil, nil)
                if let lines = scored.lines { stored.output = try await artifacts.put(lines) }
                if let errors = scored.errors { stored.errors = try await artifacts.put(errors) }
                return Written(
                    output: stored.output, errors: stored.errors, columns: scored.columns, consumed: consumed, rows: scored.rows,
                    failed: scored.failed)
            }
        }
        if let written = pending {
            pending = nil
            guard try await record(try await written.value, into: &job) else { return false }
        }
        // No row scored: the results still get the columns the model answers with.
        if job.outputColumns.isEmpty { job.outputColumns = BatchOutput.columns(keys: job.keyColumns, schema: served.predictor.outputSchema) }
        return true
    }

    /// The first line of a job's errors (`row,error`), to say in its reason.
    private func firstError(_ job: BatchJob) async -> String? {
        guard let first = job.errorChunks.first, let data = try? await artifacts.get(first) else { return nil }
        let line = data.prefix { $0 != 0x0A }
        guard let comma = line.firstIndex(of: 0x2C) else { return nil }
        let row = String(decoding: line[..<comma], as: UTF8.self)
        var message = String(decoding: line[(comma + 1)...], as: UTF8.self)
        if message.hasPrefix("\""), message.hasSuffix("\""), message.count >= 2 {
            message = String(message.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
        }
        return "\(row): \(message)"
    }

    /// One chunk's stored files and what it consumed.
    struct Written: Sendable {
        var output: ArtifactRef?
        var errors: ArtifactRef?
        var columns: [String]?
        var consumed: Int
        var rows: Int
        var failed: Int
    }

    /// Records a stored chunk as the job's checkpoint; false when the job is no longer running (cancelled).
    private func record(_ written: Written, into job: inout BatchJob) async throws -> Bool {
        if let output = written.output { job.outputChunks.append(output) }
        if let errors = written.errors { job.errorChunks.append(errors) }
        if job.outputColumns.isEmpty, let columns = written.columns { job.outputColumns = columns }
        job.bytesDone += written.consumed
        job.rowsDone += written.rows
        job.rowsFailed += written.failed
        return try await store.updateBatchJob(job, expected: .running, audit: nil)
    }

    /// A chunk's results and errors as CSV lines, and its row counts.
    struct Scored: Sendable {
        var lines: Data?
        var errors: Data?
        /// The results' columns (nil when no row was scored).
        var columns: [String]?
        var rows = 0
        var failed = 0
        /// Rows seen (scored or not).
        var count = 0
    }

    /// Parses, scores and formats a chunk on every core at idle priority (threads that run only when no request
    /// needs the CPU, so online traffic goes first). The chunk is cut at line ends into pieces of about 64 KiB, which
    /// the threads take in turn, so none waits long for the others: first each piece is parsed and predicted (in
    /// batches small enough to stay on its thread), then, with every piece's first row known, formatted.
    static func score(_ bytes: [UInt8], layout: BatchLayout, firstRow: Int, predictor: any Predictor) async throws -> Scored {
        var cuts = [0]
        while cuts.last! < bytes.count {
            var at = min(cuts.last! + 64 << 10, bytes.count)
            while at < bytes.count, bytes[at - 1] != 0x0A { at += 1 }
            cuts.append(at)
        }
        let bounds = cuts
        let width = layout.features.count
        let threads = bytes.count >= 256 << 10 ? ProcessInfo.processInfo.activeProcessorCount : 1
        let scored = await OwnThreads.each(bounds.count - 1, threads: threads) { p -> Result<(BatchLayout.Parsed, [Tensor]), any Error> in
            let parsed = bytes.withUnsafeBufferPointer { layout.parse(UnsafeBufferPointer(rebasing: $0[bounds[p]..<bounds[p + 1]]), firstRow: 0) }
            return Result {
                var outputs: [[Tensor]] = []
                var row = 0
                while row < parsed.rows.count {
                    let n = min(TreeParallelismLimit.rows, parsed.rows.count - row)
                    outputs.append(try predictor.predict(FeatureMatrix(rows: n, columns: width, values: Array(parsed.values[(row * width)..<((row + n) * width)]))))
                    row += n
                }
                return (parsed, BatchOutput.concatenate(outputs))
            }
        }
        let pieces = try scored.map { try $0.get() }
        var starts: [Int] = []
        var result = Scored()
        for (parsed, outputs) in pieces {
            starts.append(firstRow + result.count)
            result.count += parsed.count
            result.rows += parsed.rows.count
            result.failed += parsed.errors.count
            if result.columns == nil, !parsed.rows.isEmpty { result.columns = BatchOutput.columns(keys: layout.keys, outputs: outputs, rows: parsed.rows.count) }
        }
        let first = starts
        let lines = await OwnThreads.each(pieces.count, threads: threads) { p in
            pieces[p].0.rows.isEmpty ? Data() : BatchOutput.lines(pieces[p].0, firstRow: first[p], keyCount: layout.keys.count, outputs: pieces[p].1)
        }
        if result.rows > 0 { result.lines = lines.reduce(into: Data()) { $0.append($1) } }
        if result.failed > 0 {
            result.errors = pieces.indices.reduce(into: Data()) { $0.append(BatchOutput.errors(pieces[$1].0, firstRow: first[$1])) }
        }
        return result
    }

    /// Starts telling an ended job's webhook how it ended, unless that is under way; marks it told once delivered or
    /// given up.
    private func deliver(_ job: BatchJob) {
        guard job.webhookPending else { return }
        deliveries.withLock { tasks in
            guard tasks[job.id] == nil else { return }
            tasks[job.id] = Task {
                await self.notify(job)
                do {
                    var told = try await self.job(id: job.id)
                    told.webhookPending = false
                    _ = try await self.store.updateBatchJob(told, expected: told.state, audit: nil)
                } catch {
                    self.logger.error("could not mark a batch job's webhook told; it may be told again", metadata: ["job": "\(job.id)", "error": "\(error)"])
                }
                _ = self.deliveries.withLock { $0.removeValue(forKey: job.id) }
            }
        }
    }

    /// Ended jobs whose webhook was not told (the server stopped first), told now.
    private func deliverPending() async {
        do {
            for job in try await store.batchJobs(states: [.succeeded, .failed, .cancelled], limit: 1000) where job.webhookPending { deliver(job) }
        } catch {
            logger.error("could not read ended batch jobs for their webhooks", metadata: ["error": "\(error)"])
        }
    }

    /// Waits until every webhook delivery started so far was made or given up.
    public func waitForDeliveries() async {
        for task in deliveries.withLock({ Array($0.values) }) { await task.value }
    }

    /// The webhook named at submission, told how the job ended (signed like alert webhooks, retried).
    private func notify(_ job: BatchJob) async {
        guard let url = job.webhook, let sender else { return }
        var payload: [String: Any] = [
            "event": "job.finished", "job": job.id, "state": job.state.rawValue, "model": job.model, "version": job.version,
            "rows_done": job.rowsDone, "rows_failed": job.rowsFailed, "results": "/api/v1/jobs/\(job.id)/results",
            "errors": "/api/v1/jobs/\(job.id)/errors",
        ]
        if !job.reason.isEmpty { payload["reason"] = job.reason }
        guard let body = try? JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]) else { return }
        guard let failure = await sender.deliver(
            url: url, body: body, event: "job:\(job.id)", secret: job.webhookSecret, at: now(), retryDelays: retryDelays) else { return }
        logger.warning("batch job webhook failed after every attempt", metadata: ["job": "\(job.id)", "url": "\(url)", "error": "\(failure)"])
    }

    static func audit(_ action: String, _ actor: String) -> AuditBuilder<BatchJob> {
        { job in
            var after: [String: JSONValue] = [
                "job": .string(job.id), "model": .string(job.model), "version": .number(Double(job.version)), "state": .string(job.state.rawValue),
            ]
            if !job.reason.isEmpty { after["reason"] = .string(job.reason) }
            return AuditDraft(at: job.finishedAt ?? job.startedAt ?? job.createdAt, actor: actor, action: action, target: job.model, after: .object(after))
        }
    }
}

/// Rows per predict call from a batch job's thread: below the tree engines' threshold for splitting a batch
/// between cores, so each call stays on the (idle-priority) thread that makes it.
enum TreeParallelismLimit {
    static let rows = 1024
}

/// A job's input: an uploaded artifact (read once, kept in memory) or a file read a chunk at a time, opened anew
/// for each chunk so a file removed mid-job ends the job with that reason.
final class BatchSource: Sendable {
    let input: BatchJob.Input
    let artifacts: any ArtifactStore
    private let uploaded = Mutex<Data?>(nil)

    init(_ input: BatchJob.Input, artifacts: any ArtifactStore) throws {
        self.input = input
        self.artifacts = artifacts
    }

    func size() async throws -> Int {
        switch input {
        case .upload(let ref): return ref.size
        case .path(let path):
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int else {
                throw FerryError(.failedPrecondition, "the input file '\(path)' is gone or unreadable")
            }
            return size
        }
    }

    /// A path input's inode, modification time and size (nil for an upload, which cannot change). Not its device:
    /// a shared volume may have another device number on the replica that resumes the job.
    func stamp() throws -> String? {
        guard case .path(let path) = input else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { throw FerryError(.failedPrecondition, "the input file '\(path)' is gone or unreadable") }
        return "\(info.st_ino):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec):\(info.st_size)"
    }

    func changed() -> FerryError {
        FerryError(.failedPrecondition, "the input file changed while the job ran (it was replaced or written to); what was scored before is kept")
    }

    /// Bytes `offset..<offset+count` (fewer at the end).
    func read(_ offset: Int, _ count: Int) async throws -> [UInt8] {
        switch input {
        case .upload(let ref):
            let data: Data
            if let kept = uploaded.withLock({ $0 }) {
                data = kept
            } else {
                data = try await artifacts.get(ref)
                uploaded.withLock { $0 = data }
            }
            let end = min(data.count, offset + count)
            return offset < end ? [UInt8](data[(data.startIndex + offset)..<(data.startIndex + end)]) : []
        case .path(let path):
            let file = open(path, O_RDONLY)
            guard file >= 0 else { throw FerryError(.failedPrecondition, "the input file '\(path)' is gone or unreadable") }
            defer { close(file) }
            var failure: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                while initialized < count {
                    let n = pread(file, buffer.baseAddress! + initialized, count - initialized, off_t(offset + initialized))
                    if n > 0 {
                        initialized += n
                    } else if n < 0, errno == EINTR {
                        continue
                    } else {
                        if n < 0 { failure = errno }
                        break
                    }
                }
            }
            guard failure == 0 else {
                throw FerryError(.failedPrecondition, "the input file '\(path)' could not be read at byte \(offset): \(String(cString: strerror(failure)))")
            }
            return bytes
        }
    }

    /// The first line (without its line end) and the offset after it.
    func firstLine() async throws -> (text: String, end: Int) {
        var bytes: [UInt8] = []
        while true {
            let more = try await read(bytes.count, 64 << 10)
            if let newline = more.firstIndex(of: 0x0A) {
                bytes += more[..<newline]
                let end = bytes.count + 1
                if bytes.last == 0x0D { bytes.removeLast() }
                // A byte order mark (spreadsheet programs write one) is not part of the header.
                return (String(decoding: bytes.dropFirst(CSVTable.byteOrderMarkLength(bytes)), as: UTF8.self), end)
            }
            bytes += more
            if more.isEmpty || bytes.count > 1 << 20 { return (String(decoding: bytes, as: UTF8.self), bytes.count) }
        }
    }

    /// Whole lines from `offset`: about `count` bytes, up to the last line end in them (everything left at the end
    /// of the input; more than `count` when one line is longer).
    func lines(from offset: Int, upTo count: Int, size: Int) async throws -> (bytes: [UInt8], consumed: Int) {
        var bytes = try await read(offset, count)
        guard !bytes.isEmpty else { throw FerryError(.failedPrecondition, "the input ended at byte \(offset), before its \(size) bytes were read") }
        if offset + bytes.count >= size { return (bytes, bytes.count) }
        while true {
            if let last = bytes.lastIndex(of: 0x0A) {
                bytes.removeSubrange((last + 1)...)
                return (bytes, bytes.count)
            }
            let more = try await read(offset + bytes.count, count)
            if more.isEmpty { return (bytes, bytes.count) }
            bytes += more
        }
    }
}
