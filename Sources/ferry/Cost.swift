import ArgumentParser
import Foundation

struct Cost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost",
        abstract: "What serving costs: CPU time per request, model memory over time and the cost per 1,000 predictions.",
        subcommands: [Report.self]
    )

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "CPU, memory and cost per model version and per client, on the server answering (since it started).",
            discussion: """
                Prices come from `ferry serve --cost-per-cpu-hour P --cost-per-gib-hour Q`; without them the report
                has the CPU time and memory but no cost. A budget is an alert on cost_per_1000_predictions:
                  ferry alerts set fraud budget --metric cost_per_1000_predictions --above 0.02 --window 3600
                """
        )
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/cost")
            if options.json { return Output.printJSON(data) }
            let report = try Output.object(data)
            let prices = report["prices"] as? [String: Any] ?? [:]
            print("prices: CPU hour \(Output.text(prices["cpu_hour"])), GiB-hour \(Output.text(prices["gib_hour"]))")
            func money(_ v: Any?) -> String { (v as? Double).map { String(format: "%.6g", $0) } ?? "-" }
            func micros(_ v: Any?) -> String { (v as? Double).map { String(format: "%.1f", $0) } ?? "-" }
            let models = report["models"] as? [[String: Any]] ?? []
            Output.table(["MODEL", "VERSION", "REQUESTS", "PREDICTIONS", "CPU µs/REQUEST", "CPU S", "GIB-HOURS", "COST", "COST/1000"], models.map { r in
                [Output.text(r["model"]), Output.text(r["version"]), Output.text(r["requests"]), Output.text(r["predictions"]), micros(r["cpu_us_per_request"]),
                 String(format: "%.3f", r["cpu_seconds"] as? Double ?? 0), String(format: "%.4g", r["memory_gib_hours"] as? Double ?? 0), money(r["cost"]),
                 money(r["cost_per_1000_predictions"])]
            })
            let principals = report["principals"] as? [[String: Any]] ?? []
            if !principals.isEmpty {
                print("")
                Output.table(["CLIENT", "REQUESTS", "PREDICTIONS", "CPU µs/REQUEST", "CPU S", "COST", "COST/1000"], principals.map { r in
                    [Output.text(r["principal"]), Output.text(r["requests"]), Output.text(r["predictions"]), micros(r["cpu_us_per_request"]),
                     String(format: "%.3f", r["cpu_seconds"] as? Double ?? 0), money(r["cost"]), money(r["cost_per_1000_predictions"])]
                })
            }
        }
    }
}
