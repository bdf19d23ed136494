import Foundation

/// A stored API key. The secret itself is never stored, only its SHA-256.
public struct APIKey: Sendable, Equatable, Codable {
    /// Public id, the key's first characters (`fry_` + 8): safe to show, log and revoke by.
    public var id: String
    public var name: String
    public var role: Role
    /// Models (and endpoints) the key may touch; nil means all.
    public var models: [String]?
    /// Requests per second; nil uses the role's default.
    public var rateLimit: Double?
    /// Hex SHA-256 of the whole secret.
    public var secretSHA256: String
    public var createdBy: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, name: String, role: Role, models: [String]? = nil, rateLimit: Double? = nil, secretSHA256: String,
        createdBy: String, createdAt: Date, expiresAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.models = models
        self.rateLimit = rateLimit
        self.secretSHA256 = secretSHA256
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    public func isActive(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }

    public var principal: Principal {
        Principal(id: "key:\(id)", name: name, role: role, models: models, rateLimit: rateLimit)
    }
}

/// Persistent API keys. Every implementation must pass `KeyStoreConformance` in `FerryTesting`.
public protocol KeyStore: Sendable {
    /// Stores a new key; `.alreadyExists` if its id or secret hash is taken.
    func createKey(_ key: APIKey, audit: AuditBuilder<APIKey>?) async throws
    /// All keys, revoked ones included, oldest first.
    func keys() async throws -> [APIKey]
    /// Marks a key revoked and returns it; `.notFound` for an unknown id. Revoking twice keeps the first time.
    func revokeKey(id: String, at: Date, audit: AuditBuilder<APIKey>?) async throws -> APIKey
}

extension KeyStore {
    public func createKey(_ key: APIKey) async throws { try await createKey(key, audit: nil) }
    public func revokeKey(id: String, at: Date) async throws -> APIKey { try await revokeKey(id: id, at: at, audit: nil) }
}
