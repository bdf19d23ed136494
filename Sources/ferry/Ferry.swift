import ArgumentParser

@main
struct Ferry: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Ferry: a model registry and inference server in one binary.",
        discussion: """
            Start a server with `ferry serve`; every other command talks to a running server
            (default http://127.0.0.1:8080, or set --server / FERRY_SERVER).
            """,
        // No `version:` here: ArgumentParser would add a `--version` flag to every subcommand, where it collides
        // with options like `ferry models show NAME --version N`. `main` answers `ferry --version` itself.
        subcommands: [Serve.self, Models.self, AliasCommand.self, Predict.self, Monitor.self, DataCommands.self, Alerts.self, EndpointCommands.self, RolloutCommands.self, Features.self, Runs.self, Retrain.self, Jobs.self, ApprovalCommands.self, Cost.self, Keys.self, Audit.self, Cluster.self, Sign.self]
    )

    /// `ferry --version` prints the version; everything else is parsed as usual.
    static func main() async {
        if Array(CommandLine.arguments.dropFirst()) == ["--version"] { return print(version) }
        await main(nil)
    }
}

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Ferry server URL (default: $FERRY_SERVER or http://127.0.0.1:8080).")
    var server: String?

    @Option(name: .customLong("api-key"), help: "API key to authenticate with (default: $FERRY_API_KEY).")
    var apiKey: String?

    @Flag(name: .long, help: "Print the server's JSON instead of a table.")
    var json = false

    var client: APIClient {
        APIClient(base: server ?? FerryEnvironment.server, apiKey: apiKey ?? FerryEnvironment.apiKey)
    }

    /// A server given without its scheme (`127.0.0.1:8080`) was reported as unreachable.
    func validate() throws {
        let base = server ?? FerryEnvironment.server
        guard let url = URL(string: base), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false else {
            throw ValidationError("\(server == nil ? "FERRY_SERVER" : "--server") must be an http or https URL such as http://127.0.0.1:8080 (it is '\(base)')")
        }
    }
}

enum FerryEnvironment {
    static var server: String {
        ProcessInfo.processInfo.environment["FERRY_SERVER"] ?? "http://127.0.0.1:8080"
    }
    static var apiKey: String? {
        ProcessInfo.processInfo.environment["FERRY_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
    }
}

import Foundation
