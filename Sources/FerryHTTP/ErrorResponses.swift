import FerryCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Maps every error to the Open Inference Protocol's error body, `{"error": "<message>"}`, with a status code
/// chosen here and only here. An internal error's text (which may hold SQL or paths) is logged, never answered:
/// the caller gets a fixed message and the request id to find it in the log.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var (status, message) = Self.describe(error)
            let routeMissing = (error as? HTTPError)?.status == .notFound
            if routeMissing, MLflowErrors.applies(to: request.uri.path) {
                message = "Ferry does not serve \(request.method) \(request.uri.path) of MLflow's API; see docs/mlflow.md for the calls it serves"
            }
            if status.code >= 500 {
                context.logger.error("request failed", metadata: [
                    "request_id": "\(context.id)",
                    "path": "\(request.uri.path)", "status": "\(status.code)", "error": "\(error)"])
            } else {
                context.logger.debug("request refused", metadata: [
                    "path": "\(request.uri.path)", "status": "\(status.code)", "error": "\(message)"])
            }
            var response: Response
            if status == .internalServerError {
                message = "internal error; the server logged it with request id \(context.id)"
            }
            if MLflowErrors.applies(to: request.uri.path) {
                response = MLflowErrors.response(status, message, code: (error as? FerryError)?.code, routeMissing: routeMissing)
            } else {
                response = errorResponse(status, message)
            }
            if status == .internalServerError { response.headers[.ferryRequestID] = context.id }
            if status == .unauthorized { response.headers[.wwwAuthenticate] = "Bearer" }
            if let seconds = (error as? FerryError)?.retryAfter {
                response.headers[.retryAfter] = String(seconds)
            } else if status == .tooManyRequests {
                response.headers[.retryAfter] = "1"
            }
            return response
        }
    }

    static func describe(_ error: any Error) -> (HTTPResponse.Status, String) {
        switch error {
        case let error as FerryError:
            return (status(for: error.code), error.message)
        case is NIOTooManyBytesError:
            return (.contentTooLarge, "request body is larger than the server's limit")
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge:
                return (.contentTooLarge, "request body is larger than the server's limit")
            case .notFound:
                return (.notFound, "no such route; see /openapi.json for the routes this server offers")
            case .methodNotAllowed:
                return (.methodNotAllowed, "method not allowed on this route; see /openapi.json")
            default:
                return (error.status, error.body ?? error.status.reasonPhrase)
            }
        default:
            return (.internalServerError, "internal error: \(error)")
        }
    }

    static func status(for code: FerryError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidArgument, .unsupported, .tooLarge: .badRequest
        case .notFound: .notFound
        case .alreadyExists, .failedPrecondition: .conflict
        case .unavailable: .serviceUnavailable
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        case .rateLimited: .tooManyRequests
        case .deadlineExceeded: .gatewayTimeout
        default: .internalServerError
        }
    }
}

extension HTTPField.Name {
    static let ferryRequestID = Self("Ferry-Request-Id")!
}

func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
    var w = JSONWriter()
    w.raw("{\"error\":")
    w.string(message)
    w.raw("}")
    return jsonResponse(w.bytes, status: status)
}

func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}
