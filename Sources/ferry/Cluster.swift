import ArgumentParser
import Foundation

/// `ferry cluster`: which replica answered, whether it leads, and how far it has applied the shared store's changes.
struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Show the replica that answers: its name, whether it leads (rollouts, alerts, retention, webhooks), its store.")
    @OptionGroup var options: ClientOptions

    func run() async throws {
        let data = try await options.client.get("/api/v1/cluster")
        if options.json { return Output.printJSON(data) }
        let c = try Output.object(data)
        Output.table(["REPLICA", "LEADER", "STORE", "APPLIED CHANGE"], [[
            Output.text(c["replica"]), (c["leader"] as? Bool) == true ? "yes" : "no", Output.text(c["store"]), Output.text(c["applied_change"]),
        ]])
    }
}
