import ArgumentParser
import FerryCore
import FerryEngine
import FerryStoreSQLite
import Foundation
import Logging

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read, export and verify the hash-chained audit trail of control-plane changes (needs an admin key).",
        subcommands: [List.self, Export.self, Verify.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Audit entries, oldest first.")
        @Option(help: "Only entries after this sequence number.") var after: Int64 = 0
        @Option(help: "At most this many entries (1-10000).") var limit = 100
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/audit?after=\(after)&limit=\(limit)")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no audit entries") }
            Output.table(["#", "WHEN", "ACTOR", "ACTION", "TARGET"], items.map { e in
                [Output.text(e["seq"]), Output.text(e["at"]), Output.text(e["actor"]), Output.text(e["action"]), Output.text(e["target"])]
            })
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every entry as JSON Lines (one entry per line, with its hashes), for archiving elsewhere.")
        @Option(help: "File to write (default: standard output).") var out: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            // The entries exactly as the API shapes them (ISO-8601 times, snake_case keys).
            let entries = try await Audit.fetchPages(options.client)
            var text = ""
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for entry in entries { text += String(decoding: try encoder.encode(entry), as: UTF8.self) + "\n" }
            if let out {
                try Data(text.utf8).write(to: URL(fileURLWithPath: out))
                print("wrote \(entries.count) entries to \(out)")
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain and report any edited, deleted or reordered entry (exit status 1).",
            discussion: """
                Reads the entries from the server, or with --data-dir straight from a stopped or running server's
                database, and checks them here. Deleting the newest entries leaves a shorter valid chain: pass an
                --anchor (a 'SEQ:HASH' printed by an earlier verify) to catch that too.
                """
        )
        @Option(name: .customLong("data-dir"), help: "Read the trail from this data folder's ferry.sqlite instead of the server.") var dataDir: String?
        @Option(help: "SEQ:HASH of an entry recorded earlier that must still be present and unchanged.") var anchor: String?
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var anchored: (seq: Int64, hash: String)?
            if let anchor {
                let parts = anchor.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let seq = Int64(parts[0]), parts[1].count == 64 else {
                    throw ValidationError("--anchor must be SEQ:HASH, e.g. 12:3f5a... (64 hex digits)")
                }
                anchored = (seq, String(parts[1]))
            }
            let entries: [AuditEntry]
            if let dataDir {
                let path = URL(fileURLWithPath: dataDir).appendingPathComponent("ferry.sqlite").path
                guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("no ferry.sqlite in \(dataDir)") }
                entries = try await AuditTrail(store: try SQLiteMetadataStore(path: path), logger: Logger(label: "ferry-audit")).all()
            } else {
                entries = try await Audit.fetchAll(options.client)
            }
            let check = AuditVerification.check(entries, anchor: anchored)
            if options.json {
                let object: [String: Any] = ["intact": check.intact, "entries": check.entries, "head": check.head, "problems": check.problems]
                Output.printJSON(try JSONSerialization.data(withJSONObject: object))
            } else if check.intact {
                print("audit trail intact: \(check.entries) entries; head \(entries.last.map { "\($0.seq):\($0.hash)" } ?? "(empty)")")
            } else {
                for problem in check.problems { print("TAMPERED: \(problem)") }
            }
            if !check.intact { throw ExitCode(1) }
        }
    }

    /// Every entry from the server, paging by sequence number.
    static func fetchAll(_ client: APIClient) async throws -> [AuditEntry] {
        try await fetchPages(client).map { try $0.entry() }
    }

    /// Every entry as the API answers it.
    static func fetchPages(_ client: APIClient) async throws -> [WireEntry] {
        var all: [WireEntry] = []
        while true {
            let data = try await client.get("/api/v1/audit?after=\(all.last?.seq ?? 0)&limit=10000")
            let page = try JSONDecoder().decode(Page.self, from: data).items
            all += page
            if page.count < 10_000 { return all }
        }
    }

    struct Page: Decodable { var items: [WireEntry] }

    /// An entry in the API's shape (`SecurityRoutes`' entry body).
    struct WireEntry: Codable {
        var seq: Int64
        var at: String
        var actor, action, target: String
        var before, after: JSONValue?
        var previous_hash, hash: String

        func entry() throws -> AuditEntry {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            guard let date = formatter.date(from: at) else { throw CLIError("audit entry \(seq) has an unreadable time '\(at)'") }
            return AuditEntry(
                seq: seq, at: date, actor: actor, action: action, target: target, before: before, after: after,
                previousHash: previous_hash, hash: hash)
        }
    }
}
