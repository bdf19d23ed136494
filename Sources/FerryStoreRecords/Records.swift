import FerryCore
import Foundation

// The shapes every store backend (SQLite, PostgreSQL) writes into its JSON columns.
//
// FerryCore's types are also HTTP bodies, so the store does not encode them directly: renaming one of their fields
// would silently change (and break) rows already stored. Each record below mirrors one domain type field by field,
// with explicit coding keys that are exactly the keys the domain type's own Codable wrote when the store used it,
// so rows written before records existed decode unchanged. Records never contain a FerryCore Codable type.
//
// Conventions:
// - Every top-level record (one JSON column) carries `schema_version`: always written as the record's
//   `currentSchemaVersion`, read as 1 when absent (rows written before records existed), and refused when newer than
//   this build knows. Nested records have no version of their own; they change with the record that holds them.
// - Enums are stored as their raw strings and converted in `domain()`, which throws on a value this build does not know.
// - Dates are stored as seconds since 2001-01-01 (Foundation's reference date): what `JSONEncoder`'s default date
//   strategy wrote, and an exact round trip of `Date`.
// - Optional fields are left out when nil, as the domain types' synthesized coding did.

/// Encoding, decoding and the shared conversions of the store's JSON records.
package enum Records {
    /// A record as JSON text, keys sorted (plain `JSONEncoder` otherwise).
    package static func encode<R: Encodable>(_ record: R) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(record), as: UTF8.self)
    }

    /// A record read from JSON text (plain `JSONDecoder`). A malformed row throws `.internal` naming the record.
    package static func decode<R: Decodable>(_ type: R.Type, _ text: String) throws -> R {
        do {
            return try JSONDecoder().decode(R.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw FerryError(.internal, "a stored \(R.self) could not be read: \(describe(error))", cause: error)
        }
    }

    /// The `schema_version` of a top-level record: 1 when absent; refused when newer than `current` (or not positive).
    static func schemaVersion<Key: CodingKey>(
        in container: KeyedDecodingContainer<Key>, forKey key: Key, record: String, current: Int
    ) throws -> Int {
        let version = try container.decodeIfPresent(Int.self, forKey: key) ?? 1
        guard version >= 1 else {
            throw FerryError(.internal, "a stored \(record) has schema_version \(version), which is not a valid version (1 or more)")
        }
        guard version <= current else {
            throw FerryError(
                .internal,
                "a stored \(record) has schema_version \(version), but this Ferry build reads \(record) only up to version \(current); it was written by a newer Ferry, upgrade to read it")
        }
        return version
    }

    /// The enum case a stored raw string names; throws `.internal` naming the record and field when it is unknown.
    package static func parse<E: RawRepresentable>(_ raw: String, as type: E.Type, field: String, in record: String) throws -> E
    where E.RawValue == String {
        guard let value = E(rawValue: raw) else {
            throw FerryError(.internal, "a stored \(record) has an unknown \(field) '\(raw)' (written by a newer Ferry, or damaged)")
        }
        return value
    }

    /// A date as stored: seconds since 2001-01-01 00:00:00 UTC.
    static func seconds(_ date: Date) -> Double { date.timeIntervalSinceReferenceDate }

    /// The date of a stored number of seconds since 2001-01-01 00:00:00 UTC.
    static func date(_ seconds: Double) -> Date { Date(timeIntervalSinceReferenceDate: seconds) }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at '\(keys.joined(separator: "."))'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "field '\(key.stringValue)' is missing\(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return context.debugDescription + path(context)
        @unknown default: return "\(error)"
        }
    }
}
