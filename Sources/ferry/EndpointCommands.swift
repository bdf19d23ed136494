import ArgumentParser
import Foundation

struct EndpointCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "endpoints",
        abstract: "Named traffic splits over model versions, with shadows and sticky routing; clients call them like models.",
        subcommands: [List.self, Set.self, Show.self, Delete.self, Shadow.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List endpoints and their traffic.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/endpoints")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no endpoints") }
            Output.table(["ENDPOINT", "TRAFFIC", "SHADOWS", "STICKY"], items.map { e in
                [Output.text(e["name"]), EndpointCommands.traffic(e), EndpointCommands.shadows(e), Output.text(e["sticky_header"])]
            })
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace an endpoint; its versions are loaded and warmed before it takes traffic.",
            discussion: "Example: ferry endpoints set fraud-ep --variant fraud:1=100 --shadow fraud:3=0.2 --sticky-header X-Customer-Id"
        )
        @Argument(help: "Endpoint name (clients call /v2/models/NAME/infer).") var name: String
        @Option(name: .customLong("variant"), help: "MODEL:VERSION=WEIGHT (repeatable).") var variants: [String] = []
        @Option(name: .customLong("shadow"), help: "MODEL:VERSION=SHARE, a version mirrored SHARE (0-1) of the traffic (repeatable).") var shadows: [String] = []
        @Option(name: .customLong("sticky-header"), help: "Request header whose value pins a caller to one variant.") var stickyHeader: String?
        @Option(name: .customLong("timeout-ms"), help: "Deadline of requests that name none.") var timeoutMs: Int?
        @Option(name: .customLong("fallback"), help: "Version that answers when the endpoint's versions cannot, as MODEL:VERSION.") var fallback: String?
        @Option(name: .customLong("fallback-value"), help: "Static answer (every row of the first output) when the endpoint's versions cannot.") var fallbackValue: Double?
        @Option(name: .customLong("cache-entries"), help: "Turn the answer cache on with at most this many entries.") var cacheEntries: Int?
        @Option(name: .customLong("cache-ttl"), help: "Seconds a cached answer stays fresh (default 60).") var cacheTTL: Double?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            guard !variants.isEmpty else { throw ValidationError("give at least one --variant MODEL:VERSION=WEIGHT") }
            guard fallback == nil || fallbackValue == nil else { throw ValidationError("give --fallback or --fallback-value, not both") }
            var body: [String: Any] = [
                "variants": try variants.map { try EndpointCommands.parse($0, option: "--variant", amount: "weight") },
                "shadows": try shadows.map { try EndpointCommands.parse($0, option: "--shadow", amount: "share") },
            ]
            if let stickyHeader { body["sticky_header"] = stickyHeader }
            if let timeoutMs { body["timeout_ms"] = timeoutMs }
            if let fallback {
                let parts = fallback.split(separator: ":")
                guard parts.count == 2, let version = Int(parts[1]) else { throw ValidationError("--fallback '\(fallback)' must look like MODEL:VERSION") }
                body["fallback"] = ["model": String(parts[0]), "version": version]
            }
            if let fallbackValue { body["fallback"] = ["value": fallbackValue] }
            if cacheEntries != nil || cacheTTL != nil {
                body["cache"] = ["max_entries": cacheEntries ?? 10_000, "ttl_seconds": cacheTTL ?? 60]
            }
            let data = try await options.client.send(
                .PUT, "/api/v1/endpoints/\(APIClient.segment(name))", json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            let answer = try Output.object(data)
            if ApprovalCommands.printPending(answer) { return }
            print("endpoint \(name): \(EndpointCommands.traffic(answer))")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an endpoint and its rollout.")
        @Argument(help: "Endpoint name.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/endpoints/\(APIClient.segment(name))")
            if options.json { return Output.printJSON(data) }
            let object = try Output.object(data)
            let endpoint = object["endpoint"] as? [String: Any] ?? [:]
            print("endpoint \(name): \(EndpointCommands.traffic(endpoint))")
            if !(endpoint["shadows"] as? [Any] ?? []).isEmpty { print("shadows: \(EndpointCommands.shadows(endpoint))") }
            if let rollout = object["rollout"] as? [String: Any] { RolloutCommands.printStatus(rollout) }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an endpoint (not while a rollout runs).")
        @Argument(help: "Endpoint name.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.DELETE, "/api/v1/endpoints/\(APIClient.segment(name))")
            if options.json { return Output.printJSON(data) }
            if ApprovalCommands.printPending(try Output.object(data)) { return }
            print("deleted endpoint \(name)")
        }
    }

    struct Shadow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How each shadow compares with the answering version.")
        @Argument(help: "Endpoint name.") var name: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/endpoints/\(APIClient.segment(name))/shadow")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("endpoint \(name) has no shadows") }
            Output.table(["SHADOW", "COMPARED", "ERRORS", "SKIPPED", "AGREEMENT", "MEAN |DIFF|", "P99 |DIFF|", "P99 PRIMARY S", "P99 SHADOW S"], items.map { r in
                let shadow = r["shadow"] as? [String: Any] ?? [:]
                return ["\(Output.text(shadow["model"]))/\(Output.text(shadow["version"]))", Output.text(r["compared"]), Output.text(r["shadow_errors"]),
                        Output.text(r["skipped"]), Output.text(r["agreement"]), Output.text(r["mean_abs_difference"]),
                        Output.text(r["p99_abs_difference"]), Output.text(r["primary_latency_p99_seconds"]), Output.text(r["shadow_latency_p99_seconds"])]
            })
        }
    }

    /// Parses MODEL:VERSION=AMOUNT.
    static func parse(_ text: String, option: String, amount: String) throws -> [String: Any] {
        let parts = text.split(separator: "=", maxSplits: 1)
        let target = parts.first.map { $0.split(separator: ":") } ?? []
        guard parts.count == 2, target.count == 2, let version = Int(target[1]), let value = Double(parts[1]) else {
            throw ValidationError("\(option) '\(text)' must look like MODEL:VERSION=\(amount.uppercased()), e.g. fraud:2=\(amount == "weight" ? "100" : "0.1")")
        }
        return ["model": String(target[0]), "version": version, amount: value]
    }

    static func traffic(_ endpoint: [String: Any]) -> String {
        let variants = endpoint["variants"] as? [[String: Any]] ?? []
        let total = variants.reduce(0.0) { $0 + ((($1["weight"] as? NSNumber)?.doubleValue) ?? 0) }
        return variants.map { v in
            let weight = ((v["weight"] as? NSNumber)?.doubleValue ?? 0) / max(total, 1e-12) * 100
            return "\(Output.text(v["model"]))/\(Output.text(v["version"])) \(String(format: "%.0f", weight))%"
        }.joined(separator: ", ")
    }

    static func shadows(_ endpoint: [String: Any]) -> String {
        let shadows = endpoint["shadows"] as? [[String: Any]] ?? []
        if shadows.isEmpty { return "-" }
        return shadows.map { "\(Output.text($0["model"]))/\(Output.text($0["version"])) \(Output.text($0["share"]))" }.joined(separator: ", ")
    }
}

struct RolloutCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Canary and blue-green rollouts on an endpoint, with gates and automatic rollback.",
        subcommands: [Start.self, Status.self, Pause.self, Resume.self, Promote.self, Rollback.self, Events.self]
    )

    /// Gate thresholds given as NAME=NUMBER (and fairness_attribute=INPUT), as a JSON object.
    static func gates(_ items: [String], option: String) throws -> [String: Any] {
        var object: [String: Any] = [:]
        for gate in items {
            let parts = gate.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == "fairness_attribute" {
                object["fairness_attribute"] = String(parts[1])
                continue
            }
            guard parts.count == 2, let value = Double(parts[1]), value.isFinite else {
                throw ValidationError("\(option) '\(gate)' must look like NAME=NUMBER, a finite number (or fairness_attribute=INPUT)")
            }
            object[String(parts[0])] = value
        }
        return object
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start moving an endpoint to a version.",
            discussion: """
                Canary (default): the candidate takes each --steps percentage for --bake seconds; gates compare it with
                the stable version (error rate, p99 latency, output PSI, accuracy on feedback) and roll back at once
                when one fails. Blue-green: all traffic switches at once and the old version stays loaded (gates
                watching) for --bake seconds, then the rollout promotes.
                Example: ferry rollout start fraud --to 2 --steps 5,25,50,100 --bake 300 --gate max_error_rate_increase=0.005
                """
        )
        @Argument(help: "Endpoint name.") var endpoint: String
        @Option(help: "Candidate version number.") var to: Int
        @Option(help: "Candidate model (default: the endpoint's current model).") var model: String?
        @Option(help: "canary or blue-green.") var strategy = "canary"
        @Option(help: "Candidate percent per step, comma-separated, ending at 100 (canary).") var steps: String?
        @Option(help: "Seconds each step bakes (blue-green: how long the old version stays ready).") var bake: Double?
        @Option(name: .customLong("gate"), help: "Gate threshold NAME=VALUE (repeatable): min_requests, max_error_rate_increase, max_latency_ratio, latency_slack_seconds, max_output_psi, max_accuracy_drop, min_labels; fairness_attribute=INPUT with max_parity_increase adds the fairness gate.") var gates: [String] = []
        @Option(help: "Why (kept on the approval request when the endpoint is protected).") var reason: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["version": to, "strategy": strategy]
            if let reason { body["reason"] = reason }
            if let model { body["model"] = model }
            if let steps {
                let values = steps.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard values.allSatisfy({ $0 != nil }) else { throw ValidationError("--steps must be numbers separated by commas, e.g. 5,25,50,100") }
                body["steps"] = values.map { $0! }
            }
            if let bake { body["bake_seconds"] = bake }
            if !gates.isEmpty { body["gates"] = try RolloutCommands.gates(gates, option: "--gate") }
            let data = try await options.client.send(
                .POST, "/api/v1/endpoints/\(APIClient.segment(endpoint))/rollout", json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            let answer = try Output.object(data)
            if ApprovalCommands.printPending(answer) { return }
            RolloutCommands.printStatus(answer)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A rollout's step, traffic and latest gate verdicts.")
        @Argument(help: "Endpoint name.") var endpoint: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/endpoints/\(APIClient.segment(endpoint))/rollout")
            if options.json { return Output.printJSON(data) }
            let answer = try Output.object(data)
            if ApprovalCommands.printPending(answer) { return }
            RolloutCommands.printStatus(answer)
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Hold the rollout at its current traffic.")
        @Argument(help: "Endpoint name.") var endpoint: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await RolloutCommands.act("pause", endpoint, options) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused rollout (its step bakes again).")
        @Argument(help: "Endpoint name.") var endpoint: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await RolloutCommands.act("resume", endpoint, options) }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send all traffic to the candidate now.")
        @Argument(help: "Endpoint name.") var endpoint: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await RolloutCommands.act("promote", endpoint, options) }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send all traffic back to the stable version now.")
        @Argument(help: "Endpoint name.") var endpoint: String
        @OptionGroup var options: ClientOptions
        func run() async throws { try await RolloutCommands.act("rollback", endpoint, options) }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every rollout step with the numbers that justified it.")
        @Argument(help: "Endpoint name.") var endpoint: String
        @Option(help: "The newest N events.") var limit = 100
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/endpoints/\(APIClient.segment(endpoint))/rollout/events?limit=\(limit)")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no rollout events for \(endpoint)") }
            Output.table(["#", "WHEN", "ACTION", "CANDIDATE %", "BY", "REASON"], items.map { e in
                [Output.text(e["sequence"]), Output.text(e["at"]), Output.text(e["action"]),
                 "\(Output.text(e["from_percent"])) -> \(Output.text(e["to_percent"]))", Output.text(e["by"]), Output.text(e["reason"])]
            })
        }
    }

    static func act(_ action: String, _ endpoint: String, _ options: ClientOptions) async throws {
        let data = try await options.client.send(.POST, "/api/v1/endpoints/\(APIClient.segment(endpoint))/rollout/\(action)")
        if options.json { return Output.printJSON(data) }
        printStatus(try Output.object(data))
    }

    static func printStatus(_ status: [String: Any]) {
        let rollout = status["rollout"] as? [String: Any] ?? [:]
        func ref(_ key: String) -> String {
            let r = rollout[key] as? [String: Any] ?? [:]
            return "\(Output.text(r["model"]))/\(Output.text(r["version"]))"
        }
        print("rollout on \(Output.text(rollout["endpoint"])): \(ref("stable")) -> \(ref("candidate")), \(Output.text(rollout["status"])), candidate at \(Output.text(status["candidate_percent"]))%")
        if let reason = rollout["reason"] as? String { print("reason: \(reason)") }
        let gates = status["gates"] as? [[String: Any]] ?? []
        if !gates.isEmpty {
            Output.table(["GATE", "CANDIDATE", "LIMIT", "PASSED"], gates.map { g in
                [Output.text(g["gate"]), Output.text(g["candidate"]), Output.text(g["limit"]), g["passed"].map { Output.text($0) } ?? "not judged yet"]
            })
        }
    }
}
