import Foundation

/// A compact description of one feature's (or output's) distribution, kept as a version's reference.
///
/// Numeric: count, missing, moments, decile bin edges and reference bin counts, and the sorted reference values
/// (all of them up to `sampleCap`, else `sampleCap` evenly spaced order statistics). Categorical: counts per value.
public struct DistributionProfile: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case numeric, categorical }

    public var name: String
    public var kind: Kind
    /// Non-missing values.
    public var count: Int
    public var missing: Int
    public var mean: Double?
    public var std: Double?
    public var min: Double?
    public var max: Double?
    public var edges: [Double]?
    public var binCounts: [Int]?
    public var sample: [Double]?
    public var categories: [String: Int]?

    public var missingRate: Double { count + missing == 0 ? 0 : Double(missing) / Double(count + missing) }

    /// Reference values kept for KS and Wasserstein. With more values than this, the profile keeps evenly spaced
    /// order statistics, which bounds the KS statistic's error by 1/sampleCap.
    public static let sampleCap = 10_000

    /// Deciles: the bin edges are the reference's 10%, ..., 90% quantiles (numpy 'linear'), duplicates removed.
    static let quantiles = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]

    public static func numeric(_ name: String, _ values: [Double], sampleCap: Int = sampleCap) -> DistributionProfile {
        let present = Statistics.sortedNonMissing(values)
        var p = DistributionProfile(name: name, kind: .numeric, count: present.count, missing: values.count - present.count)
        guard !present.isEmpty else { return p }
        let n = Double(present.count)
        let mean = present.reduce(0, +) / n
        p.mean = mean
        p.std = (present.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        p.min = present.first
        p.max = present.last
        var edges: [Double] = []
        for q in quantiles {
            let e = Statistics.quantile(sorted: present, q)
            if edges.last != e { edges.append(e) }
        }
        p.edges = edges
        p.binCounts = binCounts(sorted: present, edges: edges)
        p.sample = present.count <= sampleCap ? present : (0..<sampleCap).map { present[$0 * present.count / sampleCap] }
        return p
    }

    public static func categorical(_ name: String, _ values: [String?]) -> DistributionProfile {
        var counts: [String: Int] = [:]
        var missing = 0
        for v in values {
            if let v { counts[v, default: 0] += 1 } else { missing += 1 }
        }
        var p = DistributionProfile(name: name, kind: .categorical, count: values.count - missing, missing: missing)
        p.categories = counts
        return p
    }

    /// Bin counts of sorted values, where a value's bin is the number of edges strictly below it (numpy's
    /// `searchsorted(side='left')`): bin k ends after the last value ≤ edge k, found by binary search.
    static func binCounts(sorted values: [Double], edges: [Double]) -> [Int] {
        var counts: [Int] = []
        var previous = 0
        for e in edges {
            var lo = previous
            var hi = values.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if values[mid] <= e { lo = mid + 1 } else { hi = mid }
            }
            counts.append(lo - previous)
            previous = lo
        }
        counts.append(values.count - previous)
        return counts
    }
}

/// Drift of one feature or output between a reference and a current sample.
public struct DriftResult: Codable, Sendable, Equatable {
    public var name: String
    public var kind: DistributionProfile.Kind
    public var referenceCount: Int
    public var currentCount: Int
    public var missingRateReference: Double
    public var missingRateCurrent: Double
    public var missingRateChange: Double
    public var psi: Double
    public var jsDistance: Double
    public var ksStatistic: Double?
    public var ksPValue: Double?
    public var wasserstein: Double?
    public var chi2Statistic: Double?
    public var chi2PValue: Double?
    public var chi2DegreesOfFreedom: Int?
    public var referenceMean: Double?
    public var currentMean: Double?
    /// The distributions PSI compared, for pictures: each bin's share of the reference and of the current values
    /// (numeric: the reference's decile bins between `edges`; categorical: one bin per category, named).
    public var bins: Bins?

    public struct Bins: Codable, Sendable, Equatable {
        public var edges: [Double]?
        public var categories: [String]?
        public var reference: [Double]
        public var current: [Double]
    }

    enum CodingKeys: String, CodingKey {
        case bins
        case name, kind, psi, wasserstein
        case referenceCount = "reference_count", currentCount = "current_count"
        case missingRateReference = "missing_rate_reference", missingRateCurrent = "missing_rate_current"
        case missingRateChange = "missing_rate_change", jsDistance = "js_distance", ksStatistic = "ks_statistic"
        case ksPValue = "ks_pvalue", chi2Statistic = "chi2_statistic", chi2PValue = "chi2_pvalue"
        case chi2DegreesOfFreedom = "chi2_dof", referenceMean = "reference_mean", currentMean = "current_mean"
    }
}

public enum DriftAnalysis {
    /// Numeric drift of current values against a reference profile: PSI and Jensen–Shannon distance over the
    /// reference's decile bins; KS statistic, its asymptotic p-value (`kstwobign.sf(√(nm/(n+m))·D)`) and the
    /// Wasserstein distance against the reference's kept values; missing-rate change.
    public static func numeric(reference: DistributionProfile, current values: [Double]) -> DriftResult {
        let present = Statistics.sortedNonMissing(values)
        let missingCurrent = values.isEmpty ? 0 : Double(values.count - present.count) / Double(values.count)
        var result = DriftResult(
            name: reference.name, kind: .numeric, referenceCount: reference.count, currentCount: present.count,
            missingRateReference: reference.missingRate, missingRateCurrent: missingCurrent,
            missingRateChange: missingCurrent - reference.missingRate, psi: .nan, jsDistance: .nan)
        result.referenceMean = reference.mean
        if !present.isEmpty { result.currentMean = present.reduce(0, +) / Double(present.count) }
        guard let edges = reference.edges, let refCounts = reference.binCounts, let sample = reference.sample,
              reference.count > 0, !present.isEmpty else { return result }
        let curCounts = DistributionProfile.binCounts(sorted: present, edges: edges)
        let refProps = refCounts.map { Double($0) / Double(reference.count) }
        let curProps = curCounts.map { Double($0) / Double(present.count) }
        result.psi = Statistics.psi(reference: refProps, current: curProps)
        result.jsDistance = Statistics.jensenShannon(refProps, curProps)
        result.bins = DriftResult.Bins(edges: edges, categories: nil, reference: refProps, current: curProps)
        let d = Statistics.ksStatistic(sortedReference: sample, sortedCurrent: present)
        let n = Double(sample.count)
        let m = Double(present.count)
        result.ksStatistic = d
        result.ksPValue = Statistics.kolmogorovSurvival((n * m / (n + m)).squareRoot() * d)
        result.wasserstein = Statistics.wasserstein(sortedReference: sample, sortedCurrent: present)
        return result
    }

    /// Categorical drift: χ² test of homogeneity (statistic, p-value, degrees of freedom), PSI and Jensen–Shannon
    /// distance over the union of categories (sorted), and the missing-rate change.
    public static func categorical(reference: DistributionProfile, current values: [String?]) -> DriftResult {
        let current = DistributionProfile.categorical(reference.name, values)
        let refCounts = reference.categories ?? [:]
        let curCounts = current.categories ?? [:]
        let names = Set(refCounts.keys).union(curCounts.keys).sorted()
        let r = names.map { refCounts[$0] ?? 0 }
        let c = names.map { curCounts[$0] ?? 0 }
        var result = DriftResult(
            name: reference.name, kind: .categorical, referenceCount: reference.count, currentCount: current.count,
            missingRateReference: reference.missingRate, missingRateCurrent: current.missingRate,
            missingRateChange: current.missingRate - reference.missingRate, psi: .nan, jsDistance: .nan)
        guard reference.count > 0, current.count > 0 else { return result }
        let refProps = r.map { Double($0) / Double(reference.count) }
        let curProps = c.map { Double($0) / Double(current.count) }
        result.psi = Statistics.psi(reference: refProps, current: curProps)
        result.jsDistance = Statistics.jensenShannon(refProps, curProps)
        result.bins = DriftResult.Bins(edges: nil, categories: names, reference: refProps, current: curProps)
        let chi2 = Statistics.chiSquaredHomogeneity(r, c)
        result.chi2Statistic = chi2.statistic
        result.chi2PValue = chi2.pValue
        result.chi2DegreesOfFreedom = chi2.degreesOfFreedom
        return result
    }
}

/// What a version is compared against: its training or validation sample, profiled.
public struct ReferenceProfile: Codable, Sendable, Equatable {
    public var rows: Int
    public var features: [DistributionProfile]
    public var outputs: [DistributionProfile]
    public var createdBy: String
    public var createdAt: Date
    /// Up to `backgroundRows` rows of the sample in schema order (NaN where missing), spread evenly over it: what
    /// explanations that need a background (interventional TreeSHAP of ONNX tree ensembles) measure against.
    public var background: [[Double]]?

    /// Most rows kept as the background.
    public static let backgroundRows = 100

    public init(rows: Int, features: [DistributionProfile], outputs: [DistributionProfile], createdBy: String, createdAt: Date) {
        self.rows = rows
        self.features = features
        self.outputs = outputs
        self.createdBy = createdBy
        self.createdAt = createdAt
    }
}

/// Drift of every feature and output of a version over a window of traffic.
public struct DriftReport: Codable, Sendable, Equatable {
    public var model: String
    public var version: Int
    /// "reference" or the compared window.
    public var against: String
    public var referenceRows: Int
    public var currentRows: Int
    public var features: [DriftResult]
    public var outputs: [DriftResult]
    /// Per period of prediction time, when asked for: each period's rows against the same reference.
    public var series: [Period]?

    /// One period's drift (`series`).
    public struct Period: Codable, Sendable, Equatable {
        public var start: Date
        public var end: Date
        public var rows: Int
        public var features: [DriftResult]
        public var outputs: [DriftResult]

        public init(start: Date, end: Date, rows: Int, features: [DriftResult], outputs: [DriftResult]) {
            self.start = start
            self.end = end
            self.rows = rows
            self.features = features
            self.outputs = outputs
        }
    }

    public init(model: String, version: Int, against: String, referenceRows: Int, currentRows: Int, features: [DriftResult], outputs: [DriftResult]) {
        self.model = model
        self.version = version
        self.against = against
        self.referenceRows = referenceRows
        self.currentRows = currentRows
        self.features = features
        self.outputs = outputs
    }

    enum CodingKeys: String, CodingKey {
        case model, version, against, features, outputs, series
        case referenceRows = "reference_rows", currentRows = "current_rows"
    }
}
