import ArgumentParser
import Foundation

struct DataCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Data from production for retraining and evaluation, and data files checked before training or scoring.",
        subcommands: [Export.self, Validate.self, Expectations.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A version's logged inputs and outputs with their ground-truth labels, as CSV.",
            discussion: """
                Example: ferry data export fraud --since 7d --labelled --out window.csv

                Columns: prediction_id, row, at, the features as they were logged (sensitive ones redacted or \\
                hashed; categories by name), the outputs, label (empty until feedback arrives).
                """
        )
        @Argument(help: "Model name.") var model: String
        @Option(help: "Version number (default: the served version).") var version: Int?
        @Option(help: "Window start: ISO 8601, or an age such as 7d, 12h, 30m.") var since: String?
        @Option(help: "Window end, ISO 8601.") var until: String?
        @Option(help: "The last N logged requests (instead of --since/--until).") var last: Int?
        @Flag(help: "Only rows with a ground-truth label.") var labelled = false
        @Option(help: "Write the CSV to this file instead of printing it.") var out: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query: [String] = []
            if let version { query.append("version=\(version)") }
            if let since { query.append("since=\(APIClient.segment(try Self.instant(since)))") }
            if let until { query.append("until=\(APIClient.segment(until))") }
            if let last { query.append("last=\(last)") }
            if labelled { query.append("labelled=true") }
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/data" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: data) else { throw ValidationError("cannot write '\(out)'") }
                let rows = max(0, String(decoding: data, as: UTF8.self).split(separator: "\n").count - 1)
                print("wrote \(rows) rows of \(model) to \(out)")
            } else {
                print(String(decoding: data, as: UTF8.self), terminator: "")
            }
        }

        /// An ISO 8601 instant as given, or an age (`7d`, `12h`, `30m`, `45s`) as the instant that long ago.
        static func instant(_ text: String) throws -> String {
            guard let unit = text.last, let amount = Double(text.dropLast()), amount >= 0 else { return text }
            let seconds: Double
            switch unit {
            case "d": seconds = amount * 86_400
            case "h": seconds = amount * 3600
            case "m": seconds = amount * 60
            case "s": seconds = amount
            default: return text
            }
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: Date().addingTimeInterval(-seconds))
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a CSV or JSON Lines file against a model version's expectations; exit status 1 when one fails.",
            discussion: """
                Example: ferry data validate rows.csv --model fraud --html report.html --quarantine bad.csv
                         ferry data validate --path /data/in/rows.csv --model fraud   # read by the server, not uploaded

                The file is streamed to the server (or read by it, with --path), which checks it as it arrives
                (it is never stored whole), row by row: type, range, categories, missing values, uniqueness,
                repeated keys and rows, and rows that cannot be read. A row that breaks a rule goes to the run's quarantine with the rules it
                broke (no failing row is left out); null rates, drift against the reference and the row count are
                judged on the whole file. The report says pass or fail per expectation with counts and examples.
                """
        )
        @Argument(help: "The CSV (with a header line) or JSON Lines file to upload.") var file: String?
        @Option(help: "A file the server reads instead (under a folder its operator allowed with --job-input-dir): nothing is uploaded.") var path: String?
        @Option(help: "Model name.") var model: String
        @Option(help: "Version number or alias (default: the served version).") var version: String?
        @Option(help: "csv or jsonl (default: from the file's name, else csv).") var format: String?
        @Option(help: "Write the report as an HTML page to this file.") var html: String?
        @Option(help: "Write the quarantined rows to this file.") var quarantine: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (file == nil) != (path == nil) else {
                throw ValidationError(file == nil ? "give a local FILE to upload or --path on the server" : "give a local FILE to upload or --path on the server, not both")
            }
        }

        func run() async throws {
            var query: [String] = []
            if let file { query.append("source=\(APIClient.query((file as NSString).lastPathComponent))") }
            if let path { query.append("path=\(APIClient.query(path))") }
            if let version { query.append("version=\(APIClient.query(version))") }
            if let format { query.append("format=\(APIClient.query(format))") }
            let base = "/api/v1/models/\(APIClient.segment(model))/validations"
            let target = base + "?" + query.joined(separator: "&")
            let answer = if let file { try await options.client.upload(target, file: file) } else { try await options.client.send(.POST, target) }
            let run = try Output.object(answer)
            let id = Output.text(run["id"])
            if let html {
                let page = try await options.client.get("\(base)/\(APIClient.segment(id))?format=html")
                guard FileManager.default.createFile(atPath: html, contents: page) else { throw ValidationError("cannot write '\(html)'") }
            }
            if let quarantine {
                try await APIClient.writing(quarantine, what: "--quarantine") { handle in
                    try await options.client.get("\(base)/\(APIClient.segment(id))/quarantine", into: handle)
                }
            }
            if options.json {
                Output.printJSON(answer)
            } else {
                let passed = run["passed"] as? Bool == true
                print("\(id): \(passed ? "PASSED" : "FAILED") — \(Output.text(run["rows"])) rows, \(Output.text(run["quarantined_rows"])) quarantined (\(model) version \(Output.text(run["version"])))")
                let results = run["results"] as? [[String: Any]] ?? []
                Output.table(["RESULT", "RULE", "COLUMN", "EXPECTED", "FAILING", "OBSERVED", "EXAMPLES"], results.map { r in
                    let examples = (r["examples"] as? [[String: Any]] ?? []).prefix(3).map { "\(Output.text($0["row"])): \(Output.text($0["value"]))" }
                    return [r["passed"] as? Bool == true ? "pass" : "FAIL", Output.text(r["rule"]), Output.text(r["column"]), Output.text(r["expected"]),
                            Output.text(r["failures"]), Output.text(r["observed"]), examples.joined(separator: "; ")]
                })
                if let html { print("report: \(html)") }
                if let quarantine { print("quarantine: \(quarantine)") }
            }
            if run["passed"] as? Bool != true { throw ExitCode(1) }
        }
    }

    struct Expectations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a version's expectations of its data (derived from its schema and reference until edited), or replace them.",
            discussion: """
                ferry data expectations fraud                          # the production version's, as JSON
                ferry data expectations fraud --version 2 --set expectations.json
                ferry data expectations fraud --version 2 --reset      # drop the edits: derived again

                The file has the shape the command shows: {"columns": [{"name", "kind" (numeric or categorical),
                "min", "max", "categories", "max_null_rate", "unique", "max_psi"}], "min_rows", "max_rows",
                "unique_key": [...], "no_duplicate_rows"}.
                """
        )
        @Argument(help: "Model name.") var model: String
        @Option(help: "Version number or alias.") var version: String = "production"
        @Option(help: "Replace them with this JSON file.") var set: String?
        @Flag(help: "Drop the edited expectations: they are derived from the schema and reference again.") var reset = false
        @OptionGroup var options: ClientOptions

        func validate() throws {
            if set != nil && reset { throw ValidationError("give --set or --reset, not both") }
        }

        func run() async throws {
            let path = "/api/v1/models/\(APIClient.segment(model))/versions/\(APIClient.segment(version))/expectations"
            let data: Data
            if reset {
                data = try await options.client.send(.DELETE, path)
            } else if let set {
                guard let body = FileManager.default.contents(atPath: set) else { throw ValidationError("cannot read '\(set)'") }
                data = try await options.client.send(.PUT, path, json: body)
            } else {
                data = try await options.client.get(path)
            }
            Output.printJSON(data)
        }
    }
}
