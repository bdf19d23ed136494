import ArgumentParser
import Foundation
import FerryCore

struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Reference profiles, drift, performance, fairness, traffic over time and the prediction log.",
        subcommands: [Reference.self, Drift.self, Predictions.self, FeedbackCommand.self, Performance.self, Fairness.self, Traffic.self]
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
        @Option(help: "Also the PSI per period of this many seconds of prediction time (e.g. 3600 for hourly).") var every: Double?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query: [String] = []
            func add(_ name: String, _ value: CustomStringConvertible?) {
                if let value { query.append("\(name)=\(APIClient.segment(value.description))") }
            }
            add("version", version); add("last", last); add("since", since); add("until", until)
            add("baseline_last", baselineLast); add("baseline_since", baselineSince); add("baseline_until", baselineUntil); add("every", every)
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
            if let series = report["series"] as? [[String: Any]] {
                let names = rows.map(\.[0])
                print("\nPSI per period:")
                Output.table(["PERIOD START", "ROWS"] + names, series.map { p in
                    let results = (p["features"] as? [[String: Any]] ?? []) + (p["outputs"] as? [[String: Any]] ?? [])
                    let psi = Dictionary(results.map { (Output.text($0["name"]), $0["psi"]) }, uniquingKeysWith: { a, _ in a })
                    return [Output.text(p["start"]), Output.text(p["rows"])] + names.map { number(psi[$0] ?? nil, 3) }
                })
            }
        }
    }

    struct FeedbackCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "feedback",
            abstract: "Send ground truth for logged predictions.",
            discussion: """
                --input takes JSON (one item, a list, or {"items": [...]}, items {"prediction_id", "row", "label"}) or
                CSV with the header prediction_id,row,label. Example: ferry monitor feedback --input labels.csv
                For one prediction: ferry monitor feedback --prediction ID --labels 0,1,0 (a label per row, in order).
                """
        )
        @Option(help: "JSON or CSV file of feedback items ('-' reads stdin).") var input: String?
        @Option(help: "The prediction id the labels are for (with --labels).") var prediction: String?
        @Option(help: "Comma-separated labels of the prediction's rows 0, 1, ... (with --prediction).") var labels: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (input == nil) != (prediction == nil), (prediction == nil) == (labels == nil) else {
                throw ValidationError("give --input FILE, or --prediction ID with --labels L0,L1,...")
            }
        }

        func run() async throws {
            if let prediction, let labels {
                let items: [[String: Any]] = try labels.split(separator: ",").enumerated().map { row, text in
                    guard let label = Double(text.trimmingCharacters(in: .whitespaces)) else {
                        throw ValidationError("--labels item \(row + 1) '\(text)' is not a number")
                    }
                    return ["prediction_id": prediction, "row": row, "label": label]
                }
                return try await send(try JSONSerialization.data(withJSONObject: ["items": items]))
            }
            let input = input!
            let raw = input == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: input)
            guard let raw else { throw ValidationError("cannot read '\(input)'") }
            var body = raw
            if (try? JSONSerialization.jsonObject(with: raw)) == nil {
                let source = "CSV file '\(input)'"
                let table = try CSVTable(parsing: String(decoding: raw, as: UTF8.self), source: source)
                let id = try table.column("prediction_id", source: source), label = try table.column("label", source: source)
                let row = table.header.firstIndex(of: "row")
                let items: [[String: Any]] = try zip(table.rows, table.lines).map { fields, line in
                    guard let value = Double(fields[label]) else {
                        throw ValidationError("\(source) line \(line): label '\(fields[label])' is not a number")
                    }
                    var item: [String: Any] = ["prediction_id": fields[id], "label": value]
                    if let row {
                        guard let r = Int(fields[row]) else { throw ValidationError("\(source) line \(line): row '\(fields[row])' is not a row number") }
                        item["row"] = r
                    }
                    return item
                }
                body = try JSONSerialization.data(withJSONObject: ["items": items])
            }
            try await send(body)
        }

        private func send(_ body: Data) async throws {
            let data = try await options.client.send(.POST, "/api/v1/feedback", json: body)
            if options.json { return Output.printJSON(data) }
            let r = try Output.object(data)
            print("accepted \(Output.text(r["accepted"])): \(Output.text(r["matched"])) matched, \(Output.text(r["unmatched"])) unmatched")
        }
    }

    struct Performance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scores of a model's predictions that have ground truth, overall and per cohort.",
            discussion: "Example: ferry monitor performance fraud --segment-by merchant_risk"
        )
        @Argument(help: "Model name.") var model: String
        @Option(help: "Version number (default: the served version).") var version: Int?
        @Option(help: "The last N labelled rows.") var last: Int?
        @Option(name: .customLong("segment-by"), help: "A feature: cohorts by its categories or quartiles.") var segmentBy: String?
        @Option(help: "Window start, ISO 8601 (prediction time).") var since: String?
        @Option(help: "Window end, ISO 8601.") var until: String?
        @Option(help: "Also per period of this many seconds of prediction time (e.g. 3600 for hourly).") var every: Double?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query: [String] = []
            if let version { query.append("version=\(version)") }
            if let last { query.append("last=\(last)") }
            if let segmentBy { query.append("segment_by=\(APIClient.segment(segmentBy))") }
            if let since { query.append("since=\(APIClient.segment(since))") }
            if let until { query.append("until=\(APIClient.segment(until))") }
            if let every { query.append("every=\(every)") }
            let path = "/api/v1/models/\(APIClient.segment(model))/performance" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let data = try await options.client.get(path)
            if options.json { return Output.printJSON(data) }
            let s = try Output.object(data)
            print("\(model) version \(Output.text(s["version"])) (\(Output.text(s["task"]))), unmatched feedback: \(Output.text(s["unmatched_feedback"]))")
            let keys = ["count", "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "rmse", "mae", "r2"]
            func cells(_ name: String, _ report: [String: Any]) -> [String] {
                [name] + keys.map { k in (report[k] as? Double).map { k == "count" ? String(Int($0)) : String(format: "%.4f", $0) } ?? "-" }
            }
            var rows = [cells("overall", s["overall"] as? [String: Any] ?? [:])]
            for segment in s["segments"] as? [[String: Any]] ?? [] {
                rows.append(cells(Output.text(segment["segment"]), segment["report"] as? [String: Any] ?? [:]))
            }
            Output.table(["SEGMENT"] + keys.map { $0.uppercased() }, rows)
            if let series = s["series"] as? [[String: Any]] {
                print("\nPer period:")
                var periods: [[String]] = []
                for p in series {
                    periods.append([Output.text(p["start"])] + cells("overall", p["overall"] as? [String: Any] ?? [:]))
                    for segment in p["segments"] as? [[String: Any]] ?? [] {
                        periods.append([""] + cells(Output.text(segment["segment"]), segment["report"] as? [String: Any] ?? [:]))
                    }
                }
                Output.table(["PERIOD START", "SEGMENT"] + keys.map { $0.uppercased() }, periods)
            }
        }
    }

    struct Traffic: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A model's requests, errors, latency percentiles and predictions per period, over every replica.",
            discussion: "Example: ferry monitor traffic fraud --every 300 (the last hour by default; counts are kept for a day)"
        )
        @Argument(help: "Model name.") var model: String
        @Option(help: "Window start, ISO 8601 (default: an hour before the end).") var since: String?
        @Option(help: "Window end, ISO 8601 (default: now).") var until: String?
        @Option(help: "Seconds per period.") var every: Double = 60
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query = ["every=\(every)"]
            if let since { query.append("since=\(APIClient.segment(since))") }
            if let until { query.append("until=\(APIClient.segment(until))") }
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/traffic?" + query.joined(separator: "&"))
            if options.json { return Output.printJSON(data) }
            let s = try Output.object(data)
            func ms(_ v: Any?) -> String { (v as? Double).map { String(format: "%.3f", $0) } ?? "-" }
            Output.table(["PERIOD START", "REQUESTS", "ERRORS", "ERROR RATE", "P50 MS", "P90 MS", "P99 MS", "PREDICTIONS"],
                         (s["periods"] as? [[String: Any]] ?? []).map { p in
                [Output.text(p["start"]), Output.text(p["requests"]), Output.text(p["errors"]),
                 (p["error_rate"] as? Double).map { String(format: "%.4f", $0) } ?? "-", ms(p["p50_ms"]), ms(p["p90_ms"]), ms(p["p99_ms"]),
                 Output.text(p["predictions"])]
            })
        }
    }

    struct Fairness: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Group fairness of a binary classifier's decisions against ground truth, by a sensitive feature.",
            discussion: "Example: ferry monitor fairness fraud --attribute is_night (fairlearn's definitions; see the README)"
        )
        @Argument(help: "Model name.") var model: String
        @Option(help: "The sensitive feature whose groups are compared.") var attribute: String
        @Option(help: "Probability at or above which a prediction is positive.") var threshold = 0.5
        @Option(help: "Version number (default: the served version).") var version: Int?
        @Option(help: "The last N labelled rows.") var last: Int?
        @Option(help: "Also per period of this many seconds of prediction time (e.g. 3600 for hourly).") var every: Double?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var query = ["attribute=\(APIClient.segment(attribute))", "threshold=\(threshold)"]
            if let version { query.append("version=\(version)") }
            if let last { query.append("last=\(last)") }
            if let every { query.append("every=\(every)") }
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/fairness?" + query.joined(separator: "&"))
            if options.json { return Output.printJSON(data) }
            let s = try Output.object(data)
            print("\(model) version \(Output.text(s["version"])), groups by \(attribute), positive at >= \(threshold)")
            let keys = ["count", "selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"]
            func cells(_ name: String, _ r: [String: Any]) -> [String] {
                [name] + keys.map { k in (r[k] as? Double).map { k == "count" ? String(Int($0)) : String(format: "%.4f", $0) } ?? "-" }
            }
            let groups = s["by_group"] as? [String: [String: Any]] ?? [:]
            Output.table(["GROUP", "COUNT", "SELECTION", "TPR", "FPR", "ACCURACY"],
                         [cells("overall", s["overall"] as? [String: Any] ?? [:])] + groups.keys.sorted().map { cells($0, groups[$0]!) })
            print("")
            for name in ["demographic_parity_difference", "demographic_parity_ratio", "equal_opportunity_difference", "equal_opportunity_ratio",
                         "equalized_odds_difference", "equalized_odds_ratio", "accuracy_difference"] {
                print("\(name): \((s[name] as? Double).map { String(format: "%.4f", $0) } ?? "- (undefined: the largest group rate is 0)")")
            }
            if let series = s["series"] as? [[String: Any]] {
                print("")
                let keys = ["demographic_parity_difference", "equal_opportunity_difference", "equalized_odds_difference", "accuracy_difference"]
                Output.table(["PERIOD START", "COUNT", "PARITY DIFF", "OPPORTUNITY DIFF", "ODDS DIFF", "ACCURACY DIFF"], series.map { p in
                    [Output.text(p["start"]), Output.text(p["count"])] + keys.map { k in (p[k] as? Double).map { String(format: "%.4f", $0) } ?? "-" }
                })
            }
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
