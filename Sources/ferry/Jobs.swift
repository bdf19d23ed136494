import ArgumentParser
import Foundation

struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Batch scoring: score a CSV or JSON Lines file with a model, asynchronously, on the server.",
        discussion: """
            ferry jobs submit rows.csv --model fraud --key id --wait      # uploads rows.csv, follows the job with a progress bar
            ferry jobs submit --path /data/in/rows.csv --endpoint fraud   # a file under a folder of `ferry serve --job-input-dir`
            ferry jobs results job_0123456789abcdef --out scores.csv

            A job scores one model version (fixed when it is submitted) a chunk at a time on every core; each chunk's
            results are recorded with the input offset they reach, so a job cut short by a restart resumes where it
            stopped and no row appears twice. Rows that cannot be scored go to the job's errors file with the reason.
            """,
        subcommands: [Submit.self, List.self, Status.self, Cancel.self, Results.self]
    )

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a batch job (uploading FILE, or reading --path on the server).")
        @Argument(help: "A local CSV or JSON Lines file to upload.") var file: String?
        @Option(help: "A file the server reads (under a folder its operator allowed with --job-input-dir).") var path: String?
        @Option(help: "Model name.") var model: String?
        @Option(help: "Version number or alias (default: what the model serves).") var version: String?
        @Option(help: "Endpoint whose primary version scores the rows (instead of --model).") var endpoint: String?
        @Option(name: .customLong("key"), help: "An input column copied to each result row (repeatable).") var keys: [String] = []
        @Option(help: "csv or jsonl (default: from the file's name, else csv).") var format: String?
        @Option(help: "URL told when the job ends (a signed POST).") var webhook: String?
        @Option(name: .customLong("webhook-secret"), help: "Signs the webhook's POST.") var webhookSecret: String?
        @Flag(help: "Follow the job with a progress bar until it ends; exit status 1 unless it succeeded.") var wait = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (file == nil) != (path == nil) else {
                throw ValidationError(file == nil ? "give a local FILE to upload or --path on the server" : "give a local FILE to upload or --path on the server, not both")
            }
            guard (model == nil) != (endpoint == nil) else { throw ValidationError(model == nil ? "give --model or --endpoint" : "give --model or --endpoint, not both") }
            if webhookSecret != nil, webhook == nil { throw ValidationError("--webhook-secret signs --webhook's calls; give --webhook too") }
        }

        func run() async throws {
            let client = options.client
            var input: [String: Any] = [:]
            if let file {
                // Streamed a megabyte at a time (a file may be larger than memory); a file that cannot be read is
                // named, not shown with the usage.
                var directory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: file, isDirectory: &directory), !directory.boolValue else {
                    throw CLIError("cannot read '\(file)': no such file, or it is a folder")
                }
                let uploaded = try Output.object(try await client.upload("/api/v1/jobs/uploads", file: file))
                input["upload"] = uploaded["upload"]
            } else if let path {
                input["path"] = path
            }
            var body: [String: Any] = ["input": input, "key_columns": keys]
            if let model { body["model"] = model }
            if let version { body["version"] = Int(version) ?? version as Any }
            if let endpoint { body["endpoint"] = endpoint }
            if let format { body["format"] = format }
            if let webhook {
                var hook: [String: Any] = ["url": webhook]
                if let webhookSecret { hook["secret"] = webhookSecret }
                body["webhook"] = hook
            }
            if format == nil, let file, file.hasSuffix(".jsonl") || file.hasSuffix(".ndjson") { body["format"] = "jsonl" }
            let data = try await client.send(.POST, "/api/v1/jobs", json: try JSONSerialization.data(withJSONObject: body))
            let job = try Output.object(data)
            let id = Output.text(job["id"])
            guard wait else {
                if options.json { return Output.printJSON(data) }
                return print("job \(id) queued (model \(Output.text(job["model"])) version \(Output.text(job["version"]))); follow it with `ferry jobs status \(id)`")
            }
            let ended = try await Jobs.follow(id, client: client)
            if options.json {
                Output.printJSON(try JSONSerialization.data(withJSONObject: ended))
            } else {
                Jobs.printJob(ended)
            }
            if Output.text(ended["state"]) != "succeeded" { throw ExitCode(1) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Batch jobs, newest first.")
        @Option(help: "Most jobs to list.") var limit = 20
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/jobs?limit=\(limit)")
            if options.json { return Output.printJSON(data) }
            let jobs = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if jobs.isEmpty { return print("no batch jobs yet; submit one with `ferry jobs submit FILE --model MODEL`") }
            Output.table(["JOB", "MODEL", "VERSION", "STATE", "CREATED", "ROWS", "FAILED", "DONE", "REASON"], jobs.map { job in
                let p = job["progress"] as? [String: Any] ?? [:]
                return [Output.text(job["id"]), Output.text(job["model"]), Output.text(job["version"]), Output.text(job["state"]),
                        Output.text(job["created_at"]), Output.text(p["rows_done"]), Output.text(p["rows_failed"]),
                        (p["fraction"] as? Double).map { String(format: "%.0f%%", $0 * 100) } ?? "", String(Output.text(job["reason"]).prefix(60))]
            })
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One batch job: state and progress.")
        @Argument(help: "Job id.") var job: String
        @Flag(help: "Follow it with a progress bar until it ends; exit status 1 unless it succeeded.") var wait = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard !job.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the job id is empty; `ferry jobs list` shows the ids") }
        }

        func run() async throws {
            if wait {
                let ended = try await Jobs.follow(job, client: options.client)
                options.json ? Output.printJSON(try JSONSerialization.data(withJSONObject: ended)) : Jobs.printJob(ended)
                // As `submit --wait`: a script following a job by its id learns that it did not succeed.
                if Output.text(ended["state"]) != "succeeded" { throw ExitCode(1) }
                return
            }
            let data = try await options.client.get("/api/v1/jobs/\(APIClient.segment(job))")
            if options.json { return Output.printJSON(data) }
            Jobs.printJob(try Output.object(data))
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued or running batch job (what it wrote is kept).")
        @Argument(help: "Job id.") var job: String
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard !job.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the job id is empty; `ferry jobs list` shows the ids") }
        }

        func run() async throws {
            let data = try await options.client.send(.POST, "/api/v1/jobs/\(APIClient.segment(job))/cancel")
            if options.json { return Output.printJSON(data) }
            print("job \(job) cancelled")
        }
    }

    struct Results: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a job's results (or, with --errors, its rows that could not be scored) as CSV.")
        @Argument(help: "Job id.") var job: String
        @Flag(help: "The errors file instead: row and error.") var errors = false
        @Option(help: "Write it here instead of standard output.") var out: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard !job.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the job id is empty; `ferry jobs list` shows the ids") }
            if options.json { throw ValidationError("--json does not apply: the results are CSV") }
        }

        func run() async throws {
            // A job still running has results so far: said on standard error, so a pipeline does not take them for all.
            let state = Output.text(try Output.object(try await options.client.get("/api/v1/jobs/\(APIClient.segment(job))"))["state"])
            if ["queued", "running"].contains(state) {
                FileHandle.standardError.write(Data("warning: job \(job) is \(state); these are its \(errors ? "errors" : "results") so far, not all of them\n".utf8))
            }
            // Streamed: the results of a job of millions of rows need not fit in memory.
            let path = "/api/v1/jobs/\(APIClient.segment(job))/\(errors ? "errors" : "results")"
            guard let out else { return try await options.client.get(path, into: FileHandle.standardOutput) }
            let bytes = try await APIClient.writing(out, what: "--out") { handle in
                var bytes = 0
                try await options.client.get(path, into: handle) { bytes += $0.readableBytes }
                return bytes
            }
            print("wrote \(bytes) bytes to \(out)")
        }
    }

    /// Polls a job until it ends, drawing a progress bar on standard error; returns the job as it ended.
    static func follow(_ id: String, client: APIClient) async throws -> [String: Any] {
        let path = "/api/v1/jobs/\(APIClient.segment(id))"
        var drawn = false
        while true {
            let job: [String: Any]
            do {
                job = try Output.object(try await client.get(path))
            } catch where drawn {
                // The bar ends before the error, which says the job goes on without the CLI.
                FileHandle.standardError.write(Data("\n".utf8))
                throw CLIError("\(error); the job goes on on the server: follow it again with `ferry jobs status \(id) --wait`")
            }
            drawn = true
            let state = Output.text(job["state"])
            let p = job["progress"] as? [String: Any] ?? [:]
            let fraction = p["fraction"] as? Double ?? 0
            let filled = Int((fraction * 30).rounded(.down))
            var line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] \(String(format: "%3.0f%%", fraction * 100)) \(Output.text(p["rows_done"])) rows"
            if let rate = p["rows_per_second"] as? Double { line += String(format: ", %.0f rows/s", rate) }
            if let left = p["seconds_left"] as? Double { line += String(format: ", %.0f s left", left) }
            line += " (\(state))   "
            FileHandle.standardError.write(Data(line.utf8))
            if !["queued", "running"].contains(state) {
                FileHandle.standardError.write(Data("\n".utf8))
                return job
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    static func printJob(_ j: [String: Any]) {
        let p = j["progress"] as? [String: Any] ?? [:]
        print("job \(Output.text(j["id"])): \(Output.text(j["state"])) (model \(Output.text(j["model"])) version \(Output.text(j["version"])))")
        print("  rows: \(Output.text(p["rows_done"])) scored, \(Output.text(p["rows_failed"])) failed\((p["rows_per_second"] as? Double).map { String(format: ", %.0f rows/s", $0) } ?? "")")
        if let reason = j["reason"] as? String, !reason.isEmpty { print("  \(reason)") }
        if Output.text(j["state"]) == "succeeded" || (p["rows_done"] as? Int ?? 0) > 0 {
            print("  results: ferry jobs results \(Output.text(j["id"])) --out results.csv\((p["rows_failed"] as? Int ?? 0) > 0 ? "  (errors: --errors)" : "")")
        }
    }
}
