/// The one error type of Ferry's domain.
///
/// `code` says what kind of failure it is (adapters map it to a status code), `message` says what went wrong and how
/// to fix it, `cause` keeps the underlying error when there is one.
public struct FerryError: Error, Sendable, CustomStringConvertible, Equatable {
    /// An extensible error code; adapters decide how each code is reported (for example an HTTP status).
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The caller sent something malformed or inconsistent with the schema.
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// The named model, version or alias does not exist.
        public static let notFound = Code(rawValue: "not_found")
        /// The thing being created exists already.
        public static let alreadyExists = Code(rawValue: "already_exists")
        /// The request is valid but the current state forbids it (e.g. archiving an aliased version).
        public static let failedPrecondition = Code(rawValue: "failed_precondition")
        /// The model uses a construct this Ferry build cannot run correctly.
        public static let unsupported = Code(rawValue: "unsupported")
        /// The request is larger than the configured limits.
        public static let tooLarge = Code(rawValue: "too_large")
        /// The service cannot serve this right now (model failed to load, shutting down).
        public static let unavailable = Code(rawValue: "unavailable")
        /// Stored data failed an integrity check (artifact digest mismatch).
        public static let integrity = Code(rawValue: "integrity")
        /// The caller did not prove who it is (no, unknown, expired or revoked credentials).
        public static let unauthenticated = Code(rawValue: "unauthenticated")
        /// The caller is known but its role or restriction does not allow this.
        public static let permissionDenied = Code(rawValue: "permission_denied")
        /// The caller exceeded its rate limit or a queue is full; the HTTP adapter adds Retry-After.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// The request's deadline passed before it was answered.
        public static let deadlineExceeded = Code(rawValue: "deadline_exceeded")
        /// A bug or an unexpected environment failure.
        public static let `internal` = Code(rawValue: "internal")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    /// Seconds after which the same call is likely to succeed (a model still loading, a breaker cooling down);
    /// the HTTP adapter sends it as Retry-After.
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
        self.retryAfter = retryAfter
    }

    public var description: String {
        if let cause { return "\(message) (\(cause))" }
        return message
    }

    public static func == (lhs: FerryError, rhs: FerryError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message
    }

    public static func invalid(_ message: String) -> FerryError { FerryError(.invalidArgument, message) }
    public static func notFound(_ message: String) -> FerryError { FerryError(.notFound, message) }
}
