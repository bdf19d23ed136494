import Crypto
import Foundation

/// A control-plane change about to be recorded: who did what to which object, with the state before and after.
public struct AuditDraft: Sendable, Equatable {
    public var at: Date
    public var actor: String
    /// Dotted verb, e.g. `alias.set`, `version.register`, `key.revoke`, `server.start`.
    public var action: String
    /// What was changed, e.g. `fraud`, `fraud/3`, `fraud@production`, `key:fry_3k9x2m7q`.
    public var target: String
    public var before: JSONValue?
    public var after: JSONValue?

    public init(at: Date, actor: String, action: String, target: String, before: JSONValue? = nil, after: JSONValue? = nil) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.before = before
        self.after = after
    }
}

/// One entry of the audit trail. Entries form a hash chain: each hash covers the entry and the previous hash, so
/// editing, deleting or reordering any entry breaks every hash after it.
public struct AuditEntry: Sendable, Equatable, Codable {
    public var seq: Int64
    public var at: Date
    public var actor: String
    public var action: String
    public var target: String
    public var before: JSONValue?
    public var after: JSONValue?
    public var previousHash: String
    public var hash: String
    /// Whether the stored text of `before` or `after` is not the canonical JSON it was written as (a key added twice,
    /// spaces): parsed, it may hash as before, so verification checks the text too. Set by stores when reading.
    public var rewritten = false

    enum CodingKeys: String, CodingKey { case seq, at, actor, action, target, before, after, previousHash, hash }

    /// Whether `before` and `after` read from stored texts are those texts' canonical form.
    public func isCanonical(before storedBefore: String, after storedAfter: String) -> Bool {
        AuditEntry.canonical(before) == storedBefore && AuditEntry.canonical(after) == storedAfter
    }

    /// Chains `draft` after the entry whose hash is `previousHash`, as number `seq`. Times keep millisecond precision.
    public init(seq: Int64, draft: AuditDraft, previousHash: String) {
        self.seq = seq
        self.at = Date(timeIntervalSince1970: (draft.at.timeIntervalSince1970 * 1000).rounded() / 1000)
        self.actor = draft.actor
        self.action = draft.action
        self.target = draft.target
        // A top-level null is stored as "absent", so it reads back the same way.
        self.before = draft.before == .null ? nil : draft.before
        self.after = draft.after == .null ? nil : draft.after
        self.previousHash = previousHash
        self.hash = ""
        self.hash = computedHash
    }

    public init(
        seq: Int64, at: Date, actor: String, action: String, target: String, before: JSONValue?, after: JSONValue?,
        previousHash: String, hash: String
    ) {
        self.seq = seq
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.before = before
        self.after = after
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The hash this entry's content implies: hex SHA-256 over length-prefixed fields (so no field boundary can be
    /// shifted) with `before`/`after` in canonical JSON.
    public var computedHash: String {
        var sha = SHA256()
        let millis = Int64((at.timeIntervalSince1970 * 1000).rounded())
        for field in [
            "ferry-audit-v1", String(seq), String(millis), actor, action, target,
            AuditEntry.canonical(before), AuditEntry.canonical(after), previousHash,
        ] {
            let bytes = Array(field.utf8)
            sha.update(data: Array(String(bytes.count).utf8) + [0x3A] + bytes)
        }
        return sha.finalize().hexString
    }

    /// The hash the first entry chains to.
    public static let genesis = String(repeating: "0", count: 64)

    /// Deterministic JSON text: object keys sorted, numbers in Swift's shortest round-trip form; "" for nil.
    public static func canonical(_ value: JSONValue?) -> String {
        guard let value else { return "" }
        var out = ""
        write(value, into: &out)
        return out
    }

    private static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n):
            if n.isFinite, n == n.rounded(), abs(n) < 1e15 { out += String(Int64(n)) } else { out += "\(n)" }
        case .string(let s):
            out += "\""
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                write(.string(key), into: &out)
                out += ":"
                write(members[key]!, into: &out)
            }
            out += "}"
        }
    }
}

/// The outcome of checking an audit trail.
public struct AuditVerification: Sendable, Equatable {
    public var entries: Int
    /// The hash of the last entry (the genesis hash for an empty trail): record it elsewhere to detect truncation.
    public var head: String
    /// What is wrong, first problem first; empty when the trail is intact.
    public var problems: [String]
    public var intact: Bool { problems.isEmpty }

    /// Checks a whole trail, oldest first: numbering without gaps from 1, each entry's hash, and each link.
    /// `anchor` (a seq and hash recorded earlier) must still be present, which catches removal of the newest entries.
    public static func check(_ entries: [AuditEntry], anchor: (seq: Int64, hash: String)? = nil) -> AuditVerification {
        var problems: [String] = []
        var previous = AuditEntry.genesis
        var expected: Int64 = 1
        for entry in entries {
            if entry.seq != expected {
                problems.append("entry \(entry.seq) found where entry \(expected) was expected: entries were deleted or reordered")
            }
            if entry.previousHash != previous {
                problems.append("entry \(entry.seq) does not link to the entry before it: an entry before it was edited, deleted or reordered")
            }
            if entry.computedHash != entry.hash || entry.rewritten {
                problems.append("entry \(entry.seq) (\(entry.action) \(entry.target)) does not match its hash: it was edited")
            }
            previous = entry.hash
            expected = entry.seq + 1
        }
        if let anchor {
            if let entry = entries.first(where: { $0.seq == anchor.seq }) {
                if entry.hash != anchor.hash { problems.append("entry \(anchor.seq) no longer has the anchored hash \(anchor.hash)") }
            } else {
                problems.append("anchored entry \(anchor.seq) is missing: the newest entries were deleted")
            }
        }
        return AuditVerification(entries: entries.count, head: previous, problems: problems)
    }
}

/// Builds the audit entry of a change from its result; stores call it inside the change's transaction.
public typealias AuditBuilder<Result> = @Sendable (Result) throws -> AuditDraft

/// The append-only, hash-chained audit trail's storage.
public protocol AuditStore: Sendable {
    /// Appends an entry after the current last one, computing its number and hash in the same transaction.
    @discardableResult
    func appendAudit(_ draft: AuditDraft) async throws -> AuditEntry
    /// Entries with `seq > after`, oldest first, at most `limit`.
    func auditEntries(after: Int64, limit: Int) async throws -> [AuditEntry]
    /// The number of the last entry (0 when there is none).
    func latestAuditSeq() async throws -> Int64
}

extension JSONValue {
    /// Converts any Encodable value (a model, a version, a key) into a JSON value for audit entries.
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        self = try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value))
    }
}
