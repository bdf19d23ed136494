@testable import FerryHTTP
import Testing

/// The bytes path reads only plain HTTP/1.1 POSTs to a V2 infer path with a body of known length; anything else,
/// or anything unusual, is left to the HTTP decoder.
struct DirectRequestHeadTests {
    static let body = #"{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#

    static func request(path: String = "/v2/models/fraud/infer", headers: [String] = [], body: String = body) -> String {
        (["POST \(path) HTTP/1.1", "Host: localhost", "Content-Type: application/json", "Content-Length: \(body.utf8.count)"] + headers)
            .joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    static func parse(_ text: String, maxBodyBytes: Int = 1 << 20) -> DirectRequestHead.Parsed {
        Array(text.utf8).withUnsafeBytes { DirectRequestHead.parse($0, maxBodyBytes: maxBodyBytes) }
    }

    @Test func aRequestIsReadWithWhatTheAnswerNeeds() throws {
        let text = Self.request(path: "/v2/models/fraud/versions/3/infer", headers: [
            "authorization:  Bearer fry_secret \t", "X-API-KEY: other", "Inference-Header-Content-Length: 12", "Connection: Keep-Alive",
            "Content-Encoding: identity",
        ])
        guard case .request(let head) = Self.parse(text + "POST /v2/models/next/infer HTTP/1.1\r\n") else {
            Issue.record("not read: \(Self.parse(text))")
            return
        }
        #expect(head.target == .infer(model: "fraud", version: "3") && head.path == "/v2/models/fraud/versions/3/infer")
        #expect(head.authorization == "Bearer fry_secret" && head.apiKey == "other" && head.jsonLength == "12")
        #expect(head.end == text.utf8.count && head.bodyStart == text.utf8.count - Self.body.utf8.count)
    }

    /// Every cut of a request short of its last byte is incomplete; so is one with no body yet.
    @Test func aRequestCutAnywhereIsIncomplete() {
        let text = Array(Self.request().utf8)
        for cut in 1..<text.count {
            let parsed = Array(text[..<cut]).withUnsafeBytes { DirectRequestHead.parse($0, maxBodyBytes: 1 << 20) }
            #expect(parsed == .incomplete, "cut at \(cut)")
        }
        let noBody = "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(Self.parse(noBody) == .request(DirectRequestHead(target: .infer(model: "fraud", version: nil), path: "/v2/models/fraud/infer", bodyStart: noBody.utf8.count, end: noBody.utf8.count)))
    }

    @Test func onlineFeatureReadsAreRead() {
        for (path, target) in [("/api/v1/features/online", DirectRequestHead.Target.onlineFeatures(feast: false)), ("/get-online-features", .onlineFeatures(feast: true))] {
            guard case .request(let head) = Self.parse(Self.request(path: path)) else {
                Issue.record("\(path) not read")
                continue
            }
            #expect(head.target == target && head.path == path)
        }
        for path in ["/api/v1/features/online/", "/api/v1/features/onlinex", "/get-online-features?x=1", "/api/v1/features/views"] {
            #expect(Self.parse(Self.request(path: path)) == .notDirect, "\(path)")
        }
    }

    @Test(arguments: [
        "GET /v2/models/fraud HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v2/models/fraud/ready HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/models/fraud:predict HTTP/1.1\r\nHost: x\r\n\r\n",
        "post /v2/models/fraud/infer HTTP/1.1\r\n\r\n",
        "POST  /v2/models/fraud/infer HTTP/1.1\r\n\r\n",
        "POST /v2/models/fraud/infer HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer?x=1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fr%61ud/infer HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models//infer HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/versions//infer HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nContent-Length: +2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nFerry-Timeout-Ms: 10\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: x\r\n folded\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nHo st: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nHost x\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\n: x\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: a\nb\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: caf\u{e9}\r\nContent-Length: 2\r\n\r\n{}",
        "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: \u{7}\r\nContent-Length: 2\r\n\r\n{}",
    ])
    func anythingElseIsLeftToTheDecoder(_ text: String) {
        #expect(Self.parse(text, maxBodyBytes: 1000) == .notDirect)
    }

    /// The paths the direct path answers, read as splitting them at `/` reads them.
    @Test func pathsAreReadAsTheirSegments() {
        let cases: [(String, String?, String?)] = [
            ("/v2/models/fraud/infer", "fraud", nil), ("/v2/models/fraud/versions/12/infer", "fraud", "12"),
            ("/v2/models/a.b-c_d/versions/production/infer", "a.b-c_d", "production"), ("/v2/models/x/infer", "x", nil),
            ("/v2/models/infer", nil, nil), ("/v2/models//infer", nil, nil), ("/v2/models/a/b/infer", nil, nil),
            ("/v2/models/a/ver/infer", nil, nil), ("/v2/models/a/versions/infer", nil, nil), ("/v2/models/a/versions//infer", nil, nil),
            ("/v2/models/a/versions/1/2/infer", nil, nil), ("/v2/models//versions/1/infer", nil, nil), ("/v2/models/a/versionsX1/infer", nil, nil),
            ("/v2/models/a/inferx", nil, nil), ("/v2/models/a?/infer", nil, nil), ("/v2/models/%61/infer", nil, nil), ("/v2/model/a/infer", nil, nil),
        ]
        for (path, model, version) in cases {
            let target = DirectInference.target(path: path)
            #expect(target?.model == model && target?.version == version, "\(path): \(String(describing: target))")
        }
    }

    /// Left to the decoder as soon as the first bytes show it, not when the head is complete.
    @Test func otherMethodsAreKnownAtOnce() {
        #expect(Self.parse("GET ") == .notDirect)
        #expect(Self.parse("PUT /") == .notDirect)
        #expect(Self.parse("POST ") == .incomplete)
    }

    /// Lines ended by a bare LF never make a CR LF CR LF: left to the decoder at once (before, the connection waited
    /// for its idle timeout).
    @Test func bareLineFeedsAreLeftToTheDecoder() {
        #expect(Self.parse("POST /v2/models/fraud/infer HTTP/1.1\nContent-Length: 2\n\n{}") == .notDirect)
        #expect(Self.parse("POST /v2/models/fraud/infer HTTP/1.1\r\nContent-Length: 2\r\n") == .incomplete)
    }

    @Test func aHeadLongerThanTheLimitIsLeftToTheDecoder() {
        let long = "POST /v2/models/fraud/infer HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: DirectRequestHead.longestHead)
        #expect(Self.parse(long) == .notDirect)
        #expect(Self.parse(String(decoding: long.utf8.prefix(DirectRequestHead.longestHead - 1), as: UTF8.self)) == .incomplete)
    }
}
