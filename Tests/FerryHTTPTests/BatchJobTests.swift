import Crypto
import FerryCore
import FerryEngine
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// Batch scoring end to end: upload, submit, score, results and errors files, checkpoints and resumption, cancel,
/// the completion webhook, and each way an input is refused.
struct BatchJobTests {
    /// The example rows as CSV with an `id` key column (the feature order reversed: columns are matched by name),
    /// then a row with text in a number column and a row too short.
    static func exampleCSV() throws -> (csv: String, expected: [Double]) {
        let e = try TestStack.exampleExpectations()
        let names = Array(e.feature_names.reversed())
        var lines = [(["id"] + names).joined(separator: ",")]
        for (i, row) in e.rows.enumerated() {
            lines.append((["tx-\(i)"] + row.reversed().map { $0.map { "\($0)" } ?? "" }).joined(separator: ","))
        }
        lines.append((["bad-text"] + names.map { _ in "1" }.dropLast() + ["lots"]).joined(separator: ","))
        lines.append("short,1,2")
        return (lines.joined(separator: "\n") + "\n", e.probabilities)
    }

    static func submit(_ client: any TestClientProtocol, _ csv: String, extra: String = "") async throws -> TestResponse {
        let upload = try await client.execute(
            uri: "/api/v1/jobs/uploads", method: .post, headers: [.contentType: "text/csv"], body: ByteBuffer(string: csv))
        #expect(upload.status == .created, "\(upload.text)")
        let ref = try #require(upload.json["upload"] as? [String: Any])
        return try await client.post(
            "/api/v1/jobs", #"{"model": "fraud", "input": {"upload": {"sha256": "\#(ref["sha256"] as? String ?? "")", "size": \#(ref["size"] as? Int ?? 0)}}, "key_columns": ["id"]\#(extra)}"#)
    }

    /// The results file's rows: id → score.
    static func scores(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            out[String(fields[1])] = Double(fields[2])
        }
        return out
    }

    @Test(arguments: [false, true])
    func aJobScoresEveryRowKeepsBadRowsAsideAndReportsProgress(postgres: Bool) async throws {
        try await withFerry(postgres: postgres) { client, stack in
            let (csv, expected) = try Self.exampleCSV()
            let queued = try await Self.submit(client, csv)
            #expect(queued.status == .accepted && queued.json["state"] as? String == "queued" && queued.json["version"] as? Int == 1, "\(queued.text)")
            let id = try #require(queued.json["id"] as? String)
            await stack.server.jobs.tick()

            let job = try await client.get("/api/v1/jobs/\(id)").json
            let progress = job["progress"] as? [String: Any] ?? [:]
            #expect(job["state"] as? String == "succeeded", "\(job)")
            #expect(progress["rows_done"] as? Int == expected.count && progress["rows_failed"] as? Int == 2 && progress["fraction"] as? Double == 1, "\(progress)")
            #expect(progress["bytes_done"] as? Int == csv.utf8.count)

            let results = try await client.get("/api/v1/jobs/\(id)/results")
            #expect(results.status == .ok && results.text.hasPrefix("row,id,"), "\(results.text.prefix(200))")
            let scores = Self.scores(results.text)
            #expect(scores.count == expected.count)
            for (i, p) in expected.enumerated() {
                #expect(abs((scores["tx-\(i)"] ?? -1) - p) < 1e-6, "row \(i): \(scores["tx-\(i)"] ?? -1) vs xgboost's \(p)")
            }
            let errors = try await client.get("/api/v1/jobs/\(id)/errors").text.split(separator: "\n")
            #expect(errors.count == 3 && errors[0] == "row,error", "\(errors)")
            #expect(errors[1].hasPrefix("\(expected.count + 1),") && errors[1].contains("expected a number, got \"\"lots\"\""), "\(errors)")
            #expect(errors[2].hasPrefix("\(expected.count + 2),") && errors[2].contains("has 3 fields; the header has"), "\(errors)")
            let listed = try await client.get("/api/v1/jobs").json["items"] as? [[String: Any]] ?? []
            #expect(listed.map { $0["id"] as? String } == [id])
            let actions = try await stack.store.auditEntries(after: 0, limit: 1000).map(\.action)
            #expect(["job.submit", "job.start", "job.finish"].allSatisfy(actions.contains), "\(actions)")
        }
    }

    /// JSON Lines rows are read by name and typed as a V1 request's are: a number in text is refused, not read out of
    /// it (before, a job scored `"amount": "12"` as 12 while V1 refused it and validation flagged it).
    @Test func jsonLinesRowsAreTypedAsInAV1Request() async throws {
        try await withFerry { client, stack in
            let e = try TestStack.exampleExpectations()
            var lines: [String] = []
            for (i, row) in e.rows.enumerated() {
                let fields = zip(e.feature_names, row).map { "\"\($0)\": \($1.map { "\($0)" } ?? "null")" }
                lines.append("{\"id\": \"tx-\(i)\", " + fields.joined(separator: ", ") + "}")
            }
            let text = lines[0].replacingOccurrences(of: "\"\(e.feature_names[0])\": ", with: "\"\(e.feature_names[0])\": \"12\", \"was\": ")
            // A feature misspelt is missing, not a missing value (only null is); a key keeps its digits.
            let misspelt = lines[1].replacingOccurrences(of: "\"\(e.feature_names[1])\": ", with: "\"\(e.feature_names[1])X\": ")
            let numbered = lines[0].replacingOccurrences(of: "\"id\": \"tx-0\"", with: "\"id\": 1234567890123456789")
            lines += [text, "[1, 2]", misspelt, "{}", numbered]
            let upload = try await client.execute(
                uri: "/api/v1/jobs/uploads", method: .post, body: ByteBuffer(string: lines.joined(separator: "\n") + "\n"))
            let ref = try #require(upload.json["upload"] as? [String: Any])
            let id = try #require(try await client.post(
                "/api/v1/jobs", #"{"model": "fraud", "format": "jsonl", "input": {"upload": {"sha256": "\#(ref["sha256"] as? String ?? "")", "size": \#(ref["size"] as? Int ?? 0)}}, "key_columns": ["id"]}"#).json["id"] as? String)
            await stack.server.jobs.tick()
            let scores = Self.scores(try await client.get("/api/v1/jobs/\(id)/results").text)
            #expect(scores.count == e.probabilities.count + 1)
            for (i, p) in e.probabilities.enumerated() {
                #expect(abs((scores["tx-\(i)"] ?? -1) - p) < 1e-6, "row \(i): \(scores["tx-\(i)"] ?? -1) vs xgboost's \(p)")
            }
            #expect(abs((scores["1234567890123456789"] ?? -1) - e.probabilities[0]) < 1e-6, "the numbered key as written: \(scores.keys.sorted())")
            let errors = try await client.get("/api/v1/jobs/\(id)/errors").text.split(separator: "\n")
            #expect(errors.count == 5, "\(errors)")
            #expect(errors.count == 5 && errors[1].contains("feature '\(e.feature_names[0])': expected a number, got the string \"\"12\"\""), "\(errors)")
            #expect(errors.count == 5 && errors[2].contains("the line is not a JSON object"), "\(errors)")
            #expect(errors.count == 5 && errors[3].contains("feature '\(e.feature_names[1])' is missing (send null for a missing value)"), "\(errors)")
            #expect(errors.count == 5 && errors[4].contains("feature '\(e.feature_names[0])' is missing"), "\(errors)")
        }
    }

    /// A file none of whose rows can be scored is a wrong file (or a wrong model), not a few bad rows: the job fails,
    /// its reason names the first row's error, and its results still have the model's columns.
    @Test func aJobWhoseEveryRowFailsFailsAndItsResultsKeepTheirColumns() async throws {
        try await withFerry { client, stack in
            let (csv, _) = try Self.exampleCSV()
            let good = try #require(try await Self.submit(client, csv).json["id"] as? String)
            let header = csv.prefix { $0 != "\n" }
            let bad = try #require(try await Self.submit(client, header + "\n" + "short,1,2\nshorter,1\n").json["id"] as? String)
            await stack.server.jobs.tick()
            let done = try await client.get("/api/v1/jobs/\(good)/results").text
            let failed = try await client.get("/api/v1/jobs/\(bad)").json
            #expect(failed["state"] as? String == "failed", "\(failed)")
            let reason = failed["reason"] as? String ?? ""
            #expect(reason.contains("none of the 2 rows could be scored (row 1: ") && reason.contains("has 3 fields"), "\(reason)")
            let results = try await client.get("/api/v1/jobs/\(bad)/results").text
            #expect(results == done.prefix { $0 != "\n" } + "\n", "\(results) against \(done.prefix(80))")
            #expect(try await client.get("/api/v1/jobs/\(bad)/errors").text.split(separator: "\n").count == 3)
        }
    }

    /// A scorer of the stack's model reading small chunks, stopped after `chunks` of them.
    static func scorer(_ stack: TestStack, folder: URL? = nil, artifacts: (any ArtifactStore)? = nil) -> BatchScoring {
        BatchScoring(
            store: stack.store, models: stack.models, endpoints: stack.endpoints, artifacts: artifacts ?? stack.artifacts, sender: nil, retryDelays: [],
            inputDirectories: folder.map { [$0.path] } ?? [], chunkBytes: 600, logger: Logger(label: "test"))
    }

    /// A fresh folder holding `rows.csv`, the example rows; the caller removes it.
    static func folderWithRows() throws -> (folder: URL, file: URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-jobs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("rows.csv")
        try exampleCSV().csv.write(to: file, atomically: true, encoding: .utf8)
        return (folder, file)
    }

    static func stopping(after chunks: Int) -> @Sendable () -> Bool {
        let calls = Mutex(0)
        return { calls.withLock { $0 += 1; return $0 <= chunks } }
    }

    @Test func aStoppedJobResumesFromItsCheckpointAndNoRowIsScoredTwice() async throws {
        try await withFerry { client, stack in
            let (csv, expected) = try Self.exampleCSV()
            let id = try #require(try await Self.submit(client, csv).json["id"] as? String)
            let scorer = Self.scorer(stack)
            let stopped = await scorer.execute(try await scorer.job(id: id), while: Self.stopping(after: 2))
            #expect(stopped.state == .running && stopped.outputChunks.count == 2 && stopped.rowsDone > 0 && stopped.rowsDone < expected.count, "\(stopped.rowsDone)")
            // As after a restart: the runner picks the running job up where its checkpoint says.
            await scorer.tick()
            let done = try await scorer.job(id: id)
            #expect(done.state == .succeeded && done.rowsDone == expected.count && done.rowsFailed == 2, "\(done.reason)")
            let lines = try await client.get("/api/v1/jobs/\(id)/results").text.split(separator: "\n").dropFirst()
            let rows = lines.map { Int($0.split(separator: ",")[0]) ?? -1 }
            #expect(rows == Array(1...expected.count), "each row once, in order")
            #expect(Self.scores(try await client.get("/api/v1/jobs/\(id)/results").text).count == expected.count)
        }
    }

    @Test func aJobReadsAllowedPathsAndFailsCleanlyWhenItsFileDisappears() async throws {
        try await withFerry { client, stack in
            let (folder, file) = try Self.folderWithRows()
            defer { try? FileManager.default.removeItem(at: folder) }
            let scorer = Self.scorer(stack, folder: folder)
            let refused = try await client.post("/api/v1/jobs", #"{"model": "fraud", "input": {"path": "\#(file.path)"}}"#)
            #expect(refused.status == .forbidden && refused.errorMessage.contains("--job-input-dir"), "the server's own scorer reads no paths: \(refused.text)")
            await #expect(throws: FerryError.self) {
                _ = try await scorer.submit(.init(model: "fraud", input: .path("/etc/passwd")), by: "test")
            }
            // An empty file is refused as an empty upload is, in either format.
            let empty = folder.appendingPathComponent("empty.jsonl")
            try Data().write(to: empty)
            for format in [BatchJob.Format.jsonl, .csv] {
                await #expect {
                    _ = try await scorer.submit(.init(model: "fraud", input: .path(empty.path), format: format), by: "test")
                } throws: { ($0 as? FerryError)?.message.contains("names '\(empty.path)', which is empty") == true }
            }
            let job = try await scorer.submit(.init(model: "fraud", input: .path(file.path), keyColumns: ["id"]), by: "test")
            let stopped = await scorer.execute(job, while: Self.stopping(after: 1))
            #expect(stopped.state == .running && stopped.outputChunks.count == 1)
            try FileManager.default.removeItem(at: file)
            let failed = await scorer.execute(stopped)
            #expect(failed.state == .failed && failed.reason.contains("is gone"), "\(failed.reason)")
            #expect(failed.outputChunks.count == 1 && failed.rowsDone == stopped.rowsDone, "what was written stays")
            #expect(try await client.get("/api/v1/jobs/\(job.id)/results").text.split(separator: "\n").count == stopped.rowsDone + 1)
        }
    }

    /// A byte order mark before the header (spreadsheet programs write one) is not part of the first column's name;
    /// a row with a quote never closed is an error of that row, said without a line number of its own.
    @Test func aFileFromASpreadsheetIsScoredAsWithoutItsMark() async throws {
        try await withFerry { client, stack in
            let (csv, expected) = try Self.exampleCSV()
            let unclosed = "\"open" + String(repeating: ",1", count: 12)
            // The second line of an id quoted over two lines: before, scored as a row with the id `two"`.
            let rest = "two\"" + String(repeating: ",1", count: 12)
            let id = try #require(try await Self.submit(client, "\u{FEFF}" + csv + unclosed + "\n" + rest + "\n").json["id"] as? String)
            let scorer = Self.scorer(stack)
            await scorer.tick()
            let done = try await scorer.job(id: id)
            #expect(done.state == .succeeded && done.rowsDone == expected.count && done.rowsFailed == 4, "\(done.state) \(done.reason)")
            let errors = try await client.get("/api/v1/jobs/\(id)/errors").text
            #expect(errors.contains("the row has a quote that is never closed") && !errors.contains("line 0"), "\(errors)")
            #expect(errors.contains("\(expected.count + 4),\"the row has a quote inside a field that does not start with one"), "\(errors)")
        }
    }

    /// A file replaced (renamed over) or written to in place while its job runs, or while the server is down, even
    /// at the same size, fails the job: before, the job went on with the new file's rows after the old one's.
    @Test(arguments: ["replaced", "written to"])
    func aJobWhoseFileChangesAtTheSameSizeFails(_ how: String) async throws {
        try await withFerry { client, stack in
            let (folder, file) = try Self.folderWithRows()
            defer { try? FileManager.default.removeItem(at: folder) }
            let scorer = Self.scorer(stack, folder: folder)
            let job = try await scorer.submit(.init(model: "fraud", input: .path(file.path), keyColumns: ["id"]), by: "test")
            let stopped = await scorer.execute(job, while: Self.stopping(after: 1))
            #expect(stopped.state == .running && stopped.outputChunks.count == 1 && stopped.inputStamp != nil)
            let original = try Data(contentsOf: file)
            var changed = original
            changed[changed.count - 2] = changed[changed.count - 2] == 0x31 ? 0x32 : 0x31
            if how == "replaced" {
                let other = folder.appendingPathComponent("next.csv")
                try changed.write(to: other)
                #expect(rename(other.path, file.path) == 0)
            } else {
                try await Task.sleep(for: .milliseconds(20))
                let handle = try FileHandle(forWritingTo: file)
                try handle.seek(toOffset: UInt64(changed.count - 2))
                try handle.write(contentsOf: changed[(changed.count - 2)...])
                try handle.close()
            }
            #expect(try Data(contentsOf: file).count == original.count, "the same size")
            let failed = await scorer.execute(try await scorer.job(id: job.id))
            #expect(failed.state == .failed && failed.reason.contains("the input file changed while the job ran"), "\(failed.state) \(failed.reason)")
            #expect(failed.outputChunks.count == 1 && failed.rowsDone == stopped.rowsDone, "what was written stays")
        }
    }

    /// The artifact store on a disk that fills up after `room` more artifacts: each later `put` fails as
    /// `LocalArtifactStore`'s does when `write` returns ENOSPC (`localStoreSaysItsDiskIsFull` checks that one).
    final class FillingDisk: ArtifactStore {
        let inner: any ArtifactStore
        let room: Mutex<Int>
        init(_ inner: any ArtifactStore, room: Int) {
            self.inner = inner
            self.room = Mutex(room)
        }

        func put(_ data: Data) async throws -> ArtifactRef {
            guard room.withLock({ left in
                left -= 1
                return left >= 0
            }) else {
                let write = FerryError(.unavailable, "write /data/artifacts/tmp/chunk failed: \(String(cString: strerror(ENOSPC)))")
                let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
                throw FerryError(.unavailable, "could not store artifact sha256:\(digest): the disk holding /data/artifacts is full; free space and retry", cause: write)
            }
            return try await inner.put(data)
        }
        func get(_ ref: ArtifactRef) async throws -> Data { try await inner.get(ref) }
        func contains(sha256: String) async throws -> Bool { try await inner.contains(sha256: sha256) }
        func delete(sha256: String) async throws { try await inner.delete(sha256: sha256) }
    }

    /// A disk that fills up mid-job: the job fails with the storage's own reason, and what it recorded is whole
    /// chunks: the results file reads back exactly the rows its progress counts, each once and in order.
    @Test func aJobOnADiskThatFillsUpFailsWithTheReasonAndKeepsWhatItStored() async throws {
        try await withFerry { client, stack in
            let (folder, file) = try Self.folderWithRows()
            defer { try? FileManager.default.removeItem(at: folder) }
            let scorer = Self.scorer(stack, folder: folder, artifacts: FillingDisk(stack.artifacts, room: 2))
            let job = try await scorer.submit(.init(model: "fraud", input: .path(file.path), keyColumns: ["id"]), by: "test")
            let failed = await scorer.execute(job)
            #expect(failed.state == .failed && failed.reason.contains("No space left on device") && failed.reason.contains("is full"), "\(failed.reason)")
            #expect(failed.outputChunks.count == 2 && failed.rowsDone > 0 && failed.bytesDone < failed.inputBytes ?? 0, "two chunks stored, then the disk was full")
            let stored = try await scorer.job(id: job.id)
            #expect(stored.state == .failed && stored.rowsDone == failed.rowsDone && stored.outputChunks == failed.outputChunks)
            let rows = try await client.get("/api/v1/jobs/\(job.id)/results").text.split(separator: "\n").dropFirst().map { Int($0.split(separator: ",")[0]) ?? -1 }
            #expect(rows == Array(1...failed.rowsDone), "what was written stays whole: \(rows)")
        }
    }

    @Test func queuedAndRunningJobsCanBeCancelled() async throws {
        try await withFerry { client, stack in
            let (csv, _) = try Self.exampleCSV()
            let id = try #require(try await Self.submit(client, csv).json["id"] as? String)
            let cancelled = try await client.post("/api/v1/jobs/\(id)/cancel", "")
            #expect(cancelled.status == .ok && cancelled.json["state"] as? String == "cancelled", "\(cancelled.text)")
            await stack.server.jobs.tick()
            #expect(try await stack.server.jobs.job(id: id).state == .cancelled, "not run")
            #expect(try await client.post("/api/v1/jobs/\(id)/cancel", "").status == .conflict)

            let second = try #require(try await Self.submit(client, csv).json["id"] as? String)
            let scorer = Self.scorer(stack)
            let running = await scorer.execute(try await scorer.job(id: second), while: Self.stopping(after: 1))
            #expect(try await client.post("/api/v1/jobs/\(second)/cancel", "").status == .ok)
            let after = await scorer.execute(running)
            #expect(after.state == .cancelled && after.rowsDone == running.rowsDone, "the runner stops at its next checkpoint: \(after.state)")
        }
    }

    @Test func submissionsAreRefusedByField() async throws {
        try await withFerry { client, stack in
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"model": "nope", "input": {"path": "/tmp/x.csv"}}"#, .notFound, "nope"),
                (#"{"model": "fraud", "input": {}}"#, .badRequest, "field 'input'"),
                (#"{"input": {"path": "/tmp/x.csv"}}"#, .badRequest, "exactly one of field 'model' or field 'endpoint'"),
                (#"{"model": "fraud", "input": {"path": "/tmp/x.csv"}, "format": "xlsx"}"#, .badRequest, "field 'format'"),
                (#"{"model": "fraud", "input": {"upload": {"sha256": "00", "size": 3}}}"#, .notFound, "field 'input.upload'"),
                (#"{"model": "fraud", "input": {"path": "/tmp/x.csv"}, "webhook": {"url": "nowhere"}}"#, .badRequest, "field 'webhook'"),
            ]
            for (body, status, message) in cases {
                let response = try await client.post("/api/v1/jobs", body)
                #expect(response.status == status && response.errorMessage.contains(message), "\(body): \(response.text)")
            }
            let missing = try await Self.submit(client, "id,amount\n1,2\n")
            #expect(missing.status == .badRequest && missing.errorMessage.contains("has no column"), "\(missing.text)")
            // A header of megabytes is not repeated in the answer.
            let wide = try await Self.submit(client, "id," + String(repeating: "x", count: 100_000) + "\n1,2\n")
            #expect(wide.status == .badRequest && wide.errorMessage.contains("has no column") && wide.text.count < 2_000, "\(wide.text.prefix(300))")
            // Ambiguous columns: a feature named twice in the header, a key column asked for twice.
            let (csv, _) = try Self.exampleCSV()
            var lines = csv.split(separator: "\n").map(String.init)
            lines[0] += ",amount"
            lines = lines.enumerated().map { $0 == 0 ? $1 : $1 + ",1" }
            let twice = try await Self.submit(client, lines.joined(separator: "\n") + "\n")
            #expect(twice.status == .badRequest && twice.errorMessage.contains("names the column 'amount' (a feature of the model) twice in its header"), "\(twice.text)")
            let uploaded = try await client.execute(uri: "/api/v1/jobs/uploads", method: .post, headers: [.contentType: "text/csv"], body: ByteBuffer(string: csv))
            let ref = try #require(uploaded.json["upload"] as? [String: Any])
            let keys = try await client.post("/api/v1/jobs", #"{"model": "fraud", "input": {"upload": {"sha256": "\#(ref["sha256"] as? String ?? "")", "size": \#(ref["size"] as? Int ?? 0)}}, "key_columns": ["id", "id"]}"#)
            #expect(keys.status == .badRequest && keys.errorMessage.contains("field 'key_columns' item 1 names 'id' again"), "\(keys.text)")
            // A real upload named with the wrong size is the caller's mistake, not the server's.
            let upload = try await client.execute(uri: "/api/v1/jobs/uploads", method: .post, body: ByteBuffer(string: "id,amount\n1,2\n"))
            let sha = try #require((upload.json["upload"] as? [String: Any])?["sha256"] as? String)
            for format in ["csv", "jsonl"] {
                let wrong = try await client.post("/api/v1/jobs", #"{"model": "fraud", "format": "\#(format)", "input": {"upload": {"sha256": "\#(sha)", "size": 1}}}"#)
                #expect(wrong.status == .badRequest && wrong.errorMessage.contains("field 'input.upload'"), "\(wrong.text)")
            }
            #expect(try await client.get("/api/v1/jobs/job_nope").status == .notFound)
            // A model's file is not an upload, though it is stored in the same place.
            let model = try await stack.registry.version(model: "fraud", number: 1).artifact
            let named = try await client.post("/api/v1/jobs", #"{"model": "fraud", "input": {"upload": {"sha256": "\#(model.sha256)", "size": \#(model.size)}}}"#)
            #expect(named.status == .notFound && named.errorMessage.contains("which is not an uploaded file"), "\(named.text)")
        }
    }

    /// The webhook is told off the runner (a webhook that does not answer held up the next job for a minute), for a
    /// cancelled job too, and again once the server runs when a restart cut its delivery short.
    @Test func everyEndIsToldAndAStopDoesNotLoseIt() async throws {
        let receiver = WebhookReceiver(failures: 0)
        try await receiver.run { url in
            try await withFerry { client, stack in
                let (csv, _) = try Self.exampleCSV()
                let hook = #", "webhook": {"url": "\#(url)"}"#
                let cancelled = try #require(try await Self.submit(client, csv, extra: hook).json["id"] as? String)
                #expect(try await client.post("/api/v1/jobs/\(cancelled)/cancel", "").status == .ok)
                await stack.server.jobs.waitForDeliveries()
                func states() -> [String] {
                    receiver.deliveries.withLock { $0.compactMap { (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any])?["state"] as? String } }
                }
                #expect(states() == ["cancelled"])
                let done = try #require(try await Self.submit(client, csv, extra: hook).json["id"] as? String)
                await stack.server.jobs.tick()
                await stack.server.jobs.waitForDeliveries()
                #expect(states() == ["cancelled", "succeeded"])
                #expect(try await stack.server.jobs.job(id: done).webhookPending == false, "told, so not told again")
                // As a stop before the delivery leaves it: the runner tells it once it leads.
                var job = try await stack.server.jobs.job(id: done)
                job.webhookPending = true
                #expect(try await stack.store.updateBatchJob(job, expected: .succeeded, audit: nil))
                let runner = Task { await stack.server.jobs.run(interval: .milliseconds(10)) }
                for _ in 0..<500 where states().count < 3 { try await Task.sleep(for: .milliseconds(10)) }
                stack.server.jobs.finish()
                await runner.value
                await stack.server.jobs.waitForDeliveries()
                #expect(states() == ["cancelled", "succeeded", "succeeded"])
                #expect(try await stack.server.jobs.job(id: done).webhookPending == false)
            }
        }
    }

    /// A key limited to some models lists its jobs among everyone's newest, not within the newest `limit` of them.
    @Test func aKeyLimitedToOneModelListsItsOwnJobs() async throws {
        try await withFerry(authenticated: true) { client, stack in
            _ = try await stack.registry.register(.init(model: "other", artifact: try TestStack.exampleModel(), createdBy: "t"))
            let admin = try await stack.authenticator.createKey(name: "a", role: .admin, by: "t").secret
            let (csv, _) = try Self.exampleCSV()
            let upload = try await client.execute(
                uri: "/api/v1/jobs/uploads", method: .post, headers: [.contentType: "text/csv", .authorization: "Bearer \(admin)"], body: ByteBuffer(string: csv))
            let ref = try #require(upload.json["upload"] as? [String: Any])
            let input = #"{"upload": {"sha256": "\#(ref["sha256"] as? String ?? "")", "size": \#(ref["size"] as? Int ?? 0)}}"#
            func submit(_ model: String) async throws -> String? {
                try await client.post("/api/v1/jobs", #"{"model": "\#(model)", "input": \#(input)}"#, headers: [.authorization: "Bearer \(admin)"]).json["id"] as? String
            }
            let own = try #require(try await submit("fraud"))
            for _ in 0..<3 { #expect(try await submit("other") != nil) }
            let key = try await stack.authenticator.createKey(name: "f", role: .viewer, models: ["fraud"], by: "t").secret
            let listed = try await client.execute(uri: "/api/v1/jobs?limit=2", method: .get, headers: [.authorization: "Bearer \(key)"])
            #expect((listed.json["items"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [own], "\(listed.text)")
        }
    }

    /// A stored chunk gone missing is an error before the answer starts, not an answer cut short midway.
    @Test func aMissingOutputChunkIsAnErrorBeforeTheAnswer() async throws {
        try await withFerry { client, stack in
            let (csv, _) = try Self.exampleCSV()
            let id = try #require(try await Self.submit(client, csv).json["id"] as? String)
            await stack.server.jobs.tick()
            let job = try await stack.server.jobs.job(id: id)
            try await stack.artifacts.delete(sha256: try #require(job.outputChunks.first).sha256)
            let results = try await client.get("/api/v1/jobs/\(id)/results")
            #expect(results.status == .internalServerError && results.errorMessage.contains("internal error"), "\(results.status) \(results.text)")
        }
    }

    @Test func theWebhookHearsHowTheJobEnded() async throws {
        let receiver = WebhookReceiver(failures: 1)
        try await receiver.run { url in
            try await withFerry { client, stack in
                let (csv, expected) = try Self.exampleCSV()
                let id = try #require(try await Self.submit(client, csv, extra: #", "webhook": {"url": "\#(url)", "secret": "s3cret"}"#).json["id"] as? String)
                await stack.server.jobs.tick()
                await stack.server.jobs.waitForDeliveries()
                let hook = try #require(receiver.deliveries.withLock { $0.first })
                let timestamp = try #require(hook.headers[HTTPField.Name("Ferry-Timestamp")!])
                #expect(hook.headers[HTTPField.Name("Ferry-Signature")!] == AlertManager.signature(secret: "s3cret", timestamp: timestamp, body: hook.body))
                let payload = try #require(try JSONSerialization.jsonObject(with: hook.body) as? [String: Any])
                #expect(payload["job"] as? String == id && payload["state"] as? String == "succeeded" && payload["rows_done"] as? Int == expected.count)
            }
        }
    }
}
