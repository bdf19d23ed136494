import FerryCore
import FerryEngine
@testable import FerryHTTP
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Testing

struct SecurityRouteTests {
    static func bearer(_ secret: String, json: Bool = true) -> HTTPFields {
        var fields: HTTPFields = [.authorization: "Bearer \(secret)"]
        if json { fields[.contentType] = "application/json" }
        return fields
    }

    /// Every route the router serves declares who may call it, in the document the access middleware enforces.
    @Test func everyRouteDeclaresItsAccess() async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let router = stack.server.router
        let routes = router.routes.map { (method: $0.method.rawValue, path: $0.path.description) }
        #expect(routes.count > 30)
        let app = Application(router: router)
        try await app.test(.router) { client in
            let paths = try await client.get("/openapi.json").json["paths"] as? [String: [String: [String: Any]]] ?? [:]
            let mlflow = Set(MLflowRoutes.routes.map { "\($0.method) \($0.path)" })
            for route in routes where !mlflow.contains("\(route.method.lowercased()) \(route.path)") {
                let operation = paths[route.path]?[route.method.lowercased()]
                let declared = operation?["x-ferry-permission"] as? String
                let open = (operation?["security"] as? [Any])?.isEmpty == true
                #expect(declared.flatMap(Permission.init(rawValue:)) != nil || open, "\(route.method) \(route.path) declares no access")
            }
        }
    }

    /// Each role against each route: no credentials get 401 on every non-health route, a role without the route's
    /// permission gets 403, and a role with it gets past authorization (whatever the route then answers).
    @Test func roleRouteMatrix() async throws {
        try await withFerry(authenticated: true) { client, stack in
            var secrets: [Role: String] = [:]
            for role in Role.allCases {
                secrets[role] = try await stack.authenticator.createKey(name: "\(role)", role: role, by: "test").secret
            }
            let paths = try await client.get("/openapi.json", headers: Self.bearer(secrets[.viewer]!)).json["paths"]
                as? [String: [String: [String: Any]]] ?? [:]
            #expect(paths.count > 30)
            var checked = 0
            for (path, operations) in paths.sorted(by: { $0.key < $1.key }) {
                let uri = path.replacingOccurrences(of: "{name}", with: "fraud").replacingOccurrences(of: "{version}", with: "1")
                    .replacingOccurrences(of: "{alias}", with: "zz").replacingOccurrences(of: "{id}", with: "nope")
                    .replacingOccurrences(of: "{alert}", with: "a")
                    .replacingOccurrences(of: #"\{[a-z_]+\}"#, with: "x", options: .regularExpression)
                for (method, operation) in operations.sorted(by: { $0.key < $1.key }) {
                    let permission = (operation["x-ferry-permission"] as? String).flatMap(Permission.init(rawValue:))
                    let send: @Sendable (HTTPFields) async throws -> TestResponse = { headers in
                        let hasBody = ["post", "put", "patch"].contains(method)
                        var headers = headers
                        if hasBody { headers[.contentType] = "application/json" }
                        return try await client.execute(
                            uri: uri, method: HTTPRequest.Method(method.uppercased())!, headers: headers,
                            body: hasBody ? ByteBuffer(string: "{}") : nil)
                    }
                    let anonymous = try await send([:])
                    if permission == nil {
                        #expect(anonymous.status != .unauthorized && anonymous.status != .forbidden, "\(method) \(path) is open")
                    } else {
                        #expect(anonymous.status == .unauthorized, "\(method) \(path) without credentials: \(anonymous.status)")
                        #expect(anonymous.headers[.wwwAuthenticate] == "Bearer")
                    }
                    for role in [Role.viewer, .predictor, .deployer, .admin] {
                        let response = try await send([.authorization: "Bearer \(secrets[role]!)"])
                        let allowed = permission.map { role.permissions.contains($0) } ?? true
                        if allowed {
                            #expect(response.status != .unauthorized && response.status != .forbidden,
                                    "\(role) on \(method) \(path): \(response.status) \(response.text)")
                        } else {
                            #expect(response.status == .forbidden, "\(role) on \(method) \(path): \(response.status)")
                            #expect(response.errorMessage.contains(permission!.rawValue))
                        }
                        #expect(response.status.code < 500, "\(role) on \(method) \(path): \(response.status) \(response.text)")
                        checked += 1
                    }
                }
            }
            #expect(checked > 150)
        }
    }

    @Test func keysAreCreatedUsedRecordedAsActorsAndRevoked() async throws {
        try await withFerry(authenticated: true) { client, stack in
            let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test").secret
            let created = try await client.post("/api/v1/keys", #"{"name": "ci", "role": "deployer", "rate_limit": 1000}"#, headers: Self.bearer(admin))
            #expect(created.status == .created, "\(created.text)")
            let secret = try #require(created.json["secret"] as? String)
            let id = try #require((created.json["key"] as? [String: Any])?["id"] as? String)
            #expect(secret.hasPrefix(id + "_") && secret.count > 40)
            #expect(!created.text.contains("secret_sha256") && !created.text.contains("secretSHA256"))

            let me = try await client.get("/api/v1/whoami", headers: [HTTPField.Name("X-API-Key")!: secret])
            #expect(me.json["role"] as? String == "deployer" && me.json["name"] as? String == "ci", "\(me.text)")

            let moved = try await client.execute(
                uri: "/api/v1/models/fraud/aliases/staging", method: .put, headers: Self.bearer(secret), body: ByteBuffer(string: #"{"version": 1}"#))
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(moved.json["by"] as? String == "ci (key:\(id))")

            let audit = try await client.get("/api/v1/audit", headers: Self.bearer(admin))
            let entries = audit.json["items"] as? [[String: Any]] ?? []
            let move = entries.first { $0["action"] as? String == "alias.set" && $0["target"] as? String == "fraud@staging" }
            #expect(move?["actor"] as? String == "ci (key:\(id))")
            #expect((move?["after"] as? [String: Any])?["version"] as? Int == 1)
            #expect(entries.contains { $0["action"] as? String == "key.create" && $0["target"] as? String == "key:\(id)" })
            #expect(!audit.text.contains(secret))
            let verified = try await client.get("/api/v1/audit/verify", headers: Self.bearer(admin))
            #expect(verified.json["intact"] as? Bool == true && (verified.json["entries"] as? Int ?? 0) >= 4, "\(verified.text)")

            let listed = try await client.get("/api/v1/keys", headers: Self.bearer(admin))
            // "admin" is the key the server created at its first start.
            #expect((listed.json["items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["admin", "root", "ci"])

            let revoked = try await client.execute(uri: "/api/v1/keys/\(id)", method: .delete, headers: Self.bearer(admin))
            #expect(revoked.status == .ok && revoked.json["revoked_at"] != nil, "\(revoked.text)")
            let after = try await client.get("/api/v1/whoami", headers: Self.bearer(secret))
            #expect(after.status == .unauthorized && after.errorMessage.contains("revoked"))

            let firstID = try await stack.authenticator.keys().first { $0.name == "admin" }!.id
            #expect(try await client.execute(uri: "/api/v1/keys/\(firstID)", method: .delete, headers: Self.bearer(admin)).status == .ok)
            let rootID = try await stack.authenticator.keys().first { $0.name == "root" }!.id
            let last = try await client.execute(uri: "/api/v1/keys/\(rootID)", method: .delete, headers: Self.bearer(admin))
            #expect(last.status == .conflict && last.errorMessage.contains("last active admin key"), "\(last.text)")
        }
    }

    @Test(arguments: [
        (#"{"name": "x", "role": "root"}"#, "role 'root' is not one of viewer, predictor, deployer, admin"),
        (#"{"role": "viewer"}"#, "field 'name' is required"),
        (#"{"name": "x", "role": "viewer", "rate_limit": -1}"#, "rate_limit must be a positive number"),
        (#"{"name": "x", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}"#, "expires_at must be in the future"),
        (#"{"name": "x", "role": "viewer", "models": []}"#, "models must name at least one model"),
        (#"{"name": "", "role": "viewer"}"#, "name must be 1 to 128 characters"),
        (#"[1]"#, "the body"),
    ])
    func badKeyRequestsNameTheField(_ body: String, _ expected: String) async throws {
        try await withFerry(authenticated: true) { client, stack in
            let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test").secret
            let response = try await client.post("/api/v1/keys", body, headers: Self.bearer(admin))
            #expect(response.status == .badRequest, "\(response.text)")
            #expect(response.errorMessage.contains(expected), "\(response.errorMessage)")
        }
    }

    @Test func restrictedKeysSeeAndTouchOnlyTheirModels() async throws {
        try await withFerry(authenticated: true) { client, stack in
            try await stack.registerFake("churn", value: 1)
            let secret = try await stack.authenticator.createKey(name: "team", role: .predictor, models: ["churn"], by: "test").secret
            let other = try await client.post("/v2/models/fraud/infer", "{}", headers: Self.bearer(secret))
            #expect(other.status == .forbidden && other.errorMessage.contains("restricted to models churn"), "\(other.text)")
            let own = try await client.post("/v1/models/churn:predict", #"{"instances": [[1, 2, 3]]}"#, headers: Self.bearer(secret))
            #expect(own.status == .ok, "\(own.text)")
            // Ground truth for its own model's prediction is taken; for another model's, refused (before, counted).
            let admin = try await stack.authenticator.createKey(name: "root", role: .admin, by: "test").secret
            let fraudRow = #"{"inputs":[{"name":"input","shape":[1,12],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}"#
            let fraudPrediction = try #require((try await client.post("/v2/models/fraud/infer", fraudRow, headers: Self.bearer(admin)).json["parameters"] as? [String: Any])?["prediction_id"] as? String)
            await stack.predictionLogger.flush()
            let foreign = try await client.post("/api/v1/feedback", #"{"prediction_id": "\#(fraudPrediction)", "label": 1}"#, headers: Self.bearer(secret))
            #expect(foreign.status == .forbidden && foreign.errorMessage.contains("is of model 'fraud'"), "\(foreign.text)")
            let ownID = try #require(own.json["prediction_id"] as? String)
            let mine = try await client.post("/api/v1/feedback", #"{"prediction_id": "\#(ownID)", "label": 1}"#, headers: Self.bearer(secret))
            #expect(mine.status == .ok && mine.json["matched"] as? Int == 1, "\(mine.text)")
            let list = try await client.get("/api/v1/models", headers: Self.bearer(secret))
            #expect((list.json["items"] as? [[String: Any]])?.map { $0["name"] as? String } == ["churn"])
            let metrics = try await client.get("/metrics", headers: Self.bearer(secret))
            #expect(metrics.status == .forbidden)

            // Batch jobs: a key limited to models runs and sees the jobs of those models only (it was refused every job).
            let fraudKey = try await stack.authenticator.createKey(name: "scorer", role: .predictor, models: ["fraud"], by: "test").secret
            let (csv, _) = try BatchJobTests.exampleCSV()
            var csvHeaders = Self.bearer(fraudKey, json: false)
            csvHeaders[.contentType] = "text/csv"
            let upload = try await client.execute(uri: "/api/v1/jobs/uploads", method: .post, headers: csvHeaders, body: ByteBuffer(string: csv))
            #expect(upload.status == .created, "\(upload.text)")
            let ref = try #require(upload.json["upload"] as? [String: Any])
            func job(_ model: String) -> String {
                #"{"model": "\#(model)", "input": {"upload": {"sha256": "\#(ref["sha256"] as? String ?? "")", "size": \#(ref["size"] as? Int ?? 0)}}}"#
            }
            let submitted = try await client.post("/api/v1/jobs", job("fraud"), headers: Self.bearer(fraudKey))
            #expect(submitted.status == .accepted, "\(submitted.text)")
            let id = try #require(submitted.json["id"] as? String)
            let refused = try await client.post("/api/v1/jobs", job("churn"), headers: Self.bearer(fraudKey))
            #expect(refused.status == .forbidden && refused.errorMessage.contains("may not use 'churn'"), "\(refused.text)")
            #expect(try await client.get("/api/v1/jobs/\(id)", headers: Self.bearer(fraudKey)).status == .ok)
            let listed = try await client.get("/api/v1/jobs", headers: Self.bearer(fraudKey))
            #expect((listed.json["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id], "\(listed.text)")
            for path in ["/api/v1/jobs/\(id)", "/api/v1/jobs/\(id)/results", "/api/v1/jobs/\(id)/errors"] {
                let hidden = try await client.get(path, headers: Self.bearer(secret))
                #expect(hidden.status == .forbidden && hidden.errorMessage.contains("may not use 'fraud'"), "\(path): \(hidden.text)")
            }
            #expect(try await client.post("/api/v1/jobs/\(id)/cancel", "", headers: Self.bearer(secret)).status == .forbidden)
            #expect((try await client.get("/api/v1/jobs", headers: Self.bearer(secret)).json["items"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(arguments: ["Basic YWxpY2U6cGFzcw==", "Bearer", "Bearer fry_unknown_secret", "bearer  "])
    func badCredentialsAreUnauthenticated(_ header: String) async throws {
        try await withFerry(authenticated: true) { client, _ in
            let response = try await client.get("/v2/models/fraud", headers: [.authorization: header])
            #expect(response.status == .unauthorized, "\(header): \(response.status)")
            #expect(try await client.get("/v2/health/ready").status == .ok)
        }
    }

    /// A key's own limit holds even when the server sets no role limits (it used to be ignored then).
    /// A feature view's PostgreSQL source is listed to any reader with its password masked (before, in full).
    @Test func aSourcePasswordIsNotShownToReaders() async throws {
        try await withFerry { client, _ in
            let definitions = #"""
                {"entities": [{"name": "card", "join_keys": [{"name": "card_id", "type": "int64"}]}],
                 "feature_views": [{"name": "pgview", "entities": ["card"], "features": [{"name": "n", "type": "int64"}],
                   "source": {"type": "postgres", "url": "postgres://reader:SuperSecretPW123@127.0.0.1:1/warehouse", "table": "t", "timestamp_field": "ts"}}]}
                """#
            let applied = try await client.post("/api/v1/features/apply", definitions)
            #expect(applied.status == .ok, "\(applied.text)")
            for path in ["/api/v1/features/views", "/api/v1/features/views/pgview"] {
                let read = try await client.get(path)
                #expect(read.status == .ok && !read.text.contains("SuperSecretPW123") && read.text.contains("reader:****@127.0.0.1"), "\(path): \(read.text)")
            }
            #expect(!applied.text.contains("SuperSecretPW123"))
        }
    }

    @Test func aKeysOwnRateLimitHoldsWithoutServerLimits() async throws {
        try await withFerry(authenticated: true) { client, stack in
            let limited = try await stack.authenticator.createKey(name: "five", role: .predictor, rateLimit: 0.01, by: "test").secret
            var statuses: [Int] = []
            for _ in 0..<3 {
                let response = try await client.post("/v1/models/fraud:predict", #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#, headers: Self.bearer(limited))
                statuses.append(Int(response.status.code))
            }
            #expect(statuses == [200, 429, 429], "\(statuses)")
            // A tiny limit waits longer than an Int holds: Retry-After says a day (before, the server crashed).
            let tiny = try await stack.authenticator.createKey(name: "tiny", role: .viewer, rateLimit: 1e-19, by: "test").secret
            _ = try await client.get("/api/v1/whoami", headers: Self.bearer(tiny))
            let refused = try await client.get("/api/v1/whoami", headers: Self.bearer(tiny))
            #expect(refused.status == .tooManyRequests && refused.headers[.retryAfter] == "86400", "\(refused.status) \(refused.headers)")
        }
    }

    @Test func aPrincipalOverItsRateGets429WithRetryAfter() async throws {
        try await withFerry(authenticated: true, rateLimits: [.viewer: 1000]) { client, stack in
            let slow = try await stack.authenticator.createKey(name: "slow", role: .predictor, rateLimit: 0.01, by: "test").secret
            let viewer = try await stack.authenticator.createKey(name: "v", role: .viewer, by: "test").secret
            var statuses: [Int] = []
            for _ in 0..<10 {
                let response = try await client.post("/v1/models/fraud:predict", #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#, headers: Self.bearer(slow))
                statuses.append(Int(response.status.code))
                if response.status == .tooManyRequests {
                    #expect(Int(response.headers[.retryAfter] ?? "") ?? 0 >= 1)
                    #expect(response.errorMessage.contains("rate limit"))
                }
            }
            #expect(statuses == [200] + Array(repeating: 429, count: 9), "\(statuses)")
            // Other principals are not affected.
            #expect(try await client.get("/v2/models/fraud", headers: Self.bearer(viewer)).status == .ok)
            let metrics = try await client.get("/metrics", headers: Self.bearer(viewer)).text
            let slowID = try await stack.authenticator.keys().first { $0.name == "slow" }!.id
            #expect(metrics.contains("ferry_rate_limited_total{principal=\"key:\(slowID)\"} 9"), "\(metrics.split(separator: "\n").filter { $0.contains("rate") })")
        }
    }
}

struct JWTRouteTests {
    static let secret = "an-hs256-secret-that-is-long-enough-0123456789"

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iss: IssuerClaim?
        var role: String
        var models: [String]?
        var nbf: NotBeforeClaim?
        var rate_limit: Double?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func token(_ claims: Claims, keys: JWTKeyCollection) async throws -> String {
        try await keys.sign(claims)
    }

    static func withJWT(
        _ verifier: JWTVerifier, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let stack = try await TestStack()
        defer { stack.tearDown() }
        let version = try await stack.registry.register(.init(model: "fraud", artifact: try TestStack.exampleModel(), createdBy: "test"))
        try await stack.registry.setAlias(model: "fraud", alias: "production", version: version.version, by: "test")
        let router = makeRouter(
            dataPlane: stack.dataPlane, registry: stack.registry, access: AccessControl(authenticator: stack.authenticator, jwt: verifier))
        try await Application(router: router).test(.router) { client in try await body(client) }
    }

    @Test func hs256TokensAuthenticateWithTheirRoleIssuerAndExpiry() async throws {
        let verifier = try await JWTVerifier(hs256Secret: Self.secret, publicKeysPEM: [], issuer: "https://idp.example", audience: nil)
        let signer = JWTKeyCollection()
        await signer.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let future = ExpirationClaim(value: Date().addingTimeInterval(3600))
        let good = try await Self.token(.init(sub: "alice", exp: future, iss: "https://idp.example", role: "deployer"), keys: signer)
        let viewer = try await Self.token(.init(sub: "bob", exp: future, iss: "https://idp.example", role: "viewer"), keys: signer)
        let expired = try await Self.token(.init(sub: "alice", exp: .init(value: Date().addingTimeInterval(-60)), iss: "https://idp.example", role: "admin"), keys: signer)
        let otherIssuer = try await Self.token(.init(sub: "alice", exp: future, iss: "https://evil.example", role: "admin"), keys: signer)
        let badRole = try await Self.token(.init(sub: "alice", exp: future, iss: "https://idp.example", role: "root"), keys: signer)
        let otherSigner = JWTKeyCollection()
        await otherSigner.add(hmac: HMACKey(from: Self.secret + "x"), digestAlgorithm: .sha256)
        let forged = try await Self.token(.init(sub: "alice", exp: future, iss: "https://idp.example", role: "admin"), keys: otherSigner)

        try await Self.withJWT(verifier) { client in
            let me = try await client.get("/api/v1/whoami", headers: SecurityRouteTests.bearer(good))
            #expect(me.status == .ok && me.json["id"] as? String == "jwt:alice" && me.json["role"] as? String == "deployer", "\(me.text)")
            let infer = try await client.post("/v2/models/fraud/infer", "{}", headers: SecurityRouteTests.bearer(viewer))
            #expect(infer.status == .forbidden)
            for (token, reason) in [(expired, "expired"), (otherIssuer, "issuer"), (badRole, "role claim 'root'"), (forged, "JWT was refused")] {
                let response = try await client.get("/api/v1/whoami", headers: SecurityRouteTests.bearer(token))
                #expect(response.status == .unauthorized, "\(reason): \(response.status)")
                #expect(response.errorMessage.contains(reason), "\(response.errorMessage)")
            }
        }
    }

    @Test func es256TokensFromAnIdentityProviderKey() async throws {
        let privateKey = ES256PrivateKey()
        let verifier = try await JWTVerifier(hs256Secret: nil, publicKeysPEM: [privateKey.publicKey.pemRepresentation], issuer: nil, audience: nil)
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: privateKey)
        let token = try await Self.token(
            .init(sub: "ci", exp: .init(value: Date().addingTimeInterval(600)), role: "predictor", models: ["fraud"]), keys: signer)
        try await Self.withJWT(verifier) { client in
            let me = try await client.get("/api/v1/whoami", headers: SecurityRouteTests.bearer(token))
            #expect(me.status == .ok && (me.json["models"] as? [String]) == ["fraud"], "\(me.text)")
            let other = try await client.get("/v2/models/churn", headers: SecurityRouteTests.bearer(token))
            #expect(other.status == .forbidden)
        }
    }

    /// During a key rotation the identity provider signs with a second key, under a `kid` of its own: every configured
    /// key is tried (before, only the first, or one whose `kid` happened to be Ferry's label). Tokens not yet valid
    /// (`nbf`), for nobody, or whose rate limit would stop the rate limiter (before, `rate_limit: -1` crashed the
    /// server) are refused.
    @Test func aRotatedKeyVerifiesAndBadClaimsAreRefused() async throws {
        let (old, new) = (ES256PrivateKey(), ES256PrivateKey())
        let verifier = try await JWTVerifier(
            hs256Secret: Self.secret, publicKeysPEM: [old.publicKey.pemRepresentation, new.publicKey.pemRepresentation], issuer: nil, audience: nil)
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: new, kid: "idp-2026")
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: Self.secret), digestAlgorithm: .sha256)
        let future = ExpirationClaim(value: Date().addingTimeInterval(600))
        let rotated = try await Self.token(.init(sub: "ci", exp: future, role: "viewer"), keys: signer)
        let early = try await Self.token(.init(sub: "ci", exp: future, role: "viewer", nbf: .init(value: Date().addingTimeInterval(3600))), keys: hmac)
        let nobody = try await Self.token(.init(sub: "", exp: future, role: "viewer"), keys: hmac)
        let stopped = try await Self.token(.init(sub: "ci", exp: future, role: "viewer", rate_limit: -1), keys: hmac)
        try await Self.withJWT(verifier) { client in
            let me = try await client.get("/api/v1/whoami", headers: SecurityRouteTests.bearer(rotated))
            #expect(me.status == .ok && me.json["id"] as? String == "jwt:ci", "\(me.text)")
            for (token, reason) in [(early, "JWT was refused"), (nobody, "sub claim"), (stopped, "rate_limit claim must be a positive number")] {
                let response = try await client.get("/api/v1/whoami", headers: SecurityRouteTests.bearer(token))
                #expect(response.status == .unauthorized && response.errorMessage.contains(reason), "\(reason): \(response.status) \(response.errorMessage)")
            }
        }
    }
}
