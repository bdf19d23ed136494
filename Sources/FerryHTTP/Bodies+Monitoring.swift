import FerryCore
import FerryEngine
import Foundation

// Monitoring: response bodies copying domain types field by field (see `ControlPlaneBodies.swift`).
extension API {
    /// A version's reference profile: answers `PUT` and `GET /api/v1/models/{name}/versions/{version}/reference`.
    /// `createdBy` and `createdAt` are camelCase on the wire (the domain type never had coding keys); kept as they are.
    struct ReferenceProfileBody: Encodable, Sendable {
        var rows: Int
        var features: [DistributionProfileBody]
        var outputs: [DistributionProfileBody]
        var createdBy: String
        var createdAt: Date

        enum CodingKeys: String, CodingKey {
            case rows, features, outputs, createdBy = "createdBy", createdAt = "createdAt"
        }

        init(_ domain: ReferenceProfile) {
            rows = domain.rows
            features = domain.features.map(DistributionProfileBody.init)
            outputs = domain.outputs.map(DistributionProfileBody.init)
            createdBy = domain.createdBy
            createdAt = domain.createdAt
        }
    }

    /// One feature's or output's profile (`ReferenceProfileBody.features` / `.outputs`). `kind` is `numeric` or
    /// `categorical`; `binCounts` is camelCase on the wire (no coding keys in the domain type); nil fields are left out.
    struct DistributionProfileBody: Encodable, Sendable {
        var name: String
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

        init(_ domain: DistributionProfile) {
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
    }

    /// Drift of every feature and output of a version: answers `GET /api/v1/models/{name}/drift`.
    struct DriftReportBody: Encodable, Sendable {
        var model: String
        var version: Int
        var against: String
        var referenceRows: Int
        var currentRows: Int
        var features: [DriftResultBody]
        var outputs: [DriftResultBody]
        /// Per period of prediction time, when asked with `every` (without bins).
        var series: [Period]?

        /// One period's drift (`series`).
        struct Period: Encodable, Sendable {
            var start: Date
            var end: Date
            var rows: Int
            var features: [DriftResultBody]
            var outputs: [DriftResultBody]
        }

        enum CodingKeys: String, CodingKey {
            case model, version, against, features, outputs, series
            case referenceRows = "reference_rows", currentRows = "current_rows"
        }

        init(_ domain: DriftReport) {
            model = domain.model
            version = domain.version
            against = domain.against
            referenceRows = domain.referenceRows
            currentRows = domain.currentRows
            features = domain.features.map(DriftResultBody.init)
            outputs = domain.outputs.map(DriftResultBody.init)
            series = domain.series?.map {
                Period(start: $0.start, end: $0.end, rows: $0.rows, features: $0.features.map(DriftResultBody.init), outputs: $0.outputs.map(DriftResultBody.init))
            }
        }
    }

    /// Drift of one feature or output (`DriftReportBody.features` / `.outputs`). `kind` is `numeric` or `categorical`;
    /// the statistics a kind does not have are left out.
    struct DriftResultBody: Encodable, Sendable {
        var name: String
        var kind: String
        var referenceCount: Int
        var currentCount: Int
        var missingRateReference: Double
        var missingRateCurrent: Double
        var missingRateChange: Double
        var psi: Double
        var jsDistance: Double
        var ksStatistic: Double?
        var ksPValue: Double?
        var wasserstein: Double?
        var chi2Statistic: Double?
        var chi2PValue: Double?
        var chi2DegreesOfFreedom: Int?
        var referenceMean: Double?
        var currentMean: Double?
        var bins: DriftResult.Bins?

        enum CodingKeys: String, CodingKey {
            case bins
            case name, kind, psi, wasserstein
            case referenceCount = "reference_count", currentCount = "current_count"
            case missingRateReference = "missing_rate_reference", missingRateCurrent = "missing_rate_current"
            case missingRateChange = "missing_rate_change", jsDistance = "js_distance", ksStatistic = "ks_statistic"
            case ksPValue = "ks_pvalue", chi2Statistic = "chi2_statistic", chi2PValue = "chi2_pvalue"
            case chi2DegreesOfFreedom = "chi2_dof", referenceMean = "reference_mean", currentMean = "current_mean"
        }

        init(_ domain: DriftResult) {
            name = domain.name
            kind = domain.kind.rawValue
            referenceCount = domain.referenceCount
            currentCount = domain.currentCount
            missingRateReference = domain.missingRateReference
            missingRateCurrent = domain.missingRateCurrent
            missingRateChange = domain.missingRateChange
            psi = domain.psi
            jsDistance = domain.jsDistance
            ksStatistic = domain.ksStatistic
            ksPValue = domain.ksPValue
            wasserstein = domain.wasserstein
            chi2Statistic = domain.chi2Statistic
            chi2PValue = domain.chi2PValue
            chi2DegreesOfFreedom = domain.chi2DegreesOfFreedom
            referenceMean = domain.referenceMean
            currentMean = domain.currentMean
            bins = domain.bins
        }
    }

    /// A version's performance on predictions with ground truth: answers `GET /api/v1/models/{name}/performance`.
    /// `task` is `binary_classification`, `multiclass_classification` or `regression`; `segments` is left out unless
    /// `segment_by` was asked for.
    struct PerformanceSummaryBody: Encodable, Sendable {
        var model: String
        var version: Int
        var task: String
        var overall: PerformanceReportBody
        var unmatchedFeedback: Int
        var segments: [PerformanceSegmentBody]?
        /// Per period of prediction time, when asked with `every`.
        var series: [Period]?

        /// One period's scores (`series`).
        struct Period: Encodable, Sendable {
            var start: Date
            var end: Date
            var overall: PerformanceReportBody
            var segments: [PerformanceSegmentBody]?
        }

        enum CodingKeys: String, CodingKey {
            case model, version, task, overall, segments, series
            case unmatchedFeedback = "unmatched_feedback"
        }

        init(_ domain: PerformanceSummary) {
            model = domain.model
            version = domain.version
            task = domain.task.rawValue
            overall = PerformanceReportBody(domain.overall)
            unmatchedFeedback = domain.unmatchedFeedback
            segments = domain.segments.map { $0.map(PerformanceSegmentBody.init) }
            series = domain.series?.map {
                Period(start: $0.start, end: $0.end, overall: PerformanceReportBody($0.overall), segments: $0.segments.map { $0.map(PerformanceSegmentBody.init) })
            }
        }
    }

    /// `GET /api/v1/models/{name}/traffic`: a model's requests, errors, latency percentiles, predictions and serving
    /// CPU per period, over every replica.
    struct TrafficBody: Encodable, Sendable {
        struct Period: Encodable, Sendable {
            var start: Date
            var end: Date
            var requests: Int64
            var errors: Int64
            var errorRate: Double?
            var p50Ms: Double?
            var p90Ms: Double?
            var p99Ms: Double?
            var predictions: Int64
            var cpuSeconds: Double

            enum CodingKeys: String, CodingKey {
                case start, end, requests, errors, predictions
                case errorRate = "error_rate", p50Ms = "p50_ms", p90Ms = "p90_ms", p99Ms = "p99_ms", cpuSeconds = "cpu_seconds"
            }
        }

        var model: String
        var since: Date
        var until: Date
        var every: Double
        var periods: [Period]

        init(model: String, since: Date, until: Date, every: Double, periods: [TrafficPeriod]) {
            self.model = model
            self.since = since
            self.until = until
            self.every = every
            self.periods = periods.map {
                Period(
                    start: $0.start, end: $0.end, requests: $0.requests, errors: $0.errors, errorRate: $0.errorRate,
                    p50Ms: $0.p50Seconds.map { $0 * 1000 }, p90Ms: $0.p90Seconds.map { $0 * 1000 }, p99Ms: $0.p99Seconds.map { $0 * 1000 },
                    predictions: $0.predictions, cpuSeconds: $0.cpuSeconds)
            }
        }
    }

    /// One cohort's scores (`PerformanceSummaryBody.segments`).
    struct PerformanceSegmentBody: Encodable, Sendable {
        var segment: String
        var report: PerformanceReportBody

        enum CodingKeys: String, CodingKey {
            case segment, report
        }

        init(_ domain: PerformanceSummary.Segment) {
            segment = domain.segment
            report = PerformanceReportBody(domain.report)
        }
    }

    /// Scores against ground truth (`PerformanceSummaryBody.overall`, `PerformanceSegmentBody.report`); the scores a
    /// task does not have are left out.
    struct PerformanceReportBody: Encodable, Sendable {
        var count: Int
        var accuracy: Double?
        var precision: Double?
        var recall: Double?
        var f1: Double?
        var rocAUC: Double?
        var logLoss: Double?
        var rmse: Double?
        var mae: Double?
        var r2: Double?

        enum CodingKeys: String, CodingKey {
            case count, accuracy, precision, recall, f1, rmse, mae, r2
            case rocAUC = "roc_auc", logLoss = "log_loss"
        }

        init(_ domain: PerformanceReport) {
            count = domain.count
            accuracy = domain.accuracy
            precision = domain.precision
            recall = domain.recall
            f1 = domain.f1
            rocAUC = domain.rocAUC
            logLoss = domain.logLoss
            rmse = domain.rmse
            mae = domain.mae
            r2 = domain.r2
        }
    }

    /// `GET /api/v1/models/{name}/fairness`: fairlearn's group metrics of a binary classifier's decisions.
    struct FairnessBody: Encodable, Sendable {
        struct Rates: Encodable, Sendable {
            var count: Int
            var selectionRate: Double
            var truePositiveRate: Double
            var falsePositiveRate: Double
            var accuracy: Double

            enum CodingKeys: String, CodingKey {
                case count, accuracy
                case selectionRate = "selection_rate", truePositiveRate = "true_positive_rate", falsePositiveRate = "false_positive_rate"
            }

            init(_ r: FairnessReport.Rates) {
                count = r.count
                selectionRate = r.selectionRate
                truePositiveRate = r.truePositiveRate
                falsePositiveRate = r.falsePositiveRate
                accuracy = r.accuracy
            }
        }

        var model: String
        var version: Int
        var attribute: String
        var threshold: Double
        var overall: Rates
        var byGroup: [String: Rates]
        var demographicParityDifference: Double
        var demographicParityRatio: Double?
        var equalOpportunityDifference: Double
        var equalOpportunityRatio: Double?
        var equalizedOddsDifference: Double
        var equalizedOddsRatio: Double?
        var accuracyDifference: Double
        /// Per period of prediction time, when asked with `every`.
        var series: [Period]?

        /// One period's figures (`series`).
        struct Period: Encodable, Sendable {
            var start: Date
            var end: Date
            var count: Int
            var demographicParityDifference: Double
            var equalOpportunityDifference: Double
            var equalizedOddsDifference: Double
            var accuracyDifference: Double

            enum CodingKeys: String, CodingKey {
                case start, end, count
                case demographicParityDifference = "demographic_parity_difference", equalOpportunityDifference = "equal_opportunity_difference"
                case equalizedOddsDifference = "equalized_odds_difference", accuracyDifference = "accuracy_difference"
            }

            init(_ p: ModelMonitor.FairnessPeriod) {
                start = p.start
                end = p.end
                count = p.report.overall.count
                demographicParityDifference = p.report.demographicParityDifference
                equalOpportunityDifference = p.report.equalOpportunityDifference
                equalizedOddsDifference = p.report.equalizedOddsDifference
                accuracyDifference = p.report.accuracyDifference
            }
        }

        enum CodingKeys: String, CodingKey {
            case model, version, attribute, threshold, overall, series
            case byGroup = "by_group", demographicParityDifference = "demographic_parity_difference",
                 demographicParityRatio = "demographic_parity_ratio", equalOpportunityDifference = "equal_opportunity_difference",
                 equalOpportunityRatio = "equal_opportunity_ratio", equalizedOddsDifference = "equalized_odds_difference",
                 equalizedOddsRatio = "equalized_odds_ratio", accuracyDifference = "accuracy_difference"
        }

        /// Undefined ratios are written as null, not left out.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(model, forKey: .model)
            try c.encode(version, forKey: .version)
            try c.encode(attribute, forKey: .attribute)
            try c.encode(threshold, forKey: .threshold)
            try c.encode(overall, forKey: .overall)
            try c.encode(byGroup, forKey: .byGroup)
            try c.encode(demographicParityDifference, forKey: .demographicParityDifference)
            try c.encode(demographicParityRatio, forKey: .demographicParityRatio)
            try c.encode(equalOpportunityDifference, forKey: .equalOpportunityDifference)
            try c.encode(equalOpportunityRatio, forKey: .equalOpportunityRatio)
            try c.encode(equalizedOddsDifference, forKey: .equalizedOddsDifference)
            try c.encode(equalizedOddsRatio, forKey: .equalizedOddsRatio)
            try c.encode(accuracyDifference, forKey: .accuracyDifference)
            try c.encodeIfPresent(series, forKey: .series)
        }

        init(model: String, version: Int, attribute: String, threshold: Double, _ r: FairnessReport) {
            self.model = model
            self.version = version
            self.attribute = attribute
            self.threshold = threshold
            overall = Rates(r.overall)
            byGroup = r.byGroup.mapValues(Rates.init)
            demographicParityDifference = r.demographicParityDifference
            demographicParityRatio = r.demographicParityRatio
            equalOpportunityDifference = r.equalOpportunityDifference
            equalOpportunityRatio = r.equalOpportunityRatio
            equalizedOddsDifference = r.equalizedOddsDifference
            equalizedOddsRatio = r.equalizedOddsRatio
            accuracyDifference = r.accuracyDifference
        }
    }
}
