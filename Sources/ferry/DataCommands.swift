import ArgumentParser
import Foundation

struct DataCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Data from production for retraining and evaluation.",
        subcommands: [Export.self]
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
}
