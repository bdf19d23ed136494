import ArgumentParser
import Foundation

struct Retrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Retraining: a policy per model, jobs run by hand, by a firing alert or on a schedule, and their verdicts.",
        discussion: """
            A job exports the served version's newest labelled rows (holding the newest fraction out), runs the trainer
            with FERRY_TRAINING_DATA (a CSV of the features and a label column), FERRY_OUTPUT_DIR (where it writes a
            model file or an MLflow model folder) and MLFLOW_TRACKING_URI in its environment, registers the model as a
            candidate, and judges it against the champion on the held-out rows. The server runs only trainers its
            operator allowed with `ferry serve --trainer PROGRAM`.

            A trainer outside the server (an orchestrator such as Airflow or a CI pipeline) is a webhook instead
            (`--webhook URL`): the server POSTs the job to it, signed with `--webhook-secret` as alert webhooks are,
            with the training data's URL; the orchestrator registers its model and answers with
            `ferry retrain report MODEL JOB --version N` (or `--error WHY`) before the policy's timeout.
            """,
        subcommands: [Policy.self, Run.self, Status.self, Show.self, Cancel.self, Report.self, DataFile.self]
    )

    struct Policy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set, show or delete a model's retraining policy.", subcommands: [Set.self, Show.self, Delete.self])

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set a model's retraining policy.",
                discussion: """
                    ferry retrain policy set fraud --alert amount-drift --every 604800 --metric roc_auc --min-improvement 0.005 \\
                      --endpoint fraud -- python examples/fraud/retrain.py
                    """)
            @Argument(help: "Model name.") var model: String
            @Argument(parsing: .postTerminator, help: "The trainer command, after --.") var command: [String] = []
            @Option(help: "Instead of a command, the URL of an orchestrator that trains (it gets the job as a signed POST and reports back).") var webhook: String?
            @Option(name: .customLong("webhook-secret"), help: "Signs the webhook's POST (Ferry-Signature: sha256=HMAC of timestamp.body).") var webhookSecret: String?
            @Option(name: .customLong("alert"), help: "An alert rule of the model whose firing retrains it (repeatable).") var alerts: [String] = []
            @Option(help: "Retrain every this many seconds.") var every: Int?
            @Option(name: .customLong("window-rows"), help: "Newest labelled rows to use (default 100000).") var windowRows: Int?
            @Option(name: .customLong("holdout"), help: "Fraction of them held out for the evaluation (default 0.2).") var holdout: Double?
            @Option(help: "Seconds the trainer may run (default 3600).") var timeout: Int?
            @Option(help: "Further attempts after a failure (default 0).") var retries: Int?
            @Option(help: "The gate's metric: roc_auc (default), accuracy, f1, precision, recall, log_loss, rmse, mae or r2.") var metric: String?
            @Option(name: .customLong("min-improvement"), help: "How much better the candidate must be (default 0).") var minImprovement: Double?
            @Flag(name: .customLong("require-confidence"), help: "The 95% interval of the improvement must lie above 0.") var requireConfidence = false
            @Option(name: .customLong("max-latency-ratio"), help: "The candidate's time per row may be at most this multiple of the champion's (default 1.5).") var maxLatencyRatio: Double?
            @Option(help: "Endpoint a winner is rolled out on as a canary (default: the challenger alias).") var endpoint: String?
            @Option(name: .customLong("rollout-steps"), help: "The canary's traffic steps in percent, comma-separated (default: the canary defaults).") var rolloutSteps: String?
            @Option(name: .customLong("rollout-bake"), help: "Seconds the canary bakes at each step.") var rolloutBake: Double?
            @Option(name: .customLong("rollout-gate"), help: "A canary gate threshold NAME=VALUE (repeatable), as `ferry rollout start --gate`; e.g. max_output_psi=0.5 for a retrained model that shifts its scores on purpose.") var rolloutGates: [String] = []
            @OptionGroup var options: ClientOptions

            func validate() throws {
                guard command.isEmpty != (webhook == nil) else {
                    throw ValidationError("give the trainer as a command after -- (e.g. -- python train.py) or as --webhook URL, not both")
                }
                if webhookSecret != nil, webhook == nil { throw ValidationError("--webhook-secret signs --webhook's calls; give --webhook too") }
            }

            func run() async throws {
                var body: [String: Any] = ["alerts": alerts]
                if let webhook {
                    var hook: [String: Any] = ["url": webhook]
                    if let webhookSecret { hook["secret"] = webhookSecret }
                    body["webhook"] = hook
                } else {
                    body["command"] = command
                }
                if let every { body["every_seconds"] = every }
                if let windowRows { body["window_rows"] = windowRows }
                if let holdout { body["holdout_fraction"] = holdout }
                if let timeout { body["timeout_seconds"] = timeout }
                if let retries { body["retries"] = retries }
                if let endpoint { body["endpoint"] = endpoint }
                if let rolloutSteps {
                    body["rollout_steps"] = try rolloutSteps.split(separator: ",").map { item -> Double in
                        guard let v = Double(item.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--rollout-steps '\(rolloutSteps)' must be numbers separated by commas") }
                        return v
                    }
                }
                if let rolloutBake { body["rollout_bake_seconds"] = rolloutBake }
                if !rolloutGates.isEmpty { body["rollout_gates"] = try RolloutCommands.gates(rolloutGates, option: "--rollout-gate") }
                var gate: [String: Any] = ["require_confidence": requireConfidence]
                if let metric { gate["metric"] = metric }
                if let minImprovement { gate["min_improvement"] = minImprovement }
                if let maxLatencyRatio { gate["max_latency_ratio"] = maxLatencyRatio }
                body["gate"] = gate
                let data = try await options.client.send(
                    .PUT, "/api/v1/models/\(APIClient.segment(model))/retrain/policy", json: try JSONSerialization.data(withJSONObject: body))
                if options.json { return Output.printJSON(data) }
                Retrain.printPolicy(try Output.object(data))
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show a model's retraining policy.")
            @Argument(help: "Model name.") var model: String
            @OptionGroup var options: ClientOptions

            func run() async throws {
                let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/retrain/policy")
                if options.json { return Output.printJSON(data) }
                Retrain.printPolicy(try Output.object(data))
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a model's retraining policy.")
            @Argument(help: "Model name.") var model: String
            @OptionGroup var options: ClientOptions

            func run() async throws {
                let data = try await options.client.send(.DELETE, "/api/v1/models/\(APIClient.segment(model))/retrain/policy")
                if options.json { return Output.printJSON(data) }
                print("retraining policy of \(model) deleted")
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retrain a model now (by hand); --wait follows the job to its end.")
        @Argument(help: "Model name.") var model: String
        @Flag(help: "Wait for the job to end and print its verdict; exit status 1 unless it succeeded.") var wait = false
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let client = options.client
            let data = try await client.send(.POST, "/api/v1/models/\(APIClient.segment(model))/retrain")
            let job = try Output.object(data)
            guard wait else {
                if options.json { return Output.printJSON(data) }
                return print("job \(Output.text(job["id"])) queued; follow it with `ferry retrain show \(model) \(Output.text(job["id"]))`")
            }
            let path = "/api/v1/models/\(APIClient.segment(model))/retrain/jobs/\(APIClient.segment(Output.text(job["id"])))"
            var last = ""
            while true {
                let current = try Output.object(try await client.get(path))
                let state = Output.text(current["state"])
                if state != last {
                    FileHandle.standardError.write(Data("\(state)\n".utf8))
                    last = state
                }
                if !["queued", "running"].contains(state) {
                    if options.json {
                        Output.printJSON(try JSONSerialization.data(withJSONObject: current))
                    } else {
                        Retrain.printJob(current)
                    }
                    if state != "succeeded" { throw ExitCode(1) }
                    return
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A model's retraining: its policy and its jobs, newest first.")
        @Argument(help: "Model name.") var model: String
        @Option(help: "Most jobs to list.") var limit = 20
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/retrain/jobs?limit=\(limit)")
            if options.json { return Output.printJSON(data) }
            if let policy = try? Output.object(try await options.client.get("/api/v1/models/\(APIClient.segment(model))/retrain/policy")) {
                Retrain.printPolicy(policy)
                print("")
            }
            let jobs = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if jobs.isEmpty { return print("no retraining jobs for \(model) yet; start one with `ferry retrain run \(model)`") }
            Output.table(["JOB", "TRIGGER", "STATE", "CREATED", "CHAMPION", "CANDIDATE", "METRIC", "CHAMPION", "CANDIDATE", "95% INTERVAL", "REASON"], jobs.map { job in
                let e = job["evaluation"] as? [String: Any] ?? [:]
                let interval = e["lower"] == nil ? "" : "[\(Retrain.number(e["lower"])), \(Retrain.number(e["upper"]))]"
                return [Output.text(job["id"]), Output.text(job["trigger"]), Output.text(job["state"]), Output.text(job["created_at"]),
                        Output.text(job["champion"]), Output.text(job["candidate"]), Output.text(e["metric"]), Retrain.number(e["champion"]),
                        Retrain.number(e["challenger"]), interval, String(Output.text(job["reason"]).prefix(80))]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One retraining job: its data window, candidate, evaluation, verdict and the trainer's output.")
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Job id.") var job: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/retrain/jobs/\(APIClient.segment(job))")
            if options.json { return Output.printJSON(data) }
            let object = try Output.object(data)
            Retrain.printJob(object)
            if let logs = object["logs"] as? String, !logs.isEmpty { print("\ntrainer output:\n\(logs)") }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued retraining job.")
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Job id.") var job: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.POST, "/api/v1/models/\(APIClient.segment(model))/retrain/jobs/\(APIClient.segment(job))/cancel")
            if options.json { return Output.printJSON(data) }
            print("job \(job) cancelled")
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A webhook trainer's answer to a job: the version it registered (--version) or why it failed (--error).",
            discussion: """
                ferry models register fraud model.json --description "retrained for job rt_..."   # prints the version
                ferry retrain report fraud rt_0123456789abcdef --version 7
                """)
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Job id (the webhook's `job`).") var job: String
        @Option(help: "The version of the model the trainer registered.") var version: Int?
        @Option(help: "Why the trainer could not train a model.") var error: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard (version == nil) != (error == nil) else { throw ValidationError("give exactly one of --version N or --error WHY") }
        }

        func run() async throws {
            let body: [String: Any] = version.map { ["version": $0] } ?? ["error": error ?? ""]
            let data = try await options.client.send(
                .POST, "/api/v1/models/\(APIClient.segment(model))/retrain/jobs/\(APIClient.segment(job))/report",
                json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            print("job \(job) has its report; the server evaluates it next (follow it with `ferry retrain show \(model) \(job)`)")
        }
    }

    struct DataFile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "data", abstract: "Download the CSV a retraining job trains on (the logged features, then label).")
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Job id.") var job: String
        @Option(help: "Write it here instead of standard output.") var out: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/models/\(APIClient.segment(model))/retrain/jobs/\(APIClient.segment(job))/data")
            guard let out else { return FileHandle.standardOutput.write(data) }
            try data.write(to: URL(fileURLWithPath: out))
            print("wrote \(data.count) bytes to \(out)")
        }
    }

    static func number(_ v: Any?) -> String {
        guard let n = v as? NSNumber else { return "" }
        return String(format: "%.4g", n.doubleValue)
    }

    static func printPolicy(_ p: [String: Any]) {
        let gate = p["gate"] as? [String: Any] ?? [:]
        print("retraining policy of \(Output.text(p["model"]))")
        if let hook = p["webhook"] as? [String: Any] {
            print("  trainer:   webhook \(Output.text(hook["url"]))\(hook["secret"] == nil ? "" : " (signed)")")
        } else {
            print("  trainer:   \((p["command"] as? [String] ?? []).joined(separator: " "))")
        }
        let alerts = (p["alerts"] as? [String] ?? []).joined(separator: ", ")
        print("  triggers:  by hand\(alerts.isEmpty ? "" : ", alerts \(alerts)")\(p["every_seconds"].map { ", every \(Output.text($0)) s" } ?? "")")
        print("  data:      newest \(Output.text(p["window_rows"])) labelled rows, \(Output.text(p["holdout_fraction"])) of them held out")
        print("  gate:      \(Output.text(gate["metric"])) better by at least \(Output.text(gate["min_improvement"]))\((gate["require_confidence"] as? Bool) == true ? " with 95% confidence" : ""), at most \(Output.text(gate["max_latency_ratio"]))× the champion's time per row")
        print("  winner:    \(p["endpoint"].map { "canary on endpoint \(Output.text($0))" } ?? "alias challenger")")
        print("  limits:    \(Output.text(p["timeout_seconds"])) s per attempt, \(Output.text(p["retries"])) retries")
    }

    static func printJob(_ j: [String: Any]) {
        print("job \(Output.text(j["id"])) of \(Output.text(j["model"])): \(Output.text(j["state"])) (trigger \(Output.text(j["trigger"])), attempt \(Output.text(j["attempt"])))")
        if j["champion"] != nil { print("  champion version \(Output.text(j["champion"]))\(j["candidate"].map { ", candidate version \(Output.text($0))" } ?? "")") }
        if let rows = j["training_rows"] as? Int, rows > 0 {
            print("  data: \(rows) training rows (\(Output.text(j["data_since"])) to \(Output.text(j["data_until"])), \(Output.text(j["data_digest"]))), \(Output.text(j["holdout_rows"])) held out")
        }
        if let e = j["evaluation"] as? [String: Any] {
            print("  \(Output.text(e["metric"])): champion \(number(e["champion"])), candidate \(number(e["challenger"])), improvement \(number(e["improvement"])) (95% interval [\(number(e["lower"])), \(number(e["upper"]))], \(Output.text(e["resamples"])) paired resamples)")
            print("  time per row: champion \(number(e["champion_micros_per_row"])) µs, candidate \(number(e["challenger_micros_per_row"])) µs")
        }
        if let reason = j["reason"] as? String, !reason.isEmpty { print("  \(reason)") }
    }
}
