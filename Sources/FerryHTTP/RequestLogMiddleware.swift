import Hummingbird
import Logging

/// Logs each request's outcome at debug level with its request id (from Hummingbird's per-request logger).
/// When debug logging is off this costs one level check per request.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.logger.logLevel <= .debug else { return try await next(request, context) }
        let start = ContinuousClock.now
        let response = try await next(request, context)
        context.logger.debug("request", metadata: [
            "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "duration": "\(ContinuousClock.now - start)"])
        return response
    }
}
