import FerryCore
import Foundation
import Logging

/// Data validation before a file is trained on or scored: a version's expectations (derived from its schema and
/// reference profile until someone edits them), a file checked against them in one streaming pass, its failing rows
/// kept in a quarantine (in the artifact store, with the rules each broke) and the report kept with the run.
public final class DataValidation: Sendable {
    let store: any ValidationStore
    private let registry: Registry
    private let models: ModelManager
    private let monitor: ModelMonitor?
    private let artifacts: any ArtifactStore
    private let logger: Logger
    private let now: @Sendable () -> Date
    /// Bytes read (and quarantine pieces written) at a time.
    let blockBytes: Int
    /// Folders whose files a validation may read by path (the operator's `--job-input-dir`, shared with batch jobs).
    let inputFolders: ReadableFolders

    public init(
        store: any ValidationStore, registry: Registry, models: ModelManager, monitor: ModelMonitor?, artifacts: any ArtifactStore,
        logger: Logger, blockBytes: Int = 4 << 20, inputFolders: ReadableFolders = ReadableFolders([]), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.inputFolders = inputFolders
        self.registry = registry
        self.models = models
        self.monitor = monitor
        self.artifacts = artifacts
        self.logger = logger
        self.blockBytes = blockBytes
        self.now = { now().roundedToMilliseconds }
    }

    /// The version a selector names (the served one by default).
    public func version(model: String, selector: VersionSelector) async throws -> ModelVersion {
        try await models.served(model: model, selector: selector).version
    }

    /// The version's expectations: the edited ones, else those its schema and reference imply.
    public func expectations(of version: ModelVersion) async throws -> Expectations {
        if let stored = try await store.expectations(model: version.model, version: version.version) { return stored }
        return Expectations.derive(
            model: version.model, version: version.version, schema: version.inputSchema, reference: try await reference(of: version),
            by: "ferry", at: version.createdAt)
    }

    private func reference(of version: ModelVersion) async throws -> ReferenceProfile? {
        try await registry.store.referenceProfile(model: version.model, version: version.version)
    }

    /// Replaces a version's expectations (checked, naming the field at fault).
    public func setExpectations(_ given: Expectations, by actor: String) async throws -> Expectations {
        var expectations = given
        _ = try await registry.version(model: given.model, number: given.version)
        (expectations.origin, expectations.updatedBy, expectations.updatedAt) = ("edited", actor, now())
        try expectations.validate()
        let time = expectations.updatedAt
        try await store.putExpectations(expectations) { e in
            AuditDraft(at: time, actor: actor, action: "expectations.set", target: "\(e.model)/\(e.version)", after: try JSONValue(encoding: e.columns))
        }
        return expectations
    }

    /// Drops a version's edited expectations, so they are derived from its schema and reference again; returns those.
    public func resetExpectations(of version: ModelVersion, by actor: String) async throws -> Expectations {
        let time = now()
        _ = try await store.removeExpectations(model: version.model, version: version.version) { e in
            AuditDraft(at: time, actor: actor, action: "expectations.reset", target: "\(e.model)/\(e.version)", before: try JSONValue(encoding: e.columns))
        }
        return try await expectations(of: version)
    }

    /// Checks a file the server reads by `path`, which must lie inside the operator's input folders (`field` names it
    /// in errors): a file on a volume the server shares is checked without being uploaded.
    public func validate(version: ModelVersion, path: String, field: String, format: BatchJob.Format, by actor: String) async throws -> ValidationRun {
        let resolved = try inputFolders.file(path, field: field, holding: "validations", flag: "--job-input-dir")
        return try await validate(version: version, file: URL(fileURLWithPath: resolved), format: format, source: path, by: actor)
    }

    /// Checks `file` against the version's expectations and keeps the run (report and quarantine), reading it a
    /// block at a time into one kept buffer.
    public func validate(
        version: ModelVersion, file: URL, format: BatchJob.Format, source: String, by actor: String
    ) async throws -> ValidationRun {
        let descriptor = open(file.path, O_RDONLY)
        guard descriptor >= 0 else { throw FerryError.invalid("\(source) cannot be read: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var status = stat()
        let bytes = fstat(descriptor, &status) == 0 ? Int(status.st_size) : nil
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockBytes, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        return try await validate(version: version, format: format, source: source, by: actor, expectedBytes: bytes) { pending in
            while true {
                let n = read(descriptor, buffer.baseAddress, buffer.count)
                if n < 0, errno == EINTR { continue }
                guard n >= 0 else {
                    throw FerryError(.failedPrecondition, "\(source) could not be read at byte \(offset): \(String(cString: strerror(errno)))")
                }
                guard n > 0 else { return false }
                offset += n
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                return true
            }
        }
    }

    /// Checks the bytes `next` appends to the bytes pending, piece after piece (it returns false when there are no
    /// more), as they come: an upload is checked while it arrives, never stored whole. `expectedBytes`, the file's size
    /// when known, sizes the uniqueness tables from the first block's rows.
    public func validate(
        version: ModelVersion, format: BatchJob.Format, source: String, by actor: String, expectedBytes: Int? = nil,
        next: (inout [UInt8]) async throws -> Bool
    ) async throws -> ValidationRun {
        let expectations = try await expectations(of: version)
        let reference = try await reference(of: version)
        var checker: DataChecker?
        var rules: DataChecker.Rules?
        var started = false
        // Two blocks at once while the next one arrives, each on threads of its own: one being scanned (step 1), the
        // one before it in steps 2 and 3.
        var scanning: (lines: [UInt8], range: Range<Int>, parts: Task<[DataChecker.Part], Never>)?
        var finishing: Task<(DataChecker, Data, [UInt8]), Never>?
        var pending: [UInt8] = []
        pending.reserveCapacity(2 * blockBytes)
        // Buffers of blocks checked, which the next blocks reuse: no block grows a fresh buffer page by page.
        var spares: [[UInt8]] = []
        var quarantine = Data()
        // The quarantine's pieces, stored (written and synced) while the check goes on; in order.
        var pieces: [Task<ArtifactRef, any Error>] = []
        let artifacts = self.artifacts
        func keep(_ piece: Data) { pieces.append(Task { try await artifacts.put(piece) }) }
        var header: String?
        /// Waits for the block in steps 2 and 3, taking back the checker, what it quarantined and its buffer.
        func settle() async {
            guard let task = finishing else { return }
            finishing = nil
            let (done, found, lines) = await task.value
            checker = done
            quarantine.append(found)
            spares.append(lines)
        }
        /// Moves the block scanned into steps 2 and 3, once the block before it is through them.
        func advance() async {
            guard let block = scanning else { return }
            scanning = nil
            await settle()
            finishing = Self.finish(checker!, block.lines, block.range, await block.parts.value)
            checker = nil
        }
        while true {
            let atEnd = try await !next(&pending)
            // A block at a time (an upload comes in pieces much smaller), so it is checked on every core.
            if !atEnd && pending.count < blockBytes { continue }
            // Whole lines only, except at the end.
            var cut = pending.count
            if !atEnd {
                guard let last = pending.lastIndex(of: 0x0A) else { continue }
                cut = last + 1
            }
            var start = 0
            if !started {
                // A byte order mark (spreadsheet programs write one) is not part of the first line.
                start = CSVTable.byteOrderMarkLength(pending[..<cut])
                if format == .csv {
                    guard let newline = pending[start..<cut].firstIndex(of: 0x0A) ?? (atEnd && !pending.isEmpty ? pending.count : nil) else {
                        if atEnd { break }
                        continue
                    }
                    var line = pending[start..<newline]
                    if line.last == 0x0D { line = line.dropLast() }
                    header = String(decoding: line, as: UTF8.self)
                    start = min(newline + 1, cut)
                }
                checker = try DataChecker(format: format, header: header, expectations: expectations, reference: reference, source: source)
                rules = checker?.rules
                started = true
                if let expectedBytes, cut > start {
                    // At most 16 Mi slots (128 MiB) per table up front, whatever a request declares; past that the
                    // tables grow as rows arrive.
                    let rows = pending[start..<cut].withUnsafeBytes { CSVTable.lineFeeds($0) }
                    checker?.reserve(rows: min(11_000_000, Int(Double(expectedBytes) / Double(cut - start) * Double(rows) * 1.05)))
                }
            }
            var rest = spares.popLast() ?? []
            rest.removeAll(keepingCapacity: true)
            rest.append(contentsOf: pending[cut...])
            let lines = pending
            pending = rest
            let scanned = (lines, start..<cut, Self.scan(rules!, lines, start..<cut))
            await advance()
            scanning = scanned
            if quarantine.count >= blockBytes {
                keep(quarantine)
                quarantine = Data()
            }
            if atEnd { break }
        }
        await advance()
        await settle()
        if !quarantine.isEmpty { keep(quarantine) }
        var stored: [ArtifactRef] = []
        for piece in pieces { stored.append(try await piece.value) }
        guard let checker else { throw FerryError.invalid("\(source) is empty; it needs a header line and rows") }
        let quarantineHeader = format == .csv ? "row,rules," + (header ?? "") : nil
        let run = ValidationRun(
            id: "val_" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)), model: version.model,
            version: version.version, source: source, format: format, report: checker.report(), quarantine: stored,
            quarantineHeader: quarantineHeader, createdBy: actor, createdAt: now())
        try await store.createValidationRun(run) { r in
            AuditDraft(
                at: r.createdAt, actor: actor, action: "data.validate", target: "\(r.model)/\(r.version)",
                after: ["run": .string(r.id), "source": .string(r.source), "rows": .number(Double(r.report.rows)),
                        "quarantined_rows": .number(Double(r.report.quarantinedRows)), "passed": .bool(r.report.passed)])
        }
        logger.info("data validated", metadata: [
            "run": "\(run.id)", "model": "\(run.model)", "version": "\(run.version)", "rows": "\(run.report.rows)",
            "quarantined": "\(run.report.quarantinedRows)", "passed": "\(run.report.passed)"])
        return run
    }

    /// Step 1 for `range` of `lines` on a thread of its own (off the cooperative pool, which it would hold for the
    /// whole block; the scan spreads itself over the cores).
    private static func scan(_ rules: DataChecker.Rules, _ lines: [UInt8], _ range: Range<Int>) -> Task<[DataChecker.Part], Never> {
        Task {
            await OwnThreads.run(parts: 1, idle: false) { _ in
                lines.withUnsafeBufferPointer { rules.scan(UnsafeBufferPointer(rebasing: $0[range])) }
            }[0]
        }
    }

    /// Steps 2 and 3 for `range` of `lines`, scanned into `parts`, on a thread of its own.
    private static func finish(
        _ checker: DataChecker, _ lines: [UInt8], _ range: Range<Int>, _ parts: [DataChecker.Part]
    ) -> Task<(DataChecker, Data, [UInt8]), Never> {
        Task {
            let (checked, quarantine) = await OwnThreads.run(parts: 1, idle: false) { _ in
                var checker = checker
                var quarantine = Data()
                lines.withUnsafeBufferPointer { checker.finish(UnsafeBufferPointer(rebasing: $0[range]), parts, quarantine: &quarantine) }
                return (checker, quarantine)
            }[0]
            return (checked, quarantine, lines)
        }
    }

    public func run(id: String) async throws -> ValidationRun {
        guard let run = try await store.validationRun(id: id) else { throw FerryError.notFound("no validation run '\(id)'") }
        return run
    }

    public func runs(model: String, limit: Int) async throws -> [ValidationRun] {
        _ = try await registry.model(named: model)
        return try await store.validationRuns(model: model, limit: limit)
    }

    /// The quarantine as one file: the header (CSV), then every quarantined row in input order; `write` gets it a
    /// piece at a time.
    public func quarantine(of run: ValidationRun, write: (Data) async throws -> Void) async throws {
        if let header = run.quarantineHeader { try await write(Data((header + "\n").utf8)) }
        for piece in run.quarantine { try await write(try await artifacts.get(piece)) }
    }

    public func quarantine(of run: ValidationRun) async throws -> Data {
        var out = Data()
        try await quarantine(of: run) { out.append($0) }
        return out
    }
}

/// A run's report as a document (Markdown, or an HTML page that stands alone).
extension DataValidation {
    public static func document(_ run: ValidationRun) -> CardDocument {
        let r = run.report
        var blocks: [CardDocument.Block] = [
            .paragraph(r.passed ? "PASSED: every expectation holds." : "FAILED: \(r.results.filter { !$0.passed }.count) of \(r.results.count) expectations do not hold."),
            .facts([
                .init("File", run.source), .init("Model", "\(run.model) version \(run.version)"), .init("Rows", String(r.rows)),
                .init("Quarantined rows", String(r.quarantinedRows)), .init("Checked", "\(run.createdAt.formatted(.iso8601)) by \(run.createdBy)"),
            ]),
            .heading("Expectations"),
            .table(header: ["result", "rule", "column", "expected", "failing rows", "observed", "examples (row: value)"], rows: r.results.map { x in
                [x.passed ? "pass" : "FAIL", x.rule, x.column ?? "-", x.expected, String(x.failures), x.observed.map { Self.number($0) } ?? "-",
                 x.examples.map { "\($0.row): \($0.value)" }.joined(separator: "; ")]
            }),
        ]
        if r.quarantinedRows > 0 {
            blocks.append(.paragraph("The quarantined rows, each with the rules it broke: GET /api/v1/models/\(run.model)/validations/\(run.id)/quarantine."))
        }
        return CardDocument(title: "Validation \(run.id)", blocks: blocks)
    }

    static func number(_ v: Double) -> String { String(format: "%.4g", v) }
}
