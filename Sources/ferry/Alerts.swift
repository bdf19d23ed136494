import ArgumentParser
import Foundation

struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Alert rules on latency, error rate, drift and performance, with webhook notifications.",
        subcommands: [List.self, Set.self, Delete.self, Events.self, Evaluate.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A model's alert rules and their state.")
        @Argument(help: "Model name.") var model: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/alerts")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no alert rules for \(model); add one with `ferry alerts set`") }
            Output.table(["NAME", "CONDITION", "WINDOW", "FOR", "STATE", "VALUE", "WEBHOOK"], items.map { item in
                let r = item["rule"] as? [String: Any] ?? [:]
                let s = item["status"] as? [String: Any] ?? [:]
                let feature = (r["feature"] as? String).map { "[\($0)]" } ?? ""
                return [Output.text(r["name"]), "\(Output.text(r["metric"]))\(feature) \(Output.text(r["comparison"])) \(Output.text(r["threshold"]))",
                        "\(Output.text(r["window_seconds"]))s", "\(Output.text(r["for_seconds"]))s", Output.text(s["state"]),
                        Output.text(s["value"]), Output.text(r["webhook"])]
            })
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace an alert rule.",
            discussion: """
                Metrics: latency_p50_seconds, latency_p99_seconds, error_rate, drift_psi, drift_pvalue, accuracy, f1,
                roc_auc, log_loss, rmse, mae, demographic_parity_difference or equalized_odds_difference between
                the groups of --feature (required for them), and cost_per_1000_predictions (a budget; needs
                `ferry serve --cost-per-cpu-hour` and/or `--cost-per-gib-hour`). Example:
                  ferry alerts set fraud amount-drift --metric drift_psi --feature amount --above 0.25 \\
                    --window 3600 --for 300 --webhook https://hooks.example/ferry --secret "$SECRET"
                """
        )
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Alert name.") var name: String
        @Option(help: "Metric to watch.") var metric: String
        @Option(help: "For drift metrics: one feature (default: the worst feature); for fairness metrics: the sensitive feature.") var feature: String?
        @Option(help: "Fire when the metric is above this.") var above: Double?
        @Option(help: "Fire when the metric is below this.") var below: Double?
        @Option(help: "Window of traffic the metric is computed over, in seconds.") var window = 300
        @Option(name: .customLong("for"), help: "Seconds the condition must hold before firing.") var forSeconds = 0
        @Option(help: "Webhook URL notified when the alert fires or resolves.") var webhook: String?
        @Option(help: "Secret for the webhook's HMAC-SHA256 signature.") var secret: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (above == nil) != (below == nil) else { throw ValidationError("give exactly one of --above or --below") }
        }

        func run() async throws {
            var body: [String: Any] = [
                "metric": metric, "comparison": above != nil ? ">" : "<", "threshold": above ?? below!,
                "window_seconds": window, "for_seconds": forSeconds,
            ]
            if let feature { body["feature"] = feature }
            if let webhook { body["webhook"] = webhook }
            if let secret { body["webhook_secret"] = secret }
            let data = try await options.client.send(
                .PUT, "/api/v1/models/\(APIClient.segment(model))/alerts/\(APIClient.segment(name))",
                json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            print("alert \(name) on \(model) saved")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an alert rule.")
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Alert name.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.DELETE, "/api/v1/models/\(APIClient.segment(model))/alerts/\(APIClient.segment(name))")
            if options.json { return Output.printJSON(data) }
            print("alert \(name) on \(model) deleted")
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Alert state changes, oldest first.",
            discussion: "As with the other alert commands, the model comes first: ferry alerts events fraud [--alert NAME].")
        @Argument(help: "Only this model (default: every model).") var model: String?
        @Option(help: "Only this alert (of MODEL).") var alert: String?
        @Option(help: "At most this many.") var limit = 50
        @OptionGroup var options: ClientOptions

        func validate() throws {
            if alert != nil && model == nil { throw ValidationError("--alert needs the model: ferry alerts events MODEL --alert NAME") }
        }

        func run() async throws {
            var query = ["limit=\(limit)"]
            if let model { query.append("model=\(APIClient.segment(model))") }
            if let alert { query.append("alert=\(APIClient.segment(alert))") }
            let data = try await options.client.get("/api/v1/alerts/events?" + query.joined(separator: "&"))
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no alert events") }
            Output.table(["#", "AT", "MODEL", "ALERT", "FROM", "TO", "VALUE", "THRESHOLD"], items.map { e in
                [Output.text(e["sequence"]), Output.text(e["at"]), Output.text(e["model"]), Output.text(e["rule"]),
                 Output.text(e["from"]), Output.text(e["to"]), Output.text(e["value"]), Output.text(e["threshold"])]
            })
        }
    }

    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Evaluate every alert rule now.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.POST, "/api/v1/alerts/evaluate")
            if options.json { return Output.printJSON(data) }
            let changes = try Output.object(data)["changes"] as? [[String: Any]] ?? []
            if changes.isEmpty { return print("no alert changed state") }
            for c in changes { print("\(Output.text(c["model"]))/\(Output.text(c["rule"])): \(Output.text(c["from"])) -> \(Output.text(c["to"])) (value \(Output.text(c["value"])))") }
        }
    }
}
