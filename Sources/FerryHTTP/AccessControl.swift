import FerryCore
import FerryEngine
import Foundation
import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let apiKey = Self("X-API-Key")!
}

/// The request context of Ferry's router: Hummingbird's core storage plus the authenticated principal.
public struct FerryRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AccessMiddleware` before any route runs (the anonymous admin when authentication is off).
    public var principal: Principal?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Who to record as the author of a change.
    var actor: String { (principal ?? .anonymous).actor }
}

/// How the router authenticates, authorizes and rate-limits requests.
public struct AccessControl: Sendable {
    /// nil turns authentication off: every request acts as `Principal.anonymous` (an admin).
    public var authenticator: Authenticator?
    /// Accepts JWT bearer tokens too, when configured.
    public var jwt: JWTVerifier?
    public var rateLimiter: RateLimiter?

    public init(authenticator: Authenticator?, jwt: JWTVerifier? = nil, rateLimiter: RateLimiter? = nil) {
        self.authenticator = authenticator
        self.jwt = jwt
        self.rateLimiter = rateLimiter
    }

    /// No authentication and no limits, for tests that are not about access.
    public static let off = AccessControl(authenticator: nil)

    /// Who a request's credentials name: an API key, or a JWT when one is configured; the anonymous admin when
    /// authentication is off. Every transport (HTTP, gRPC) asks the same question.
    public func principal(secret: Substring?) async throws -> Principal {
        guard let authenticator else { return .anonymous }
        guard let secret else {
            throw FerryError(.unauthenticated, "this route needs credentials: send 'Authorization: Bearer <API key>' or 'X-API-Key: <API key>'")
        }
        if let jwt, JWTVerifier.looksLikeJWT(secret) { return try await jwt.principal(secret) }
        guard let principal = authenticator.principal(secret: secret) else {
            throw FerryError(.unauthenticated, "the API key is unknown, expired or revoked")
        }
        return principal
    }
}

/// Authenticates the caller, checks the route's declared access (`OpenAPIDocument.routes`) and the caller's rate
/// limit, then passes the principal on in the context. A matched route without a declaration is refused.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = FerryRequestContext
    let control: AccessControl
    let table: [HTTPRequest.Method: [String: RouteAccess]]
    let templates: [(method: String, segments: [Substring])]

    init(control: AccessControl, routes: [OpenAPIDocument.Route]) {
        self.control = control
        var table: [HTTPRequest.Method: [String: RouteAccess]] = [:]
        for route in routes {
            table[HTTPRequest.Method(route.method.uppercased())!, default: [:]][route.path] = route.access
        }
        self.table = table
        templates = routes.map { ($0.method.uppercased(), $0.path.split(separator: "/")) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Unmatched requests carry no endpoint: a known path with another method is a 405, the rest the router's 404.
        guard let endpoint = context.endpointPath else {
            let allowed = allowedMethods(request.uri.path)
            guard !allowed.isEmpty else { return try await next(request, context) }
            var response = errorResponse(
                .methodNotAllowed, "method \(request.method) is not allowed on \(request.uri.path); use \(allowed.joined(separator: " or "))")
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        }
        guard let access = table[request.method]?[endpoint] else {
            throw FerryError(.permissionDenied, "route \(request.method) \(endpoint) declares no access rule, so it is refused")
        }
        // Path parameters arrive percent-encoded ('my%20model'); every rule and message sees what the caller meant.
        var context = context
        for (key, value) in context.parameters where value.contains("%") {
            if let decoded = value.removingPercentEncoding { context.coreContext.parameters[key] = Substring(decoded) }
        }
        guard access.permission != nil else { return try await next(request, context) }
        let principal: Principal? = try await control.principal(secret: Self.credentials(request.headers))
        switch access.decide(principal, model: context.parameters.get("name")) {
        case .allow: break
        case .unauthenticated: throw FerryError(.unauthenticated, "this route needs credentials")
        case .forbidden(let reason): throw FerryError(.permissionDenied, reason)
        }
        if let limiter = control.rateLimiter, let principal, let wait = limiter.admit(principal) {
            let (message, seconds) = Self.rateLimited(principal, wait: wait)
            var response = errorResponse(.tooManyRequests, message)
            response.headers[.retryAfter] = seconds
            return response
        }
        context.principal = principal
        return try await next(request, context)
    }

    /// The message and Retry-After seconds of a request refused by the rate limiter, `wait` seconds before a token.
    static func rateLimited(_ principal: Principal, wait: Double) -> (message: String, retryAfter: String) {
        // At most a day: a limit of 1e-19 per second would wait longer than an Int holds.
        let seconds = max(1, Int(min(wait, 86_400).rounded(.up)))
        return ("rate limit of \(principal.id) exceeded; retry after \(seconds) s", String(seconds))
    }

    /// The methods the routes matching `path` accept (empty when no route has this path). As in the router, a
    /// literal segment wins over a parameter: `/rollout/events` is not `/rollout/{action}`.
    func allowedMethods(_ path: String) -> [String] {
        let segments = path.split(separator: "/")
        var best = -1
        var methods: [String] = []
        for template in templates where template.segments.count == segments.count {
            var literals = 0
            let matches = zip(template.segments, segments).allSatisfy { pattern, segment in
                guard let open = pattern.firstIndex(of: "{"), let close = pattern.firstIndex(of: "}") else {
                    literals += 1
                    return pattern == segment
                }
                let prefix = pattern[..<open], suffix = pattern[pattern.index(after: close)...]
                return segment.count > prefix.count + suffix.count && segment.hasPrefix(prefix) && segment.hasSuffix(suffix)
            }
            guard matches, literals >= best else { continue }
            if literals > best { (best, methods) = (literals, []) }
            if !methods.contains(template.method) { methods.append(template.method) }
        }
        return methods.sorted()
    }

    /// The secret from `Authorization: Bearer ...`, `X-API-Key`, or Basic credentials whose password is the
    /// secret (MLflow's clients send `MLFLOW_TRACKING_USERNAME`/`PASSWORD` that way; the user name is not used).
    static func credentials(_ headers: HTTPFields) -> Substring? {
        AccessControl.credentials(authorization: headers[.authorization], apiKey: headers[.apiKey])
    }
}

extension AccessControl {
    /// The secret in an `Authorization` header (Bearer, or Basic with the secret as password), else the `X-API-Key` header's.
    package static func credentials(authorization: String?, apiKey: String?) -> Substring? {
        if let value = authorization {
            let text = Substring(value)
            if text.count > 6, text.prefix(6).lowercased() == "basic " {
                guard let decoded = Data(base64Encoded: String(text.dropFirst(6).drop(while: { $0 == " " }))),
                      let pair = String(data: decoded, encoding: .utf8), let colon = pair.firstIndex(of: ":") else { return nil }
                return Substring(pair[pair.index(after: colon)...])
            }
            guard text.count > 7, text.prefix(7).lowercased() == "bearer " else { return nil }
            return text.dropFirst(7).drop(while: { $0 == " " })
        }
        return apiKey.map { Substring($0) }
    }
}
