import ArgumentParser
import Foundation

struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Reference profiles, drift and the prediction log.",
        subcommands: [Reference.self, Drift.self, Predictions.self]
    )

    struct Reference: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a version's training or validation sample; Ferry keeps its profile as the drift reference.",
            discussion: "Example: ferry monitor reference fraud 1 --csv train_sample.csv"
        )
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Version number.") var version: Int
        @Option(help: "CSV file with a header of feature names.") var csv: String?
        @Option(help: "JSON file of rows: {\"instances\": [...]} or a list of rows.") var input: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (csv == nil) != (input == nil) else { throw ValidationError("give exactly one of --csv or --input") }
        }

        func run() async throws {
            let path = "/api/v1/models/\(APIClient.segment(model))/versions/\(version)/reference"
            let data: Data
            if let csv {
                guard let body = FileManager.default.contents(atPath: csv) else { throw ValidationError("cannot read '\(csv)'") }
                data = try await options.client.send(.PUT, path, json: body, contentType: "text/csv")
            } else {
                guard let raw = FileManager.default.contents(atPath: input!),
                      let json = try? JSONSerialization.jsonObject(with: raw) else { throw ValidationError("'\(input!)' is not readable JSON") }
                let body = json is [Any] ? try JSONSerialization.data(withJSONObject: ["instances": json]) : raw
                data = try await options.client.send(.PUT, path, json: body)
            }
            if options.json { return Output.printJSON(data) }
            let profile = try Output.object(data)
            let features = (profile["features"] as? [[String: Any]] ?? []).count
            print("reference for \(model) version \(version): \(Output.text(profile["rows"])) rows, \(features) features profiled")
        }
    }

    struct Drift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drift of logged traffic per feature and output, against the reference or a baseline window.",
            discussion: "Example: ferry monitor drift fraud --last 5000"
        )
        @Argument(help: "Model name.") var model: String
        @Option(help: "Version number (default: the served version).") var version: Int?
        @Option(help: "The last N logged requests.") var last: Int?
        @Option(help: "Window start, ISO 8601.") var since: String?
        @Option(help: "Window end, ISO 8601.") var until: String?
        @Option(name: .customLong("baseline-last"), help: "Compare against the last N requests instead of the reference.") var baselineLast: Int?
        @Option(name: .customLong("baseline-since"), help: "Baseline window start, ISO 8601.") var baselineSince: String?
        @Option(name: .customLong("baseline-until"), help: "Baseline window end, ISO 8601.") var baselineUntil: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query: [String] = []
            func add(_ name: String, _ value: CustomStringConvertible?) {
                if let value { query.append("\(name)=\(APIClient.segment(value.description))") }
            }
            add("version", version); add("last", last); add("since", since); add("until", until)
            add("baseline_last", baselineLast); add("baseline_since", baselineSince); add("baseline_until", baselineUntil)
            let path = "/api/v1/models/\(APIClient.segment(model))/drift" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let data = try await options.client.get(path)
            if options.json { return Output.printJSON(data) }
            let report = try Output.object(data)
            print("\(model) version \(Output.text(report["version"])): \(Output.text(report["current_rows"])) rows against the \(Output.text(report["against"])) (\(Output.text(report["reference_rows"])) rows)")
            func number(_ v: Any?, _ digits: Int = 4) -> String {
                guard let d = v as? Double else { return "-" }
                return abs(d) < 1e-4 && d != 0 ? String(format: "%.2e", d) : String(format: "%.\(digits)f", d)
            }
            let rows = ((report["features"] as? [[String: Any]] ?? []) + (report["outputs"] as? [[String: Any]] ?? [])).map { r -> [String] in
                let psi = r["psi"] as? Double ?? 0
                let p = (r["ks_pvalue"] ?? r["chi2_pvalue"]) as? Double ?? 1
                let flag = psi > 0.2 || p < 0.01 ? "DRIFT" : ""
                return [Output.text(r["name"]), number(r["psi"]), number(r["ks_statistic"] ?? r["chi2_statistic"]), number(p),
                        number(r["js_distance"]), number(r["wasserstein"]), number(r["missing_rate_change"]), flag]
            }
            Output.table(["NAME", "PSI", "KS/CHI2", "P-VALUE", "JS", "WASSERSTEIN", "MISSING+", ""], rows)
        }
    }

    struct Predictions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The newest logged predictions of a model.")
        @Argument(help: "Model name.") var model: String
        @Option(help: "At most this many.") var limit = 20
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/predictions?limit=\(limit)")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            Output.table(["ID", "AT", "VERSION", "ROWS", "LATENCY US", "OUTPUTS"], items.map { p in
                let outputs = (p["outputs"] as? [[Any]] ?? []).prefix(3).map { Output.text($0) }.joined(separator: " ")
                return [Output.text(p["id"]), Output.text(p["at"]), Output.text(p["version"]),
                        String((p["inputs"] as? [Any])?.count ?? 0), Output.text(p["latency_us"]), outputs]
            })
        }
    }
}
