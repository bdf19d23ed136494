import FerryCore
import Foundation
import Testing

struct AccessRuleTests {
    static let alice = Principal(id: "key:fry_a", name: "alice", role: .predictor)
    static let restricted = Principal(id: "key:fry_r", name: "r", role: .deployer, models: ["fraud"])

    @Test(arguments: [
        // (role, permission, allowed)
        (Role.viewer, Permission.read, true), (.viewer, .predict, false), (.viewer, .feedback, false), (.viewer, .deploy, false), (.viewer, .admin, false),
        (.predictor, .read, true), (.predictor, .predict, true), (.predictor, .feedback, true), (.predictor, .deploy, false), (.predictor, .admin, false),
        (.deployer, .read, true), (.deployer, .predict, true), (.deployer, .feedback, true), (.deployer, .deploy, true), (.deployer, .admin, false),
        (.admin, .read, true), (.admin, .predict, true), (.admin, .feedback, true), (.admin, .deploy, true), (.admin, .admin, true),
    ])
    func rolesGrantTheirPermissions(_ role: Role, _ permission: Permission, _ allowed: Bool) {
        let decision = RouteAccess.requires(permission).decide(Principal(id: "p", name: "p", role: role), model: "fraud")
        #expect((decision == .allow) == allowed, "\(role) \(permission): \(decision)")
    }

    @Test func openRoutesNeedNobodyAndOthersNeedSomebody() {
        #expect(RouteAccess.open.decide(nil, model: nil) == .allow)
        #expect(RouteAccess.requires(.read).decide(nil, model: "fraud") == .unauthenticated)
    }

    @Test(arguments: [
        // (route access, model in the path, allowed for a deployer restricted to 'fraud')
        (RouteAccess.requires(.deploy), "fraud" as String?, true),
        (.requires(.deploy), "churn", false),
        (.requires(.read), nil, false),
        (.requires(.read, openToRestricted: true), nil, true),
        (.requires(.feedback, openToRestricted: true), nil, true),
        (.requires(.admin, openToRestricted: true), nil, false),
    ])
    func restrictionsLimitModels(_ access: RouteAccess, _ model: String?, _ allowed: Bool) {
        let decision = access.decide(Self.restricted, model: model)
        #expect((decision == .allow) == allowed, "\(access) on \(model ?? "-"): \(decision)")
        if case .forbidden(let reason) = decision { #expect(reason.contains("fraud") || reason.contains("permission")) }
    }

    @Test func keysAreActiveUntilExpiryOrRevocation() {
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        var key = APIKey(id: "fry_x", name: "x", role: .viewer, secretSHA256: "00", createdBy: "t", createdAt: t, expiresAt: t.addingTimeInterval(60))
        #expect(key.isActive(at: t.addingTimeInterval(59)))
        #expect(!key.isActive(at: t.addingTimeInterval(60)))
        key.expiresAt = nil
        #expect(key.isActive(at: t.addingTimeInterval(1e9)))
        key.revokedAt = t
        #expect(!key.isActive(at: t))
    }
}

struct TokenBucketTests {
    /// (rate, burst, request times, expected outcome per request: nil admitted, else the wait in seconds)
    @Test(arguments: [
        (10.0, 2.0, [0.0, 0.0, 0.0], [nil, nil, 0.1] as [Double?]),
        (10.0, 2.0, [0.0, 0.0, 0.05, 0.1], [nil, nil, 0.05, nil]),
        (1.0, 1.0, [0.0, 0.5, 1.0, 1.0], [nil, 0.5, nil, 1.0]),
        (100.0, 100.0, [0.0, 1000.0], [nil, nil]),
        // Time going backwards (two clocks read out of order) never adds tokens.
        (1.0, 1.0, [5.0, 4.0], [nil, 1.0]),
    ])
    func bucketAdmitsAtItsRate(_ rate: Double, _ burst: Double, _ times: [Double], _ expected: [Double?]) {
        var bucket = TokenBucket(rate: rate, burst: burst, now: times[0])
        let outcomes = times.map { bucket.take(now: $0) }
        for (got, want) in zip(outcomes, expected) {
            switch (got, want) {
            case (nil, nil): break
            case (let g?, let w?): #expect(abs(g - w) < 1e-9, "\(outcomes) vs \(expected)")
            default: Issue.record("\(outcomes) vs \(expected)")
            }
        }
    }

    @Test func overALongRunTheAdmittedRateIsTheConfiguredRate() {
        var bucket = TokenBucket(rate: 50, burst: 50, now: 0)
        var admitted = 0
        for i in 0..<100_000 where bucket.take(now: Double(i) * 0.001) == nil { admitted += 1 }
        // 100 s at 50/s plus the initial burst.
        #expect(admitted == 50 + 50 * 100 - 1 || admitted == 50 + 50 * 100, "\(admitted)")
    }
}

struct AuditChainTests {
    static func chain(_ n: Int) -> [AuditEntry] {
        var entries: [AuditEntry] = []
        for i in 1...n {
            entries.append(AuditEntry(
                seq: Int64(i), draft: AuditDraft(
                    at: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)), actor: "alice", action: "alias.set",
                    target: "fraud@production", before: ["version": .number(Double(i))], after: ["version": .number(Double(i + 1))]),
                previousHash: entries.last?.hash ?? AuditEntry.genesis))
        }
        return entries
    }

    @Test func anIntactChainVerifies() {
        let entries = Self.chain(5)
        let check = AuditVerification.check(entries)
        #expect(check.intact && check.entries == 5 && check.head == entries[4].hash)
        #expect(AuditVerification.check([]).head == AuditEntry.genesis)
    }

    @Test func editsDeletionsAndReordersAreReported() {
        var edited = Self.chain(5)
        edited[2].after = ["version": 99]
        #expect(AuditVerification.check(edited).problems.first?.hasPrefix("entry 3 (alias.set fraud@production) does not match its hash") == true)

        var rehashed = Self.chain(5)
        rehashed[2].actor = "mallory"
        rehashed[2].hash = rehashed[2].computedHash
        #expect(AuditVerification.check(rehashed).problems == ["entry 4 does not link to the entry before it: an entry before it was edited, deleted or reordered"])

        var deleted = Self.chain(5)
        deleted.remove(at: 1)
        #expect(!AuditVerification.check(deleted).intact)

        var reordered = Self.chain(5)
        reordered.swapAt(1, 2)
        #expect(AuditVerification.check(reordered).problems.first == "entry 3 found where entry 2 was expected: entries were deleted or reordered")
    }

    @Test func canonicalJSONIsStableAcrossARoundTrip() throws {
        let value: JSONValue = ["b": [1, 2.5, "x\"\\\n"], "a": nil, "c": ["z": true, "y": 1e300]]
        let text = AuditEntry.canonical(value)
        #expect(text == #"{"a":null,"b":[1,2.5,"x\"\\\u000a"],"c":{"y":1e+300,"z":true}}"#)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(AuditEntry.canonical(decoded) == text)
    }
}

struct ModelSignatureTests {
    static let release = SigningKey.generate(id: "release")
    static let digest = String(repeating: "ab", count: 32)

    static func policy(_ keys: SigningKey...) throws -> SignaturePolicy {
        SignaturePolicy(trusted: try keys.map { try $0.publicKey })
    }

    @Test func aSignatureVerifiesForItsDigestFormatAndModel() throws {
        let signature = try ModelSignature.sign(sha256: Self.digest, format: "xgboost-json", model: "fraud", key: Self.release)
        try Self.policy(Self.release).verify(signature, sha256: Self.digest, format: "xgboost-json", model: "fraud")
        // Unbound fields accept any value.
        let loose = try ModelSignature.sign(sha256: Self.digest, format: nil, model: nil, key: Self.release)
        try Self.policy(Self.release).verify(loose, sha256: Self.digest, format: "lightgbm-text", model: "churn")
    }

    @Test(arguments: [
        ("other bytes", "the signature covers artifact sha256"),
        ("other model", "the signature is for model 'fraud', not 'churn'"),
        ("other format", "the signature is for format 'xgboost-json'"),
        ("untrusted key", "which this server does not trust"),
        ("edited signature", "does not verify"),
        ("edited metadata", "does not verify"),
        ("truncated signature", "does not verify"),
    ])
    func tamperingIsRefusedByName(_ change: String, _ expected: String) throws {
        var signature = try ModelSignature.sign(sha256: Self.digest, format: "xgboost-json", model: "fraud", key: Self.release)
        var digest = Self.digest, model = "fraud", format = "xgboost-json"
        var policy = try Self.policy(Self.release)
        switch change {
        case "other bytes": digest = String(repeating: "cd", count: 32)
        case "other model": model = "churn"
        case "other format": format = "lightgbm-text"
        case "untrusted key": policy = try Self.policy(SigningKey.generate(id: "someone"))
        case "edited signature":
            var bytes = Data(base64Encoded: signature.signature)!
            bytes[5] ^= 1
            signature.signature = bytes.base64EncodedString()
        case "edited metadata": signature.signedAt = "2001-01-01T00:00:00Z"
        default: signature.signature = String(signature.signature.prefix(20))
        }
        #expect {
            try policy.verify(signature, sha256: digest, format: format, model: model)
        } throws: { error in
            (error as? FerryError)?.code == .integrity && (error as? FerryError)?.message.contains(expected) == true
        }
    }

    @Test func aKeyWithTheSameIdButOtherBytesIsNotTrusted() throws {
        let impostor = SigningKey.generate(id: "release")
        let signature = try ModelSignature.sign(sha256: Self.digest, format: nil, model: nil, key: impostor)
        #expect(throws: FerryError.self) {
            try Self.policy(Self.release).verify(signature, sha256: Self.digest, format: "xgboost-json", model: "m")
        }
    }
}
