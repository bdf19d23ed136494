import ArgumentParser
import Foundation

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke API keys (needs an admin key), and show who a key is.",
        subcommands: [Create.self, List.self, Revoke.self, WhoAmI.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key; its secret is printed once and never stored.",
            discussion: "Example: ferry keys create --name checkout-service --role predictor --model fraud --rate-limit 500"
        )
        @Option(help: "What the key is for (recorded as the actor of its changes).") var name: String
        @Option(help: "viewer, predictor, deployer or admin.") var role: String
        @Option(name: .customLong("model"), help: "Restrict the key to this model (repeatable; default: all models).") var models: [String] = []
        @Option(name: .customLong("rate-limit"), help: "Requests per second (default: the role's limit).") var rateLimit: Double?
        @Option(name: .customLong("expires-in"), help: "Lifetime such as 90d, 12h or 30m (default: no expiry).") var expiresIn: String?
        @OptionGroup var options: ClientOptions

        func validate() throws {
            guard ["viewer", "predictor", "deployer", "admin"].contains(role) else {
                throw ValidationError("--role must be viewer, predictor, deployer or admin")
            }
            if let expiresIn { _ = try Keys.seconds(expiresIn) }
        }

        func run() async throws {
            var body: [String: Any] = ["name": name, "role": role]
            if !models.isEmpty { body["models"] = models }
            if let rateLimit { body["rate_limit"] = rateLimit }
            if let expiresIn {
                let formatter = ISO8601DateFormatter()
                body["expires_at"] = formatter.string(from: Date().addingTimeInterval(try Keys.seconds(expiresIn)))
            }
            let data = try await options.client.send(.POST, "/api/v1/keys", json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            let created = try Output.object(data)
            let key = created["key"] as? [String: Any] ?? [:]
            print("created \(Output.text(key["id"])) (\(Output.text(key["role"]))) for \(name). Its secret, shown only now:")
            print(Output.text(created["secret"]))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List API keys (ids and metadata, never secrets).")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/keys")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            Output.table(["ID", "NAME", "ROLE", "MODELS", "RATE", "CREATED", "EXPIRES", "REVOKED"], items.map { k in
                [Output.text(k["id"]), Output.text(k["name"]), Output.text(k["role"]), k["models"] == nil ? "all" : Output.text(k["models"]),
                 Output.text(k["rate_limit"]), Output.text(k["created_at"]), Output.text(k["expires_at"]), Output.text(k["revoked_at"])]
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key by id (fry_...); it stops working at once.")
        @Argument(help: "Key id, as `ferry keys list` shows it.") var id: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.DELETE, "/api/v1/keys/\(APIClient.segment(id))")
            if options.json { return Output.printJSON(data) }
            print("revoked \(id)")
        }
    }

    struct WhoAmI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show the principal your API key stands for.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/whoami")
            if options.json { return Output.printJSON(data) }
            let p = try Output.object(data)
            print("\(Output.text(p["name"])) (\(Output.text(p["id"]))), role \(Output.text(p["role"])), models \(p["models"] == nil ? "all" : Output.text(p["models"]))")
        }
    }

    /// Parses durations like 90d, 12h, 30m, 45s.
    static func seconds(_ text: String) throws -> TimeInterval {
        let units: [Character: Double] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        guard let unit = text.last.flatMap({ units[$0] }), let n = Double(text.dropLast()), n > 0 else {
            throw ValidationError("--expires-in '\(text)' must be a positive number followed by d, h, m or s (e.g. 90d)")
        }
        return n * unit
    }
}
