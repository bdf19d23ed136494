import FerryCore
import Foundation
import JWTKit

/// Accepts JWT bearer tokens (HS256, RS256 or ES256) signed by configured keys, with `exp` required and
/// `iss`/`aud` checked when configured. Claims: `sub` (who), `role` (viewer, predictor, deployer, admin),
/// optional `models` (names the token is restricted to) and `rate_limit` (requests per second).
public struct JWTVerifier: Sendable {
    let keys: JWTKeyCollection
    let issuer: String?
    let audience: String?

    /// Key material as configured: an HS256 shared secret and/or PEM public keys (RSA or P-256).
    public init(hs256Secret: String?, publicKeysPEM: [String], issuer: String?, audience: String?) async throws {
        let keys = JWTKeyCollection()
        if let hs256Secret {
            guard hs256Secret.utf8.count >= 32 else {
                throw FerryError.invalid("the HS256 secret must be at least 32 bytes long")
            }
            await keys.add(hmac: HMACKey(from: hs256Secret), digestAlgorithm: .sha256, kid: "hs256")
        }
        for (i, pem) in publicKeysPEM.enumerated() {
            let kid = JWKIdentifier(string: "key\(i)")
            if let key = try? ES256PublicKey(pem: pem) {
                await keys.add(ecdsa: key, kid: kid)
            } else if let key = try? Insecure.RSA.PublicKey(pem: pem) {
                await keys.add(rsa: key, digestAlgorithm: .sha256, kid: kid)
            } else {
                throw FerryError.invalid("JWT public key \(i + 1) is neither a PEM RSA nor a PEM P-256 (ES256) public key")
            }
        }
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
    }

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var role: String
        var models: [String]?
        var rate_limit: Double?

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            try nbf?.verifyNotBefore()
        }
    }

    /// Whether a bearer credential looks like a JWT rather than an API key.
    static func looksLikeJWT(_ token: Substring) -> Bool {
        token.utf8.count > 20 && token.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: ".") ? 1 : 0) } == 2
    }

    /// The principal a token stands for; throws `.unauthenticated` saying what is wrong with it.
    func principal(_ token: Substring) async throws -> Principal {
        let claims: Claims
        do {
            // Every configured key is tried (an identity provider's `kid` names its own keys, not Ferry's labels), so
            // a second public key works during a rotation; each key verifies only its own algorithm.
            claims = try await keys.verify(String(token), as: Claims.self, iteratingKeys: true)
        } catch {
            throw FerryError(.unauthenticated, "the JWT was refused: \(Self.reason(error))")
        }
        if let issuer, claims.iss?.value != issuer {
            throw FerryError(.unauthenticated, "the JWT's issuer is '\(claims.iss?.value ?? "")', expected '\(issuer)'")
        }
        if let audience, !(claims.aud?.value.contains(audience) ?? false) {
            throw FerryError(.unauthenticated, "the JWT's audience does not include '\(audience)'")
        }
        guard let role = Role(rawValue: claims.role) else {
            throw FerryError(.unauthenticated, "the JWT's role claim '\(claims.role)' is not one of viewer, predictor, deployer, admin")
        }
        guard !claims.sub.value.isEmpty, !claims.sub.value.contains(where: \.isNewline) else {
            throw FerryError(.unauthenticated, "the JWT's sub claim must name who it is for, on one line")
        }
        if let rate = claims.rate_limit, !(rate.isFinite && rate > 0) {
            throw FerryError(.unauthenticated, "the JWT's rate_limit claim must be a positive number of requests per second")
        }
        return Principal(
            id: "jwt:\(claims.sub.value)", name: claims.sub.value, role: role, models: claims.models, rateLimit: claims.rate_limit)
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? JWTError {
            return error.reason ?? "\(error.errorType)"
        }
        return "\(error)"
    }
}
