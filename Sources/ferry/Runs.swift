import ArgumentParser
import Foundation

/// Experiment runs logged through MLflow's tracking API (`MLFLOW_TRACKING_URI` pointed at Ferry).
struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Experiment runs logged with MLflow's client: list and search them, show one, compare several.",
        discussion: """
            Training code logs to Ferry with MLflow's unchanged client:
              MLFLOW_TRACKING_URI=http://ferry-host:8080 MLFLOW_TRACKING_TOKEN=$FERRY_API_KEY python train.py
            """,
        subcommands: [List.self, Show.self, Compare.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Runs of one experiment or all, newest first, or as a search selects and orders them.",
            discussion: """
                Filters and ordering use MLflow's search language:
                  ferry runs list --experiment fraud --filter "metrics.auc > 0.9 and params.max_depth = '6'" --order-by "metrics.auc DESC"
                """)
        @Option(help: "Experiment name or id (default: every active experiment).") var experiment: String?
        @Option(help: "MLflow filter, e.g. \"metrics.loss < 0.2 and tags.team = 'risk'\".") var filter: String?
        @Option(name: .customLong("order-by"), help: "Ordering, e.g. \"metrics.auc DESC\" (repeatable).") var orderBy: [String] = []
        @Option(help: "Most runs to show.") var max = 50
        @Flag(help: "Include deleted runs.") var all = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = options.client
            let ids: [String]
            if let experiment {
                ids = [try await Runs.experimentID(experiment, client)]
            } else {
                let found = try Output.object(try await client.send(
                    .POST, "/api/2.0/mlflow/experiments/search", json: try JSONSerialization.data(withJSONObject: ["max_results": 50_000])))
                ids = (found["experiments"] as? [[String: Any]] ?? []).compactMap { $0["experiment_id"] as? String }
            }
            var body: [String: Any] = ["experiment_ids": ids, "max_results": max, "run_view_type": all ? "ALL" : "ACTIVE_ONLY"]
            if let filter { body["filter"] = filter }
            if !orderBy.isEmpty { body["order_by"] = orderBy }
            let data = try await client.send(.POST, "/api/2.0/mlflow/runs/search", json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            let runs = try Output.object(data)["runs"] as? [[String: Any]] ?? []
            if runs.isEmpty { return print("no runs\(filter.map { " match '\($0)'" } ?? ""); log some with MLflow's client (see `ferry runs --help`)") }
            // The metrics the search names, else the first few the runs have.
            let named = ([filter ?? ""] + orderBy).joined(separator: " ")
            var keys: [String] = []
            for run in runs {
                for metric in Runs.metrics(run) where !keys.contains(metric.key) { keys.append(metric.key) }
            }
            let shown = keys.filter { named.contains("metrics.\($0)") || named.contains("metric.\($0)") }
            let columns = shown.isEmpty ? Array(keys.sorted().prefix(4)) : shown
            Output.table(["RUN ID", "NAME", "EXPERIMENT", "STATUS", "STARTED"] + columns, runs.map { run in
                let info = run["info"] as? [String: Any] ?? [:]
                let metrics = Runs.metrics(run)
                return [Output.text(info["run_id"]), Output.text(info["run_name"]), Output.text(info["experiment_id"]), Output.text(info["status"]),
                        Runs.time(info["start_time"])] + columns.map { metrics[$0].map(Runs.value) ?? "" }
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run: its info, params, latest metrics, tags and logged models.")
        @Argument(help: "Run id.") var run: String
        @Option(help: "Print every logged value of this metric (step, time, value) instead.") var history: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = options.client
            let id = APIClient.query(run)
            if let history {
                let data = try await client.get("/api/2.0/mlflow/metrics/get-history?run_id=\(id)&metric_key=\(APIClient.query(history))")
                if options.json { return Output.printJSON(data) }
                let points = try Output.object(data)["metrics"] as? [[String: Any]] ?? []
                return Output.table(["STEP", "TIME", "VALUE"], points.map { [Output.text($0["step"]), Runs.time($0["timestamp"]), Runs.value($0["value"] as Any)] })
            }
            let data = try await client.get("/api/2.0/mlflow/runs/get?run_id=\(id)")
            if options.json { return Output.printJSON(data) }
            let object = try Output.object(data)["run"] as? [String: Any] ?? [:]
            let info = object["info"] as? [String: Any] ?? [:]
            let data_ = object["data"] as? [String: Any] ?? [:]
            print("run \(Output.text(info["run_id"])) \"\(Output.text(info["run_name"]))\" in experiment \(Output.text(info["experiment_id"]))")
            print("  status \(Output.text(info["status"])), started \(Runs.time(info["start_time"]))\(info["end_time"].map { ", ended \(Runs.time($0))" } ?? ""), by \(Output.text(info["user_id"]))")
            print("  artifacts \(Output.text(info["artifact_uri"]))")
            let params = Runs.pairs(data_["params"])
            if !params.isEmpty {
                print("\nparams")
                Output.table(["KEY", "VALUE"], params.map { [$0.key, $0.value] })
            }
            let metrics = Runs.metrics(object)
            if !metrics.isEmpty {
                print("\nmetrics (latest)")
                Output.table(["KEY", "VALUE", "STEP"], (data_["metrics"] as? [[String: Any]] ?? []).map {
                    [Output.text($0["key"]), Runs.value($0["value"] as Any), Output.text($0["step"])]
                })
            }
            let tags = Runs.pairs(data_["tags"]).filter { !$0.key.hasPrefix("mlflow.") }
            if !tags.isEmpty {
                print("\ntags")
                Output.table(["KEY", "VALUE"], tags.map { [$0.key, $0.value] })
            }
            let outputs = ((object["outputs"] as? [String: Any])?["model_outputs"] as? [[String: Any]] ?? []).compactMap { $0["model_id"] as? String }
            if !outputs.isEmpty { print("\nlogged models: \(outputs.joined(separator: ", "))") }
        }
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Runs side by side: one row per param and metric, one column per run; rows that differ are marked *.")
        @Argument(help: "Two or more run ids.") var runs: [String]
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard runs.count >= 2 else { throw ValidationError("give two or more run ids to compare") }
        }

        func run() async throws {
            var objects: [[String: Any]] = []
            for run in runs {
                objects.append(try Output.object(try await options.client.get("/api/2.0/mlflow/runs/get?run_id=\(APIClient.query(run))"))["run"] as? [String: Any] ?? [:])
            }
            if options.json {
                return Output.printJSON(try JSONSerialization.data(withJSONObject: ["runs": objects]))
            }
            let params = objects.map { Dictionary(Runs.pairs(($0["data"] as? [String: Any])?["params"]), uniquingKeysWith: { $1 }) }
            let metrics = objects.map { Runs.metrics($0).mapValues(Runs.value) }
            var rows: [[String]] = []
            func add(_ kind: String, _ columns: [[String: String]]) {
                for key in Set(columns.flatMap(\.keys)).sorted() {
                    let values = columns.map { $0[key] ?? "" }
                    rows.append([Set(values).count > 1 ? "*" : "", "\(kind).\(key)"] + values)
                }
            }
            add("params", params)
            add("metrics", metrics)
            let names = objects.map { Output.text(($0["info"] as? [String: Any])?["run_name"]) }
            Output.table(["", "KEY"] + zip(runs, names).map { "\($1) (\($0.prefix(8)))" }, rows)
        }
    }

    /// An experiment's id from its id or name.
    static func experimentID(_ given: String, _ client: APIClient) async throws -> String {
        if Int(given) != nil { return given }
        let found = try Output.object(try await client.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=\(APIClient.query(given))"))
        guard let id = (found["experiment"] as? [String: Any])?["experiment_id"] as? String else {
            throw CLIError("no experiment named '\(given)'")
        }
        return id
    }

    static func metrics(_ run: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        for metric in (run["data"] as? [String: Any])?["metrics"] as? [[String: Any]] ?? [] {
            if let key = metric["key"] as? String { out[key] = metric["value"] }
        }
        return out
    }

    static func pairs(_ list: Any?) -> [(key: String, value: String)] {
        ((list as? [[String: Any]]) ?? []).compactMap { item in
            (item["key"] as? String).map { ($0, Output.text(item["value"])) }
        }.sorted { $0.key < $1.key }
    }

    /// A metric value: numbers with up to 6 significant digits; "NaN" and "Infinity" as sent.
    static func value(_ v: Any) -> String {
        if let n = v as? NSNumber { return String(format: "%.6g", n.doubleValue) }
        return Output.text(v)
    }

    /// Milliseconds since 1970 as an ISO 8601 time.
    static func time(_ v: Any?) -> String {
        guard let n = v as? NSNumber else { return "" }
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: n.doubleValue / 1000))
    }
}
