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

/// Inference answered on the event loop (`DirectInference`) answers exactly as the router does, keeps the order of
/// a connection's answers, and hands the router whatever it cannot answer at once.
struct DirectInferenceTests {
    static let secret = "fry_directtest_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
    static let limitedSecret = "fry_directlim_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
    static let viewerSecret = "fry_directview_0123456789abcdefghijklmnopqrstuvwxyzABCDEF"

    /// One request and how it is sent.
    struct Call: Sendable {
        var path: String
        var body: String
        var secret: String? = DirectInferenceTests.secret
    }

    static func calls() throws -> [Call] {
        let request = try String(contentsOf: TestStack.repositoryRoot.appendingPathComponent("examples/fraud/request.json"), encoding: .utf8)
        let row = "[1,2,3,4,5,6,7,8,9,10,11,12]"
        return [
            Call(path: "/v2/models/fraud/infer", body: request),
            Call(path: "/v2/models/fraud/versions/1/infer", body: request),
            Call(path: "/v2/models/fraud/infer", body: #"{"id": "r-1", "inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": \#(row)}], "parameters": {"contributions": true}}"#),
            Call(path: "/v2/models/fraud/infer", body: #"{"inputs": [{"name": "input", "shape": [1, 11], "datatype": "FP32", "data": [1,2,3,4,5,6,7,8,9,10,11]}]}"#),
            Call(path: "/v2/models/fraud/infer", body: #"{"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": \#(row)}], "outputs": [{"name": "nope"}]}"#),
            Call(path: "/v2/models/fraud/infer", body: #"{"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": \#(row)}], "parameters": {"contributions": "yes"}}"#),
            Call(path: "/v2/models/fraud/infer", body: #"{"inputs": "#),
            Call(path: "/v2/models/fraud/versions/7/infer", body: request),
            Call(path: "/v2/models/nobody/infer", body: request),
            Call(path: "/v2/models/fraud/infer", body: request, secret: nil),
            Call(path: "/v2/models/fraud/infer", body: request, secret: "fry_unknown_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHI"),
            Call(path: "/v2/models/fraud/infer", body: request, secret: viewerSecret),
            Call(path: "/v2/models/fraud/infer", body: request, secret: limitedSecret),
            Call(path: "/v2/models/fraud/infer", body: request, secret: limitedSecret),
        ]
    }

    /// Sends a POST on a connection of its own, whose first request it is (so what the server may answer from the
    /// connection's bytes it answers so, `DirectBytesHandler`). Returns the answer as a line to compare: status,
    /// headers and body, with the date and the prediction id left out; and its Retry-After. How long to wait depends
    /// on when the request came (1000 s, then 999 s a second later), and so does the length of the message that
    /// says it: both are stated for what they are, not compared.
    static func exchange(port: Int, path: String, body: String, secret: String?) async throws -> (answer: String, wait: String?) {
        var head = "POST \(path) HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
        if let secret { head += "Authorization: Bearer \(secret)\r\n" }
        let request = head + "\r\n" + body
        let response = try await onOwnThread { try RawConnection(port: port).exchange(request) }
        #expect(response.headers[.date] != nil && response.headers[.server] == "ferry", "\(path)")
        #expect(response.headers.count == Set(response.headers.map(\.name)).count, "no header twice: \(response.headers)")
        var text = response.text
        if let id = response.headers[HTTPField.Name("Ferry-Prediction-Id")!] { text = text.replacingOccurrences(of: id, with: "<id>") }
        let wait = response.headers[.retryAfter]
        if let wait { text = text.replacingOccurrences(of: "retry after \(wait) s", with: "retry after <wait> s") }
        let kept = response.headers
            .filter { ![HTTPField.Name.date, HTTPField.Name("Ferry-Prediction-Id")!].contains($0.name) }
            .map { field -> String in
                switch field.name {
                case .retryAfter: "retry-after: <wait>"
                case .contentLength: "content-length: \(field.value == String(response.text.utf8.count) ? "of the body" : field.value)"
                default: "\(field.name.canonicalName): \(field.value)"
                }
            }.sorted()
        return ("\(response.status) \(kept) \(text)", wait)
    }

    /// Status, the headers that do not vary between runs, and the body without its prediction id.
    static func answers(direct: Bool) async throws -> [String] {
        let calls = try calls()
        let results = Mutex<[String]>([])
        try await withFerry(authenticated: true, direct: direct) { client, stack in
            _ = try await stack.authenticator.createKey(name: "p", role: .predictor, by: "test", secret: secret)
            _ = try await stack.authenticator.createKey(name: "l", role: .predictor, rateLimit: 0.001, by: "test", secret: limitedSecret)
            _ = try await stack.authenticator.createKey(name: "v", role: .viewer, by: "test", secret: viewerSecret)
            let port = try #require(client.port)
            for call in calls {
                let (answer, wait) = try await Self.exchange(port: port, path: call.path, body: call.body, secret: call.secret)
                if let wait { #expect((900...1000).contains(Int(wait) ?? 0), "Retry-After \(wait)") }
                results.withLock { $0.append("\(call.path) \(call.secret == nil ? "-" : "key") -> \(answer)") }
            }
            let answered = stack.server.direct?.answered ?? 0
            // Valid requests, bad inputs and both of the limited key are answered directly. The router answers the
            // first request (the version's expectations are read then), unparsable bodies, versions not loaded,
            // unknown models and keys and a role without the permission.
            if direct { #expect(answered == 7) } else { #expect(stack.server.direct == nil) }
            let metrics = try await client.get("/metrics", headers: [.authorization: "Bearer \(secret)"]).text
            #expect(metrics.contains("ferry_direct_inference_requests_total \(answered)") == direct, "\(metrics.prefix(300))")
        }
        return results.withLock { $0 }
    }

    @Test func answersAsTheRouterDoes() async throws {
        let direct = try await Self.answers(direct: true)
        let routed = try await Self.answers(direct: false)
        #expect(direct.count == routed.count)
        for (d, r) in zip(direct, routed) { #expect(d == r) }
        #expect(direct.first?.contains("-> 200") == true && direct.last?.contains("-> 429") == true, "\(direct)")
    }

    /// A chunked body (no Content-Length) over the limit is handed to the router, which refuses it; the same body
    /// under the limit is answered.
    @Test func chunkedBodiesAreHeldToTheLimit() async throws {
        try await withFerry(limits: HTTPLimits(maxInferenceBodyBytes: 400)) { client, _ in
            let port = try #require(client.port)
            @Sendable func send(_ body: String) throws -> String {
                let connection = try RawConnection(port: port)
                let half = body.utf8.count / 2
                let chunks = [String(body.prefix(half)), String(body.dropFirst(half))]
                var text = "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                for chunk in chunks { text += String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n" }
                try connection.send(text + "0\r\n\r\n")
                var answer = ""
                for _ in 0..<20 where !answer.contains("\r\n\r\n{") || !answer.hasSuffix("}") {
                    let more = try connection.receive()
                    if more.isEmpty { break }
                    answer += more
                }
                return answer
            }
            let row = #"{"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": [1,2,3,4,5,6,7,8,9,10,11,12]}]}"#
            let small = try await onOwnThread { try send(row) }
            #expect(small.hasPrefix("HTTP/1.1 200") && small.contains("\"outputs\""), "\(small)")
            let padded = row.replacingOccurrences(of: "{\"inputs\"", with: "{\"id\": \"\(String(repeating: "x", count: 500))\", \"inputs\"")
            let large = try await onOwnThread { try send(padded) }
            #expect(large.hasPrefix("HTTP/1.1 413") && large.contains("larger than the server's limit"), "\(large)")
        }
    }

    /// Three requests sent at once on one connection (the middle one only the router answers) are answered in order.
    @Test func pipelinedAnswersKeepTheirOrder() async throws {
        try await withFerry { client, _ in
            let port = try #require(client.port)
            let body = #"{"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": [1,2,3,4,5,6,7,8,9,10,11,12]}]}"#
            let infer = "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let metadata = "GET /v2/models/fraud HTTP/1.1\r\nHost: localhost\r\n\r\n"
            let received = try await onOwnThread {
                let connection = try RawConnection(port: port)
                try connection.send(infer + metadata + infer + infer)
                var received = ""
                for _ in 0..<50 where received.components(separatedBy: "HTTP/1.1 200").count < 5 {
                    let more = try connection.receive()
                    if more.isEmpty { break }
                    received += more
                }
                return received
            }
            let order = received.components(separatedBy: "HTTP/1.1 200").dropFirst().map { $0.contains("\"platform\"") ? "metadata" : $0.contains("\"outputs\"") ? "infer" : "?" }
            #expect(order == ["infer", "metadata", "infer", "infer"], "\(received)")
            #expect(received.components(separatedBy: "HTTP/1.1 ").count == 5, "four answers and no other: \(received)")
        }
    }
}

/// Online feature reads answered on the event loop answer exactly as the router does.
struct DirectFeatureReadTests {
    static let admin = "fry_featadmin_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
    /// Event times a minute and two hours old (the view's ttl is an hour), in whole seconds, the same for both runs.
    static let start = FeatureTime.micros(Date()) / 1_000_000 * 1_000_000
    static let fresh = FeatureTime.format(start - 60_000_000)
    static let stale = FeatureTime.format(start - 7_200_000_000)

    static func answers(direct: Bool) async throws -> [String] {
        let results = Mutex<[String]>([])
        try await withFerry(authenticated: true, example: false, direct: direct) { client, stack in
            _ = try await stack.authenticator.createKey(name: "a", role: .admin, by: "test", secret: admin)
            _ = try await stack.authenticator.createKey(name: "p", role: .predictor, by: "test", secret: DirectInferenceTests.secret)
            _ = try await stack.authenticator.createKey(name: "l", role: .predictor, rateLimit: 0.001, by: "test", secret: DirectInferenceTests.limitedSecret)
            _ = try await stack.authenticator.createKey(name: "v", role: .viewer, by: "test", secret: DirectInferenceTests.viewerSecret)
            let auth: HTTPFields = [.contentType: "application/json", .authorization: "Bearer \(admin)"]
            #expect(try await client.post("/api/v1/features/apply", FeatureStoreTests.small, headers: auth).status == .ok)
            let (fresh, stale) = (Self.fresh, Self.stale)
            let pushed = try await client.post("/api/v1/features/push", """
                {"view": "card_stats", "rows": [
                  {"card_id": 1, "event_timestamp": "\(fresh)", "count": 3, "country": "FR"},
                  {"card_id": 2, "event_timestamp": "\(stale)", "count": 9, "country": "DE"},
                  {"card_id": 3, "event_timestamp": "\(fresh)", "count": 4, "country": null}]}
                """, headers: auth)
            #expect(pushed.status == .ok, "\(pushed.text)")
            let read = #"{"features": ["card_stats:count", "card_stats:country"], "entities": {"card_id": [1, 2, 3, 4]}}"#
            let key = DirectInferenceTests.secret
            let calls: [(path: String, body: String, secret: String?)] = [
                ("/api/v1/features/online", read, key),
                ("/get-online-features", read, key),
                ("/get-online-features", #"{"features": ["card_stats:count"], "entities": {"card_id": [3, 1]}, "full_feature_names": true}"#, key),
                ("/api/v1/features/online", #"{"features": ["card_stats:nope"], "entities": {"card_id": [1]}}"#, key),
                ("/api/v1/features/online", #"{"features": ["card_stats"], "entities": {"card_id": [1]}}"#, key),
                ("/api/v1/features/online", #"{"features": ["other:count"], "entities": {"card_id": [1]}}"#, key),
                ("/get-online-features", #"{"features": ["card_stats:count"], "entities": {"card": [1]}}"#, key),
                ("/api/v1/features/online", #"{"features": ["card_stats:count"], "entities": {"card_id": ["x"]}}"#, key),
                ("/api/v1/features/online", #"{"features": ["card_stats:count"], "entities": {"card_id": [1], "other": [1, 2]}}"#, key),
                ("/api/v1/features/online", #"{"features": [], "entities": {"card_id": [1]}}"#, key),
                ("/api/v1/features/online", #"{"feature_service": "s", "entities": {"card_id": [1]}}"#, key),
                ("/get-online-features", #"{"features": ["card_stats:count", "card_stats:count"], "entities": {"card_id": [1]}}"#, key),
                ("/api/v1/features/online", #"{"features": "#, key),
                ("/api/v1/features/online", read, nil),
                ("/api/v1/features/online", read, "fry_unknown_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHI"),
                ("/api/v1/features/online", read, DirectInferenceTests.viewerSecret),
                ("/get-online-features", read, DirectInferenceTests.limitedSecret),
                ("/get-online-features", read, DirectInferenceTests.limitedSecret),
            ]
            let port = try #require(client.port)
            for call in calls {
                let (answer, _) = try await DirectInferenceTests.exchange(port: port, path: call.path, body: call.body, secret: call.secret)
                results.withLock { $0.append("\(call.path) \(call.secret?.prefix(12) ?? "-") -> \(answer)") }
            }
            // All but the requests the router alone answers (no key, an unknown key, a role without the permission).
            #expect(stack.server.direct?.answered == (direct ? UInt64(calls.count - 3) : nil))
            // A training set reads feature values as an online read does, so it needs the same permission (past it,
            // this view's source is not there).
            let csv = "card_id,event_timestamp\n1,\(fresh)\n"
            for (secret, answer) in [(DirectInferenceTests.viewerSecret, "lacks the 'predict' permission"), (DirectInferenceTests.secret, "source '/nonexistent/stats.csv' cannot be read")] {
                let training = try await client.post(
                    "/api/v1/features/training-set?features=card_stats:count", csv, headers: [.contentType: "text/csv", .authorization: "Bearer \(secret)"])
                #expect(training.text.contains(answer), "\(secret.prefix(16)): \(training.status) \(training.text)")
            }
        }
        return results.withLock { $0 }
    }

    @Test func onlineReadsAnswerAsTheRouterDoes() async throws {
        let direct = try await Self.answers(direct: true)
        let routed = try await Self.answers(direct: false)
        #expect(direct.count == routed.count)
        for (d, r) in zip(direct, routed) { #expect(d == r) }
        #expect(direct.first?.contains("-> 200 OK") == true && direct.first?.contains("outside_ttl") == true, "\(direct.first ?? "")")
        #expect(direct.last?.contains("-> 429") == true, "\(direct.last ?? "")")
    }
}

/// A connection answered from its bytes (no HTTP handlers yet) keeps the server's idle timeout and its graceful
/// shutdown, which the HTTP handlers keep for the others.
struct DirectBytesConnectionTests {
    static let body = #"{"inputs": [{"name": "input", "shape": [1, 12], "datatype": "FP32", "data": [1,2,3,4,5,6,7,8,9,10,11,12]}]}"#
    static let infer = "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"

    /// The version's first request goes to the router (it reads the expectations); later ones may be answered directly.
    static func warmUp(_ client: any TestClientProtocol) async throws {
        #expect(try await client.post("/v2/models/fraud/infer", body).status == .ok)
    }

    /// Open while requests come more often than the timeout (for 3 s, the timeout 2 s), closed once silent for it.
    /// Not a timing assertion: a connection that stays open past the test's 5-second receive timeout, or closes while
    /// in use, fails.
    @Test(.timeLimit(.minutes(5))) func anIdleConnectionIsClosedAndABusyOneIsNot() async throws {
        try await withFerry(idleTimeout: .seconds(2)) { client, stack in
            let port = try #require(client.port)
            try await Self.warmUp(client)
            let (statuses, closes) = try await onOwnThread {
                let connection = try RawConnection(port: port)
                var statuses = [String]()
                for _ in 0..<12 {
                    statuses.append(try connection.exchange(Self.infer).status)
                    Thread.sleep(forTimeInterval: 0.25)
                }
                return (statuses, connection.closes())
            }
            #expect(statuses == Array(repeating: "200 OK", count: 12))
            #expect(closes)
            #expect(stack.server.direct?.answered == 12)
        }
    }

    /// A request that arrives in pieces (the head cut in two, the body apart, as clients that write the head and
    /// the body separately send it) is answered once whole, and so is the next one.
    @Test func aRequestInPiecesIsAnsweredWhenWhole() async throws {
        try await withFerry { client, stack in
            let port = try #require(client.port)
            try await Self.warmUp(client)
            let statuses = try await onOwnThread {
                let connection = try RawConnection(port: port)
                let text = Array(Self.infer.utf8)
                let bodyStart = text.count - Self.body.utf8.count
                for piece in [text[..<20], text[20..<bodyStart], text[bodyStart...]] {
                    try connection.send(String(decoding: piece, as: UTF8.self))
                    Thread.sleep(forTimeInterval: 0.05)
                }
                var statuses = [try connection.exchange("").status]
                statuses.append(try connection.exchange(Self.infer).status)
                return statuses
            }
            #expect(statuses == ["200 OK", "200 OK"])
            #expect(stack.server.direct?.answered == 2)
        }
    }

    /// Graceful shutdown closes a connection that is waiting for its next request (the server waits for its
    /// connections, so one left open would hold the shutdown until the time limit).
    @Test(.timeLimit(.minutes(5))) func shutdownClosesAnIdleConnection() async throws {
        let held = Mutex<RawConnection?>(nil)
        try await withFerry { client, stack in
            let port = try #require(client.port)
            try await Self.warmUp(client)
            let connection = try await onOwnThread {
                let connection = try RawConnection(port: port)
                #expect(try connection.exchange(Self.infer).status == "200 OK")
                return connection
            }
            held.withLock { $0 = connection }
            #expect(stack.server.direct?.answered == 1)
        }
        let connection = try #require(held.withLock { $0 })
        #expect(try await onOwnThread { connection.closes() })
    }
}

/// Runs blocking socket I/O on a thread of its own: blocking a thread of the shared pool could starve the server
/// under test, which answers on the same pool.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
