import FerryCore
import Foundation

/// The column encodings every store shares: JSON text with sorted keys for plain values (tags, params, metrics), and
/// times as integer milliseconds since 1970 (so they come back rounded to the millisecond).
package protocol StoreCoding {}

extension StoreCoding {
    package static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func decode<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// `model_version.feature_refs`: a JSON list of `view:feature` texts.
    package static func featureRefs(_ text: String) throws -> [FeatureRef] {
        try (decode(text) as [String]).map { try FeatureRef(parsing: $0, field: "a stored version's feature_refs") }
    }

    /// 32 random bytes as hex: a secret key made once per deployment (the log's hash key).
    package static func freshKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexString
    }

    package static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    package static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }
}
