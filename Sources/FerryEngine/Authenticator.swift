import Crypto
import FerryCore
import Foundation
import Logging
import Synchronization

/// API keys: creation (the secret is returned once), revocation, and the per-request lookup.
///
/// Keys are cached in memory by the SHA-256 of their secret, so authenticating a request costs one hash and one
/// dictionary lookup. Every change goes through here and reloads the cache.
public final class Authenticator: Sendable {
    private let store: any KeyStore
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let cache = Mutex<[SecretHash: Cached]>([:])

    /// A key with the principal it stands for, built once.
    private struct Cached {
        var key: APIKey
        var principal: Principal
    }

    /// A SHA-256 digest as four words: hashed and compared without an array.
    private struct SecretHash: Hashable {
        var words: (UInt64, UInt64, UInt64, UInt64)

        init?(_ bytes: some Collection<UInt8>) {
            guard bytes.count == 32 else { return nil }
            var words = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &words) { $0.copyBytes(from: bytes) }
            self.words = words
        }

        init(secret: Substring) {
            var text = secret
            let digest = text.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
            var words = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &words) { target in digest.withUnsafeBytes { target.copyMemory(from: $0) } }
            self.words = words
        }

        static func == (a: Self, b: Self) -> Bool { a.words == b.words }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
            hasher.combine(words.2)
            hasher.combine(words.3)
        }
    }

    public init(store: any KeyStore, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.logger = logger
        self.now = now
    }

    /// Reads every key from the store into the cache.
    public func reload() async throws {
        var byHash: [SecretHash: Cached] = [:]
        for key in try await store.keys() where key.revokedAt == nil {
            if let bytes = key.secretSHA256.hexBytes, let hash = SecretHash(bytes) { byHash[hash] = Cached(key: key, principal: key.principal) }
        }
        cache.withLock { $0 = byHash }
    }

    /// The principal a presented secret stands for, or nil when it is unknown, expired or revoked.
    public func principal(secret: Substring) -> Principal? {
        let hash = SecretHash(secret: secret)
        guard let cached = cache.withLock({ $0[hash] }), cached.key.isActive(at: now()) else { return nil }
        return cached.principal
    }

    /// Creates a key and returns it with its secret, which is not stored and cannot be shown again.
    public func createKey(
        name: String, role: Role, models: [String]? = nil, rateLimit: Double? = nil, expiresAt: Date? = nil,
        by actor: String, secret presetSecret: String? = nil
    ) async throws -> (key: APIKey, secret: String) {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 128 else { throw FerryError.invalid("name must be 1 to 128 characters") }
        if let models {
            guard !models.isEmpty else { throw FerryError.invalid("models must name at least one model (omit it for all models)") }
            for model in models { try Model.validate(name: model, field: "models") }
        }
        if let rateLimit, !(rateLimit > 0 && rateLimit.isFinite) { throw FerryError.invalid("rate_limit must be a positive number of requests per second") }
        if let expiresAt, expiresAt <= now() { throw FerryError.invalid("expires_at must be in the future") }
        let (id, secret) = presetSecret.map { (Self.id(forPreset: $0), $0) } ?? Self.newSecret()
        let key = APIKey(
            id: id, name: name, role: role, models: models, rateLimit: rateLimit,
            secretSHA256: SHA256.hash(data: Array(secret.utf8)).hexString, createdBy: actor, createdAt: now(),
            expiresAt: expiresAt)
        let time = now()
        try await store.createKey(key) { key in
            AuditDraft(at: time, actor: actor, action: "key.create", target: "key:\(key.id)", after: try Self.describe(key))
        }
        try await reload()
        return (key, secret)
    }

    public func revokeKey(id: String, by actor: String) async throws -> APIKey {
        let keys = try await store.keys()
        let before = keys.first { $0.id == id }
        if let before, before.revokedAt != nil { return before }   // already revoked: nothing changes, nothing to record
        if let before, before.role == .admin, before.isActive(at: now()),
           !keys.contains(where: { $0.id != id && $0.role == .admin && $0.isActive(at: now()) }) {
            throw FerryError(.failedPrecondition, "'\(id)' is the last active admin key; create another admin key before revoking it")
        }
        let time = now()
        let key = try await store.revokeKey(id: id, at: time) { key in
            AuditDraft(
                at: time, actor: actor, action: "key.revoke", target: "key:\(id)", before: try before.map(Self.describe),
                after: try Self.describe(key))
        }
        try await reload()
        return key
    }

    public func keys() async throws -> [APIKey] { try await store.keys() }

    /// On first start (no key exists) creates an admin key: from `preset` when given (for example an environment
    /// variable), else a new random one, which is returned so it can be shown once. Returns nil when keys exist.
    public func bootstrap(preset: String?) async throws -> String? {
        guard try await store.keys().isEmpty else {
            try await reload()
            return nil
        }
        if let preset, preset.count < 24 {
            throw FerryError.invalid("the preset admin key must be at least 24 characters long")
        }
        let created: (key: APIKey, secret: String)
        do {
            created = try await createKey(name: "admin", role: .admin, by: "ferry", secret: preset)
        } catch let error as FerryError where error.code == .alreadyExists {
            // Replicas starting together on an empty database with the same preset: another one created it first.
            let hash = SHA256.hash(data: Array((preset ?? "").utf8)).hexString
            guard preset != nil, try await store.keys().contains(where: { $0.secretSHA256 == hash }) else { throw error }
            try await reload()
            return nil
        }
        logger.notice("created the first admin key", metadata: ["id": "\(created.key.id)"])
        return preset == nil ? created.secret : nil
    }

    /// A new key: `fry_` + 8 id characters, `_`, then 32 random bytes in base64url. The id part is public.
    static func newSecret() -> (id: String, secret: String) {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        let id = "fry_" + String((0..<8).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let body = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return (id, id + "_" + body)
    }

    /// The public id of a key supplied from outside: its own prefix when it has Ferry's shape, else a digest prefix.
    static func id(forPreset secret: String) -> String {
        let parts = secret.split(separator: "_")
        if parts.count >= 3, parts[0] == "fry", parts[1].count == 8 { return "fry_" + parts[1] }
        return "fry_" + String(SHA256.hash(data: Array(secret.utf8)).hexString.prefix(8))
    }

    /// A key as it appears in audit entries and API answers: everything but the secret's hash.
    public static func describe(_ key: APIKey) throws -> JSONValue {
        guard case .object(var members) = try JSONValue(encoding: key) else { return .null }
        members["secretSHA256"] = nil
        return .object(members)
    }
}
