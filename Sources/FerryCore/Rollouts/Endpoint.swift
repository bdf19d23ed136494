import Foundation

/// A named entry point that spreads traffic over model versions by weight, optionally mirrors some of it to
/// shadow versions, and says what to answer when its versions cannot.
///
/// Clients call an endpoint exactly like a model (`/v2/models/{endpoint}/infer`); when an endpoint and a model
/// share a name, the endpoint wins.
public struct Endpoint: Sendable, Equatable, Codable {
    /// One model version and its share of traffic (weights are relative; they need not sum to 100).
    public struct Variant: Sendable, Equatable, Codable {
        public var model: String
        public var version: Int
        public var weight: Double

        public init(model: String, version: Int, weight: Double) {
            self.model = model
            self.version = version
            self.weight = weight
        }

        public var ref: VersionRef { VersionRef(model: model, version: version) }
    }

    /// A version that receives a copy of `share` (0–1) of the traffic; its answers are compared, never returned.
    public struct Shadow: Sendable, Equatable, Codable {
        public var model: String
        public var version: Int
        public var share: Double

        public init(model: String, version: Int, share: Double) {
            self.model = model
            self.version = version
            self.share = share
        }

        public var ref: VersionRef { VersionRef(model: model, version: version) }
    }

    /// What to answer when the endpoint's versions cannot (breaker open, timeout, failure of every variant).
    public struct Fallback: Sendable, Equatable, Codable {
        /// Another version to ask ...
        public var model: String?
        public var version: Int?
        /// ... or a static answer: this value for every row of the first output.
        public var value: Double?

        public init(model: String? = nil, version: Int? = nil, value: Double? = nil) {
            self.model = model
            self.version = version
            self.value = value
        }

        public var ref: VersionRef? { model.flatMap { m in version.map { VersionRef(model: m, version: $0) } } }
    }

    /// Opt-in cache of answers, keyed by version and canonical input.
    public struct Cache: Sendable, Equatable, Codable {
        public var maxEntries: Int
        public var ttlSeconds: Double
        /// Memory the cached keys and answers may take, in bytes (estimated from their sizes).
        public var maxBytes: Int

        public init(maxEntries: Int = 10_000, ttlSeconds: Double = 60, maxBytes: Int = 64 << 20) {
            self.maxEntries = maxEntries
            self.ttlSeconds = ttlSeconds
            self.maxBytes = maxBytes
        }

        enum CodingKeys: String, CodingKey { case maxEntries = "max_entries", ttlSeconds = "ttl_seconds", maxBytes = "max_bytes" }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxEntries = try c.decodeIfPresent(Int.self, forKey: .maxEntries) ?? 10_000
            ttlSeconds = try c.decodeIfPresent(Double.self, forKey: .ttlSeconds) ?? 60
            maxBytes = try c.decodeIfPresent(Int.self, forKey: .maxBytes) ?? 64 << 20
        }
    }

    public var name: String
    /// Candidates first: a sticky key keeps its variant while a rollout grows the first variant's weight.
    public var variants: [Variant]
    public var shadows: [Shadow]
    /// A request header whose value pins a caller to one variant (consistent hashing), e.g. `X-Customer-Id`.
    public var stickyHeader: String?
    /// Deadline of a request that names none, in milliseconds.
    public var timeoutMs: Int?
    public var fallback: Fallback?
    public var cache: Cache?
    public var createdBy: String
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case name, variants, shadows, fallback, cache, stickyHeader = "sticky_header", timeoutMs = "timeout_ms"
        case createdBy = "created_by", updatedAt = "updated_at"
    }

    public init(
        name: String, variants: [Variant], shadows: [Shadow] = [], stickyHeader: String? = nil, timeoutMs: Int? = nil,
        fallback: Fallback? = nil, cache: Cache? = nil, createdBy: String, updatedAt: Date
    ) {
        self.timeoutMs = timeoutMs
        self.fallback = fallback
        self.cache = cache
        self.name = name
        self.variants = variants
        self.shadows = shadows
        self.stickyHeader = stickyHeader
        self.createdBy = createdBy
        self.updatedAt = updatedAt
    }

    /// Checks names, weights and shares, naming the field at fault.
    public func validate() throws {
        try Model.validate(name: name, field: "endpoint name")
        guard !variants.isEmpty else { throw FerryError.invalid("field 'variants' must name at least one model version") }
        for (i, v) in variants.enumerated() {
            try Model.validate(name: v.model, field: "variants[\(i)].model")
            guard v.version > 0 else { throw FerryError.invalid("field 'variants[\(i)].version' must be a version number (1, 2, ...)") }
            guard v.weight >= 0, v.weight.isFinite else { throw FerryError.invalid("field 'variants[\(i)].weight' must be a number >= 0") }
        }
        guard variants.contains(where: { $0.weight > 0 }) else { throw FerryError.invalid("field 'variants' needs a variant with a weight above 0") }
        guard Set(variants.map(\.ref)).count == variants.count else { throw FerryError.invalid("field 'variants' names the same version twice") }
        for (i, s) in shadows.enumerated() {
            try Model.validate(name: s.model, field: "shadows[\(i)].model")
            guard s.version > 0 else { throw FerryError.invalid("field 'shadows[\(i)].version' must be a version number (1, 2, ...)") }
            guard (0...1).contains(s.share) else { throw FerryError.invalid("field 'shadows[\(i)].share' must be between 0 and 1") }
        }
        if let timeoutMs, !(1...3_600_000).contains(timeoutMs) {
            throw FerryError.invalid("field 'timeout_ms' must be between 1 and 3600000")
        }
        if let fallback {
            switch (fallback.model, fallback.version, fallback.value) {
            case (let model?, let version?, nil):
                try Model.validate(name: model, field: "fallback.model")
                guard version > 0 else { throw FerryError.invalid("field 'fallback.version' must be a version number (1, 2, ...)") }
            case (nil, nil, let value?):
                guard value.isFinite else { throw FerryError.invalid("field 'fallback.value' must be a finite number") }
            default:
                throw FerryError.invalid("field 'fallback' must be either {\"model\", \"version\"} or {\"value\"}")
            }
        }
        if let cache {
            guard (1...10_000_000).contains(cache.maxEntries) else { throw FerryError.invalid("field 'cache.max_entries' must be between 1 and 10000000") }
            guard cache.ttlSeconds > 0, cache.ttlSeconds.isFinite else { throw FerryError.invalid("field 'cache.ttl_seconds' must be a positive number") }
            guard cache.maxBytes >= 1 << 10 else { throw FerryError.invalid("field 'cache.max_bytes' must be at least 1024") }
        }
        if let stickyHeader, stickyHeader.isEmpty || !stickyHeader.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            throw FerryError.invalid("field 'sticky_header' must be a header name (letters, digits, '-')")
        }
    }

    /// The variant for a point in [0, 1): variants take consecutive slices of the unit interval by weight.
    public func variant(at point: Double) -> Variant {
        let total = variants.reduce(0) { $0 + $1.weight }
        var edge = 0.0
        for v in variants where v.weight > 0 {
            edge += v.weight / total
            if point < edge { return v }
        }
        return variants.last { $0.weight > 0 }!
    }

    /// A stable point in [0, 1) for a sticky key (64-bit FNV-1a), so one caller always lands in the same slice.
    public static func point(forKey key: some StringProtocol) -> Double {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        // Final avalanche so keys that differ in their last byte spread over the interval.
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return Double(hash >> 11) / Double(1 << 53)
    }
}

/// One version of one model.
public struct VersionRef: Sendable, Hashable, Codable, CustomStringConvertible {
    public var model: String
    public var version: Int

    public init(model: String, version: Int) {
        self.model = model
        self.version = version
    }

    public var description: String { "\(model)/\(version)" }
}
