import FerryCore
import FerryEngine
import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// Protected aliases and endpoints: a change waits for a second principal's approval, on either store.
struct ApprovalTests {
    /// JSON of an answer, with its status checked.
    static func json(_ response: TestResponse, _ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        #expect(response.status == status, "\(String(buffer: response.body))", sourceLocation: sourceLocation)
        return try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))
    }

    static func text(_ value: JSONValue?) -> String? {
        if case .string(let s)? = value { return s }
        return nil
    }

    static func request(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ key: String, _ body: String? = nil
    ) async throws -> TestResponse {
        try await client.execute(
            uri: uri, method: method, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) })
    }

    @Test(arguments: ["sqlite", "postgres"])
    func aProtectedAliasMovesOnlyWhenASecondDeployerApproves(_ store: String) async throws {
        try await withFerry(authenticated: true, postgres: store == "postgres") { client, stack in
            let v2 = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test")).version
            let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test").secret
            let ann = try await stack.authenticator.createKey(name: "ann", role: .deployer, by: "test").secret
            let bob = try await stack.authenticator.createKey(name: "bob", role: .deployer, by: "test").secret
            let viewer = try await stack.authenticator.createKey(name: "val", role: .viewer, by: "test").secret
            let outsider = try await stack.authenticator.createKey(name: "olga", role: .deployer, models: ["other"], by: "test").secret

            // Only an admin protects; a deployer may not.
            let path = "/api/v1/models/fraud/aliases/production/protection"
            #expect(try await Self.request(client, .put, path, ann, "{}").status == .forbidden)
            _ = try Self.json(try await Self.request(client, .put, path, admin, #"{"expires_after_seconds": 1}"#), .badRequest)
            _ = try Self.json(try await Self.request(client, .put, path, admin, #"{"preapproved": ["friday"]}"#), .badRequest)
            let protection = try Self.json(try await Self.request(client, .put, path, admin, #"{"expires_after_seconds": 3600}"#), .ok)
            #expect(Self.text(protection["target"]?["key"]) == "fraud@production")

            // Ann asks: 202 with the request; the alias has not moved.
            let asked = try Self.json(
                try await Self.request(client, .put, "/api/v1/models/fraud/aliases/production", ann, #"{"version": \#(v2), "reason": "better recall"}"#), .accepted)
            let id = try #require(Self.text(asked["approval"]?["id"]))
            #expect(Self.text(asked["approval"]?["state"]) == "pending")
            #expect(Self.text(asked["approval"]?["change"]?["kind"]) == "set_alias")
            #expect(Self.text(asked["message"])?.contains("waits for a second principal") == true)
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "production" }?.version == 1)
            // One pending request per target.
            let again = try Self.json(try await Self.request(client, .put, "/api/v1/models/fraud/aliases/production", bob, #"{"version": \#(v2)}"#), .conflict)
            #expect(Self.text(again["error"])?.contains(id) == true)

            // Nobody goes around it: not the registry, not a registration, not MLflow's API.
            await #expect(throws: FerryError.self) { try await stack.registry.setAlias(model: "fraud", alias: "production", version: v2, by: "sneaky") }
            let registration = try Self.json(try await Self.request(
                client, .post, "/api/v1/models/fraud/versions", admin,
                #"{"artifact": "\#(try TestStack.exampleModel().base64EncodedString())", "aliases": ["production"]}"#), .conflict)
            #expect(Self.text(registration["error"])?.contains("is protected and cannot be set at registration") == true)

            // Ann cannot approve her own; a viewer cannot approve; a deployer restricted to other models cannot see it.
            let own = try Self.json(try await Self.request(client, .post, "/api/v1/approvals/\(id)/approve", ann, "{}"), .forbidden)
            #expect(Self.text(own["error"])?.contains("cannot approve it: a second principal") == true)
            #expect(try await Self.request(client, .post, "/api/v1/approvals/\(id)/approve", viewer, "{}").status == .forbidden)
            #expect(try await Self.request(client, .post, "/api/v1/approvals/\(id)/approve", outsider, "{}").status == .forbidden)
            let hidden = try Self.json(try await Self.request(client, .get, "/api/v1/approvals", outsider), .ok)
            #expect(hidden["items"] == .array([]))
            let pending = try Self.json(try await Self.request(client, .get, "/api/v1/approvals?state=pending", viewer), .ok)
            guard case .array(let items)? = pending["items"] else { throw FerryError.invalid("no items") }
            #expect(items.count == 1 && Self.text(items.first?["id"]) == id)

            // Bob approves: the alias moves in Ann's name, with Bob in the reason.
            let approved = try Self.json(try await Self.request(client, .post, "/api/v1/approvals/\(id)/approve", bob, #"{"comment": "checked the eval"}"#), .ok)
            #expect(Self.text(approved["state"]) == "approved")
            #expect(Self.text(approved["decided_by"])?.hasPrefix("bob") == true)
            #expect(Self.text(approved["outcome"]) == "alias 'production' of model 'fraud' points at version \(v2)")
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "production" }?.version == v2)
            let moved = try #require(try await stack.registry.aliasHistory(model: "fraud", alias: "production").last)
            #expect(moved.by.hasPrefix("ann") && moved.reason.contains("better recall") && moved.reason.contains("approved by bob"))
            // The version's model card tells the story.
            let card = String(buffer: try await Self.request(client, .get, "/api/v1/models/fraud/versions/\(v2)/card", viewer).body)
            #expect(card.contains("Protected aliases (moving one needs a second principal's approval): production."))
            #expect(card.contains("| fraud@production | move the alias from version 1 to version \(v2) |") && card.contains("| approved | bob"))
            // Decided once.
            let twice = try Self.json(try await Self.request(client, .post, "/api/v1/approvals/\(id)/approve", admin, "{}"), .conflict)
            #expect(Self.text(twice["error"])?.contains("already approved") == true)

            // A removal, rejected by Bob, changes nothing; Ann withdraws the next one herself.
            let removal = try Self.json(try await Self.request(client, .delete, "/api/v1/models/fraud/aliases/production", ann), .accepted)
            let removalID = try #require(Self.text(removal["approval"]?["id"]))
            #expect(try await Self.request(client, .post, "/api/v1/approvals/\(removalID)/cancel", bob, "{}").status == .forbidden)
            _ = try Self.json(try await Self.request(client, .post, "/api/v1/approvals/\(removalID)/reject", bob, #"{"comment": "no"}"#), .ok)
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "production" }?.version == v2)
            let back = try Self.json(try await Self.request(client, .put, "/api/v1/models/fraud/aliases/production", ann, #"{"version": 1}"#), .accepted)
            let backID = try #require(Self.text(back["approval"]?["id"]))
            _ = try Self.json(try await Self.request(client, .post, "/api/v1/approvals/\(backID)/cancel", ann, "{}"), .ok)

            // Every step is audited, in order.
            let actions = try await stack.store.auditEntries(after: 0, limit: 1000).map(\.action).filter { $0.hasPrefix("approval.") || $0.hasPrefix("protection.") }
            #expect(actions == ["protection.set", "approval.request", "approval.approve", "approval.request", "approval.reject", "approval.request", "approval.cancel"])
        }
    }

    @Test
    func anApprovalFailsWhenTheAliasMovedSinceTheRequestAndRequestsExpire() async throws {
        try await withFerry(authenticated: true) { client, stack in
            let v2 = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test")).version
            let clock = TestClock(start: Date())
            let approvals = Approvals(store: stack.store, registry: stack.registry, endpoints: stack.endpoints, logger: .init(label: "t"), now: { clock.now })
            let (ann, bob) = (Principal(id: "key:a", name: "ann", role: .deployer), Principal(id: "key:b", name: "bob", role: .deployer))
            _ = try await approvals.protect(.alias(model: "fraud", alias: "staging"), expiresAfterSeconds: 600, preapproved: [], by: "root")
            guard case .pending(let first) = try await approvals.clearAlias(model: "fraud", alias: "staging", version: v2, by: ann, reason: "") else {
                Issue.record("not pending")
                return
            }
            // The protection is lifted, the alias moved by hand, the protection put back: the request is stale.
            try await approvals.unprotect(.alias(model: "fraud", alias: "staging"), by: "root")
            try await stack.registry.setAlias(model: "fraud", alias: "staging", version: 1, by: "root")
            _ = try await approvals.protect(.alias(model: "fraud", alias: "staging"), expiresAfterSeconds: 600, preapproved: [], by: "root")
            let failed = try await approvals.approve(id: first.id, by: bob, comment: "")
            #expect(failed.state == .failed)
            #expect(failed.outcome.contains("moved from nowhere to version 1 since the request"))
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "staging" }?.version == 1)

            // Ten minutes later a pending request has expired: it reads so, and cannot be approved.
            guard case .pending(let second) = try await approvals.clearAlias(model: "fraud", alias: "staging", version: v2, by: ann, reason: "") else {
                Issue.record("not pending")
                return
            }
            clock.advance(601)
            #expect(try await approvals.requests(state: .expired, limit: 10).map(\.id) == [second.id])
            #expect(try await approvals.requests(state: .pending, limit: 10).isEmpty)
            // Read alone, it says expired too (before, pending until someone acted on it).
            #expect(try await approvals.request(id: second.id).state == .expired)
            // The leader's pass records the expiry (audited) when it happens, once.
            let firstPass = try await approvals.expireDue(), secondPass = try await approvals.expireDue()
            #expect(firstPass == 1 && secondPass == 0)
            let expiries = try await stack.store.auditEntries(after: 0, limit: 1000).filter { $0.action == "approval.expire" }
            #expect(expiries.count == 1 && expiries.first?.target == "fraud@staging", "\(expiries)")
            await #expect(throws: FerryError.self) { try await approvals.approve(id: second.id, by: bob, comment: "") }
            #expect(try await approvals.request(id: second.id).state == .expired)
            #expect(try await stack.registry.aliases(model: "fraud").first { $0.name == "staging" }?.version == 1)
            // An expired request no longer holds the alias.
            guard case .pending = try await approvals.clearAlias(model: "fraud", alias: "staging", version: v2, by: ann, reason: "") else {
                Issue.record("not pending")
                return
            }
            _ = client
        }
    }

    @Test
    func aProtectedEndpointsRolloutStartsWhenApprovedAndMLflowSaysTheAliasIsProtected() async throws {
        try await withFerry(authenticated: true) { client, stack in
            let v2 = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test")).version
            let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test").secret
            let bob = try await stack.authenticator.createKey(name: "bob", role: .deployer, by: "test").secret
            try await stack.endpoints.put(Endpoint(name: "fraud-api", variants: [.init(model: "fraud", version: 1, weight: 1)], createdBy: "t", updatedAt: Date()), by: "t")
            _ = try Self.json(try await Self.request(client, .put, "/api/v1/endpoints/fraud-api/protection", admin, "{}"), .ok)

            let asked = try Self.json(try await Self.request(
                client, .post, "/api/v1/endpoints/fraud-api/rollout", admin, #"{"version": \#(v2), "steps": [10, 100], "bake_seconds": 60}"#), .accepted)
            let id = try #require(Self.text(asked["approval"]?["id"]))
            #expect(Self.text(asked["approval"]?["change"]?["summary"])?.contains("roll out fraud:\(v2)") == true || Self.text(asked["approval"]?["change"]?["kind"]) == "rollout")
            #expect(stack.endpoints.rollout(endpoint: "fraud-api") == nil)
            // Replacing the endpoint directly is refused too (it would go around the rollout's approval).
            await #expect(throws: FerryError.self) {
                try await stack.endpoints.put(Endpoint(name: "fraud-api", variants: [.init(model: "fraud", version: v2, weight: 1)], createdBy: "t", updatedAt: Date()), by: "t")
            }
            let approved = try Self.json(try await Self.request(client, .post, "/api/v1/approvals/\(id)/approve", bob, "{}"), .ok)
            #expect(Self.text(approved["state"]) == "approved")
            let rollout = try #require(stack.endpoints.rollout(endpoint: "fraud-api"))
            #expect(rollout.candidate == VersionRef(model: "fraud", version: v2) && rollout.candidatePercent == 10 && rollout.startedBy.hasPrefix("root"))
            // Rolling back needs no approval: it is the way out.
            _ = try Self.json(try await Self.request(client, .post, "/api/v1/endpoints/fraud-api/rollout/rollback", admin), .ok)

            // MLflow's clients know no "accepted": the call fails naming the request it filed.
            _ = try Self.json(try await Self.request(client, .put, "/api/v1/models/fraud/aliases/champion/protection", admin, "{}"), .ok)
            let mlflow = try await Self.request(
                client, .post, "/api/2.0/mlflow/registered-models/alias", admin, #"{"name": "fraud", "alias": "champion", "version": "\#(v2)"}"#)
            #expect(mlflow.status.code >= 400)
            #expect(String(buffer: mlflow.body).contains("approval request apr_"))
            #expect(try await stack.registry.aliases(model: "fraud").contains { $0.name == "champion" } == false)
        }
    }

    @Test
    func protectionsNeedAuthentication() async throws {
        try await withFerry { client, _ in
            let refused = try Self.json(try await client.execute(
                uri: "/api/v1/models/fraud/aliases/production/protection", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: "{}")), .conflict)
            #expect(Self.text(refused["error"])?.contains("protections need authentication") == true)
        }
    }
}

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let time: Mutex<Date>
    init(start: Date) { time = Mutex(start) }
    var now: Date { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
