import ArgumentParser
import Foundation

struct ApprovalCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals",
        abstract: "Four-eyes changes: protect aliases and endpoints, and approve or reject the requests to change them.",
        discussion: """
            ferry approvals protect fraud@production --expires-after 86400      # an admin protects an alias
            ferry approvals protect endpoint:fraud-api --preapprove retrain    # ... or an endpoint; retraining winners go through
            ferry alias set fraud production 4 --reason 'better recall'        # ann: files an approval request, moves nothing
            ferry approvals list --state pending
            ferry approvals approve apr_0123456789abcdef --comment 'eval checked'   # bob (not ann): the alias moves now

            Moving or removing a protected alias, and starting a rollout on, replacing or deleting a protected endpoint,
            file a request. A second principal with the deployer role or above (never the requester) approves it, and
            the change is carried out then, in the requester's name with the approver in its reason; if the alias
            moved meanwhile the approval fails and nothing changes. A request nobody decides expires. Pausing,
            resuming, promoting and rolling back a running rollout need no approval.
            """,
        subcommands: [List.self, Show.self, Approve.self, Reject.self, Cancel.self, Protect.self, Unprotect.self, Protections.self]
    )

    /// Prints the approval request a change to a protected target filed (HTTP 202); false when `answer` is not one.
    static func printPending(_ answer: [String: Any]) -> Bool {
        guard let approval = answer["approval"] as? [String: Any] else { return false }
        print(Output.text(answer["message"]))
        print("a second principal approves it with: ferry approvals approve \(Output.text(approval["id"]))")
        return true
    }

    /// `model@alias` or `endpoint:name` as the API path of its protection.
    static func protectionPath(_ target: String) throws -> String {
        if target.hasPrefix("endpoint:") {
            return "/api/v1/endpoints/\(APIClient.segment(String(target.dropFirst("endpoint:".count))))/protection"
        }
        let parts = target.split(separator: "@", maxSplits: 1)
        guard parts.count == 2 else { throw ValidationError("target '\(target)' must be MODEL@ALIAS or endpoint:NAME") }
        return "/api/v1/models/\(APIClient.segment(String(parts[0])))/aliases/\(APIClient.segment(String(parts[1])))/protection"
    }

    static func printRequest(_ r: [String: Any]) {
        let change = r["change"] as? [String: Any] ?? [:]
        let target = r["target"] as? [String: Any] ?? [:]
        print("\(Output.text(r["id"])): \(Output.text(r["state"]))")
        print("target:    \(Output.text(target["key"]))")
        print("change:    \(Output.text(change["summary"]))")
        print("requested: \(Output.text(r["requested_at"])) by \(Output.text(r["requested_by"]))\((r["reason"] as? String).map { $0.isEmpty ? "" : ": \($0)" } ?? "")")
        print("expires:   \(Output.text(r["expires_at"]))")
        if let by = r["decided_by"] as? String {
            let comment = (r["comment"] as? String).map { $0.isEmpty ? "" : ": \($0)" } ?? ""
            print("decided:   \(Output.text(r["decided_at"])) by \(by)\(comment)")
        }
        if let outcome = r["outcome"] as? String, !outcome.isEmpty { print("outcome:   \(outcome)") }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approval requests, newest first.")
        @Option(help: "pending, approved, rejected, expired, cancelled or failed.") var state: String?
        @Option(help: "At most this many.") var limit = 100
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var path = "/api/v1/approvals?limit=\(limit)"
            if let state { path += "&state=\(APIClient.query(state))" }
            let data = try await options.client.get(path)
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("no approval requests\(state.map { " \($0)" } ?? "")") }
            Output.table(["ID", "STATE", "TARGET", "CHANGE", "REQUESTED BY", "EXPIRES", "DECIDED BY"], items.map { r in
                [Output.text(r["id"]), Output.text(r["state"]), Output.text((r["target"] as? [String: Any])?["key"]),
                 Output.text((r["change"] as? [String: Any])?["summary"]), Output.text(r["requested_by"]), Output.text(r["expires_at"]),
                 Output.text(r["decided_by"])]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One approval request.")
        @Argument(help: "Request id (apr_...).") var id: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/approvals/\(APIClient.segment(id))")
            if options.json { return Output.printJSON(data) }
            ApprovalCommands.printRequest(try Output.object(data))
        }
    }

    /// approve, reject and cancel: POST the decision, print the request as it ends.
    static func decide(_ action: String, _ id: String, comment: String?, _ options: ClientOptions) async throws {
        var body: [String: Any] = [:]
        if let comment { body["comment"] = comment }
        let data = try await options.client.send(
            .POST, "/api/v1/approvals/\(APIClient.segment(id))/\(action)", json: try JSONSerialization.data(withJSONObject: body))
        if options.json { return Output.printJSON(data) }
        let request = try Output.object(data)
        printRequest(request)
        if request["state"] as? String == "failed" { throw CLIError("the approved change could not be carried out: \(Output.text(request["outcome"]))") }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a pending request (not your own) and carry its change out; exit status 1 when the change fails.")
        @Argument(help: "Request id (apr_...).") var id: String
        @Option(help: "Why (kept on the request and in the audit trail).") var comment: String?
        @OptionGroup var options: ClientOptions

        func run() async throws { try await ApprovalCommands.decide("approve", id, comment: comment, options) }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a pending request (not your own).")
        @Argument(help: "Request id (apr_...).") var id: String
        @Option(help: "Why (kept on the request and in the audit trail).") var comment: String?
        @OptionGroup var options: ClientOptions

        func run() async throws { try await ApprovalCommands.decide("reject", id, comment: comment, options) }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw your own pending request (admins may withdraw any).")
        @Argument(help: "Request id (apr_...).") var id: String
        @OptionGroup var options: ClientOptions

        func run() async throws { try await ApprovalCommands.decide("cancel", id, comment: nil, options) }
    }

    struct Protect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Protect an alias (MODEL@ALIAS) or an endpoint (endpoint:NAME): changing it then needs a second principal's approval (admin).")
        @Argument(help: "MODEL@ALIAS or endpoint:NAME.") var target: String
        @Option(name: .customLong("expires-after"), help: "Seconds a request waits for a decision (60 to 2592000; default 86400).") var expiresAfter: Double?
        @Option(name: .customLong("preapprove"), help: "A source whose changes need no request (repeatable): retrain.") var preapprove: [String] = []
        @OptionGroup var options: ClientOptions

        func run() async throws {
            var body: [String: Any] = ["preapproved": preapprove]
            if let expiresAfter { body["expires_after_seconds"] = expiresAfter }
            let data = try await options.client.send(
                .PUT, try ApprovalCommands.protectionPath(target), json: try JSONSerialization.data(withJSONObject: body))
            if options.json { return Output.printJSON(data) }
            let p = try Output.object(data)
            let preapproved = (p["preapproved"] as? [String] ?? []).joined(separator: ", ")
            print("protected \(target): requests expire after \(Output.text(p["expires_after_seconds"])) s\(preapproved.isEmpty ? "" : "; pre-approved: \(preapproved)")")
        }
    }

    struct Unprotect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a protection (admin).")
        @Argument(help: "MODEL@ALIAS or endpoint:NAME.") var target: String
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.send(.DELETE, try ApprovalCommands.protectionPath(target))
            if options.json { return Output.printJSON(data) }
            print("unprotected \(target)")
        }
    }

    struct Protections: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Protected aliases and endpoints.")
        @OptionGroup var options: ClientOptions

        func run() async throws {
            let data = try await options.client.get("/api/v1/protections")
            if options.json { return Output.printJSON(data) }
            let items = try Output.object(data)["items"] as? [[String: Any]] ?? []
            if items.isEmpty { return print("nothing is protected") }
            Output.table(["TARGET", "EXPIRES AFTER (S)", "PRE-APPROVED", "BY", "SINCE"], items.map { p in
                [Output.text((p["target"] as? [String: Any])?["key"]), Output.text(p["expires_after_seconds"]),
                 (p["preapproved"] as? [String] ?? []).joined(separator: ", "), Output.text(p["created_by"]), Output.text(p["created_at"])]
            })
        }
    }
}
