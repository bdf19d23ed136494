import Foundation
import HTTPTypes
import Hummingbird

/// The web console at `/ui`: one page, its script and its styles, all embedded. The files are public (they hold no
/// data); the page signs in with an API key kept in the tab's session storage and reads everything through the API
/// with it, so every page is subject to the same roles and model restrictions as the API. Requests carry the key
/// in the Authorization header and never a cookie, so there is nothing for a cross-site request to ride on.
struct ConsoleRoutes {
    typealias Context = FerryRequestContext

    /// Scripts and styles from this server only; no inline code, no framing, nothing sent to another origin.
    static let headers: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        .cacheControl: "no-cache",
    ]

    func add(to router: Router<Context>) {
        router.get("/ui") { _, _ in Self.file(ConsoleAssets.html, type: "text/html; charset=utf-8") }
        router.get("/ui/app.js") { _, _ in Self.file(ConsoleAssets.javascript, type: "text/javascript; charset=utf-8") }
        router.get("/ui/app.css") { _, _ in Self.file(ConsoleAssets.css, type: "text/css; charset=utf-8") }
    }

    static func file(_ text: String, type: String) -> Response {
        var headers = Self.headers
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
