import Foundation

/// What a route lets its caller do. Roles are sets of permissions.
public enum Permission: String, Sendable, CaseIterable, Codable {
    /// Read registry, monitoring and metrics data.
    case read
    /// Run inference.
    case predict
    /// Post ground truth for logged predictions.
    case feedback
    /// Change what is served: register versions, move aliases, set references and alert rules.
    case deploy
    /// Manage API keys and read the audit trail.
    case admin
}

/// The built-in roles, each a superset of the one before.
public enum Role: String, Sendable, CaseIterable, Codable {
    case viewer, predictor, deployer, admin

    public var permissions: Set<Permission> {
        switch self {
        case .viewer: [.read]
        case .predictor: [.read, .predict, .feedback]
        case .deployer: [.read, .predict, .feedback, .deploy]
        case .admin: Set(Permission.allCases)
        }
    }

    public static func parse(_ text: String, field: String = "role") throws -> Role {
        guard let role = Role(rawValue: text) else {
            throw FerryError.invalid("\(field) '\(text)' is not one of \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return role
    }
}

/// An authenticated caller: an API key or a JWT subject.
public struct Principal: Sendable, Equatable {
    /// Stable id, e.g. `key:fry_3k9x2m7q` or `jwt:alice`; rate limits and audit entries use it.
    public var id: String
    /// Human-readable name recorded as the actor of changes.
    public var name: String
    public var role: Role
    /// The models (and endpoints) this principal may touch; nil means all.
    public var models: [String]?
    /// Requests per second this principal may make; nil uses its role's default.
    public var rateLimit: Double?

    public init(id: String, name: String, role: Role, models: [String]? = nil, rateLimit: Double? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.models = models
        self.rateLimit = rateLimit
    }

    /// The principal of every request when authentication is turned off.
    public static let anonymous = Principal(id: "anonymous", name: "anonymous", role: .admin)

    /// What audit entries and alias history record as the one who acted.
    public var actor: String { id == name ? id : "\(name) (\(id))" }
}

/// What a route requires of its caller.
public struct RouteAccess: Sendable, Equatable {
    /// The permission needed; nil means the route is open to everyone (health probes).
    public var permission: Permission?
    /// Whether a principal restricted to some models may call this route even though it names no model
    /// (server metadata, the OpenAPI document, feedback by prediction id).
    public var openToRestricted: Bool

    public static let open = RouteAccess(permission: nil, openToRestricted: true)
    public static func requires(_ permission: Permission, openToRestricted: Bool = false) -> RouteAccess {
        RouteAccess(permission: permission, openToRestricted: openToRestricted)
    }

    /// What to do with a request: `model` is the model (or endpoint) name the route addresses, if any.
    public func decide(_ principal: Principal?, model: String?) -> AccessDecision {
        guard let permission else { return .allow }
        guard let principal else { return .unauthenticated }
        guard principal.role.permissions.contains(permission) else {
            return .forbidden("role '\(principal.role.rawValue)' lacks the '\(permission.rawValue)' permission this route needs")
        }
        guard let allowed = principal.models else { return .allow }
        if let model {
            return allowed.contains(model) ? .allow : .forbidden("this key is restricted to models \(allowed.joined(separator: ", ")) and may not use '\(model)'")
        }
        return openToRestricted ? .allow : .forbidden("this key is restricted to models \(allowed.joined(separator: ", ")); this route is not scoped to a model")
    }
}

public enum AccessDecision: Sendable, Equatable {
    case allow
    case unauthenticated
    case forbidden(String)
}
