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
            let path = request.uri.path
            let (status, message, headers) = Self.resolve(error, method: request.method, path: path, requestID: context.id, logger: context.logger)
            var response = MLflowErrors.applies(to: path)
                ? MLflowErrors.response(status, message, code: (error as? FerryError)?.code, routeMissing: (error as? HTTPError)?.status == .notFound)
                : errorResponse(status, message)
            response.headers.append(contentsOf: headers)
            return response
        }
    }

    /// The status, message and extra headers of an error's answer, with the error logged. An internal error's
    /// text is logged under the request id and replaced by a message naming it.
    static func resolve(
        _ error: any Error, method: HTTPRequest.Method, path: String, requestID: String, logger: Logger
    ) -> (HTTPResponse.Status, String, HTTPFields) {
        var (status, message) = describe(error)
        if (error as? HTTPError)?.status == .notFound, MLflowErrors.applies(to: path) {
            message = "Ferry does not serve \(method) \(path) of MLflow's API; see docs/mlflow.md for the calls it serves"
        }
        if status.code >= 500 {
            logger.error("request failed", metadata: [
                "request_id": "\(requestID)", "path": "\(path)", "status": "\(status.code)", "error": "\(error)"])
        } else {
            logger.debug("request refused", metadata: ["path": "\(path)", "status": "\(status.code)", "error": "\(message)"])
        }
        var headers: HTTPFields = [:]
        if status == .internalServerError {
            message = "internal error; the server logged it with request id \(requestID)"
            headers[.ferryRequestID] = requestID
        }
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if let seconds = (error as? FerryError)?.retryAfter {
            headers[.retryAfter] = String(seconds)
        } else if status == .tooManyRequests {
            headers[.retryAfter] = "1"
        }
        return (status, message, headers)
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
    jsonResponse(errorBody(message), status: status)
}

/// The Open Inference Protocol's error body, `{"error": "<message>"}`.
func errorBody(_ message: String) -> [UInt8] {
    var w = JSONWriter()
    w.raw("{\"error\":")
    w.string(message)
    w.raw("}")
    return w.bytes
}

func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
}
