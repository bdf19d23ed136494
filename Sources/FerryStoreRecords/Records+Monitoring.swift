import FerryCore
import Foundation

// Reference profiles (reference_profile.profile)

/// `reference_profile.profile`: a version's `ReferenceProfile`. Its keys are camelCase (`createdBy`, `createdAt`):
/// the domain type has no coding keys.
package struct ReferenceProfileRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    var schemaVersion: Int
    var rows: Int
    var features: [DistributionProfileRecord]
    var outputs: [DistributionProfileRecord]
    var createdBy: String
    /// Seconds since 2001-01-01.
    var createdAt: Double
    /// Rows of the sample in schema order (a missing value is null); absent in profiles stored before it was kept.
    var background: [[Double?]]?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case rows, features, outputs, createdBy = "createdBy", createdAt = "createdAt", background
    }

    package init(_ domain: ReferenceProfile) {
        schemaVersion = Self.currentSchemaVersion
        rows = domain.rows
        features = domain.features.map(DistributionProfileRecord.init)
        outputs = domain.outputs.map(DistributionProfileRecord.init)
        createdBy = domain.createdBy
        createdAt = Records.seconds(domain.createdAt)
        background = domain.background?.map { $0.map { $0.isNaN ? nil : $0 } }
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(
            in: c, forKey: .schemaVersion, record: "ReferenceProfileRecord", current: Self.currentSchemaVersion)
        rows = try c.decode(Int.self, forKey: .rows)
        features = try c.decode([DistributionProfileRecord].self, forKey: .features)
        outputs = try c.decode([DistributionProfileRecord].self, forKey: .outputs)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
        background = try c.decodeIfPresent([[Double?]].self, forKey: .background)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Self.currentSchemaVersion, forKey: .schemaVersion)
        try c.encode(rows, forKey: .rows)
        try c.encode(features, forKey: .features)
        try c.encode(outputs, forKey: .outputs)
        try c.encode(createdBy, forKey: .createdBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(background, forKey: .background)
    }

    package func domain() throws -> ReferenceProfile {
        var profile = ReferenceProfile(
            rows: rows, features: try features.map { try $0.domain() }, outputs: try outputs.map { try $0.domain() },
            createdBy: createdBy, createdAt: Records.date(createdAt))
        profile.background = background?.map { $0.map { $0 ?? .nan } }
        return profile
    }
}

/// One feature's or output's `DistributionProfile`. Its keys are the property names (`binCounts` is camelCase).
package struct DistributionProfileRecord: Codable, Sendable, Equatable {
    var name: String
    /// A `DistributionProfile.Kind` raw value: "numeric", "categorical".
    var kind: String
    var count: Int
    var missing: Int
    var mean: Double?
    var std: Double?
    var min: Double?
    var max: Double?
    var edges: [Double]?
    var binCounts: [Int]?
    var sample: [Double]?
    var categories: [String: Int]?

    enum CodingKeys: String, CodingKey {
        case name, kind, count, missing, mean, std, min, max, edges, binCounts = "binCounts", sample, categories
    }

    package init(_ domain: DistributionProfile) {
        name = domain.name
        kind = domain.kind.rawValue
        count = domain.count
        missing = domain.missing
        mean = domain.mean
        std = domain.std
        min = domain.min
        max = domain.max
        edges = domain.edges
        binCounts = domain.binCounts
        sample = domain.sample
        categories = domain.categories
    }

    package func domain() throws -> DistributionProfile {
        // `DistributionProfile` has no public memberwise initializer: start from an empty categorical profile and set
        // every stored property (all are public vars).
        var profile = DistributionProfile.categorical(name, [])
        profile.kind = try Records.parse(kind, as: DistributionProfile.Kind.self, field: "profile kind", in: "ReferenceProfileRecord")
        profile.count = count
        profile.missing = missing
        profile.mean = mean
        profile.std = std
        profile.min = min
        profile.max = max
        profile.edges = edges
        profile.binCounts = binCounts
        profile.sample = sample
        profile.categories = categories
        return profile
    }
}
