import ArgumentParser
import Foundation

struct AliasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias",
        abstract: "Move aliases (production, staging, ...) and read their history.",
        subcommands: [Set.self, Remove.self, History.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Point an alias at a version; the version is loaded and warmed before traffic moves.",
            discussion: "Example: ferry alias set fraud production 2 --reason 'better recall'"
        )
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Alias name.") var alias: String
        @Argument(help: "Version number.") var version: Int
        @Option(help: "Why the alias moves (kept in the history, and on the approval request when the alias is protected).") var reason: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["version": version]
            if let reason { body["reason"] = reason }
            let data = try await options.client.send(
                .PUT, "/api/v1/models/\(APIClient.segment(model))/aliases/\(APIClient.segment(alias))",
                json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            let e = try Output.object(data)
            if ApprovalCommands.printPending(e) { return }
            print("\(model)@\(alias): \(Output.text(e["from"])) -> \(Output.text(e["to"]))")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an alias (recorded in the history).")
        @Argument(help: "Model name.") var model: String
        @Argument(help: "Alias name.") var alias: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.DELETE, "/api/v1/models/\(APIClient.segment(model))/aliases/\(APIClient.segment(alias))")
            if options.json { return Output.printJSON(data) }
            if ApprovalCommands.printPending(try Output.object(data)) { return }
            print("removed \(model)@\(alias)")
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every move of a model's aliases, oldest first.")
        @Argument(help: "Model name.") var model: String
        @Option(help: "Only this alias.") var alias: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var path = "/api/v1/models/\(APIClient.segment(model))/alias-history"
            if let alias { path += "?alias=\(APIClient.segment(alias))" }
            let data = try await options.client.get(path)
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no alias moves for \(model)") }
            Output.table(["#", "WHEN", "ALIAS", "FROM", "TO", "BY", "REASON"], items.map { e in
                [Output.text(e["sequence"]), Output.text(e["at"]), Output.text(e["alias"]), Output.text(e["from"]),
                 Output.text(e["to"]), Output.text(e["by"]), Output.text(e["reason"])]
            })
        }
    }
}
