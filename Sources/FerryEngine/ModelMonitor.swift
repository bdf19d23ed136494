import FerryCore
import Foundation

/// Watches served versions: reference profiles and drift (a version's training or validation sample, inputs and
/// the model's own outputs on them, compared with windows of logged traffic or with another window), and
/// performance against delayed ground truth.
public final class ModelMonitor: Sendable {
    /// A window of logged traffic.
    public enum Window: Sendable, Equatable {
        case last(Int)
        case range(since: Date?, until: Date?)
    }

    public let registry: Registry
    public let models: ModelManager
    public let log: any PredictionLog
    /// The writer in front of `log`: feedback waits for queued predictions to be written, so a label sent right
    /// after its prediction matches it.
    private let writer: PredictionLogger?
    private let now: @Sendable () -> Date

    /// Most logged requests read for one window.
    public static let maxWindowRequests = 1_000_000

    public init(
        registry: Registry, models: ModelManager, log: any PredictionLog, writer: PredictionLogger? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.writer = writer
        self.registry = registry
        self.models = models
        self.log = log
        self.now = now
    }

    /// Profiles `instances` (validated against the version's schema) and the version's predictions on them, and
    /// stores the result as the version's reference.
    public func setReference(model: String, version number: Int, instances: [Instance], by: String) async throws -> ReferenceProfile {
        guard !instances.isEmpty else { throw FerryError.invalid("the reference sample is empty; send at least one row") }
        let version = try await registry.version(model: model, number: number)
        let served = try await models.served(model: model, selector: .number(number))
        let batch = try version.inputSchema.matrix(from: instances, limits: InferenceLimits(maxRows: 1_000_000, maxElements: 200_000_000))
        // Through the version's own path: a remote version predicts remotely.
        let outputs = try await served.predict(batch)
        var profile = ReferenceProfile(
            rows: batch.rows,
            features: version.inputSchema.features.enumerated().map { c, feature in
                guard !feature.isText else {
                    return .categorical(feature.name, (0..<batch.rows).map { r in batch.text(row: r, column: c).map { String(decoding: $0, as: UTF8.self) } })
                }
                return Self.profile(feature, (0..<batch.rows).map { batch[$0, c] })
            },
            outputs: Self.outputColumns(outputs, rows: batch.rows).map { DistributionProfile.numeric($0.name, $0.values) },
            createdBy: by, createdAt: now())
        // Hashed and redacted inputs are never kept as values.
        let kept = min(batch.rows, ReferenceProfile.backgroundRows)
        profile.background = (0..<kept).map { k in
            let r = k * batch.rows / kept
            return version.inputSchema.features.indices.map { c in version.inputSchema.features[c].sensitive == nil ? batch[r, c] : .nan }
        }
        let time = now()
        try await registry.store.setReferenceProfile(model: model, version: number, profile: profile) { profile in
            AuditDraft(
                at: time, actor: by, action: "reference.set", target: "\(model)/\(number)",
                after: ["rows": .number(Double(profile.rows)), "features": .number(Double(profile.features.count))])
        }
        return profile
    }

    public func reference(model: String, version: Int) async throws -> ReferenceProfile {
        _ = try await registry.version(model: model, number: version)
        guard let profile = try await registry.store.referenceProfile(model: model, version: version) else {
            throw FerryError.notFound("version \(version) of model '\(model)' has no reference profile; upload its training or validation sample first")
        }
        return profile
    }

    /// Drift of a version's logged traffic in `window`, against its reference profile or against another window;
    /// with `every` (seconds), each period of the window against the same reference too (`series`).
    public func drift(model: String, version number: Int?, window: Window, against baseline: Window? = nil, every: TimeInterval? = nil) async throws -> DriftReport {
        if let every { try Periods.check(every) }
        let resolved = try await models.served(model: model, selector: number.map { .number($0) } ?? .default)
        let version = resolved.version
        let current = try await records(model: model, version: version.version, window)
        guard !current.isEmpty else {
            throw FerryError(.failedPrecondition, "no logged predictions of version \(version.version) of model '\(model)' in that window")
        }
        let features = version.inputSchema.features
        let reference: ReferenceProfile
        let against: String
        if let baseline {
            let rows = try await records(model: model, version: version.version, baseline)
            guard !rows.isEmpty else { throw FerryError(.failedPrecondition, "no logged predictions in the baseline window") }
            reference = ReferenceProfile(
                rows: rows.reduce(0) { $0 + $1.inputs.count },
                features: features.enumerated().map { c, f in
                    f.isText ? .categorical(f.name, Self.texts(rows, c)) : Self.profile(f, Self.column(rows, c), sampleCap: Int.max)
                },
                outputs: Self.loggedOutputs(rows, names: version.outputSchema).map {
                    DistributionProfile.numeric($0.name, $0.values, sampleCap: Int.max)
                },
                createdBy: "", createdAt: now())
            against = "window"
        } else {
            reference = try await self.reference(model: model, version: version.version)
            against = "reference"
        }
        let (featureResults, outputResults) = await Self.compare(current, with: reference, version)
        var report = DriftReport(
            model: model, version: version.version, against: against, referenceRows: reference.rows,
            currentRows: current.reduce(0) { $0 + $1.inputs.count }, features: featureResults, outputs: outputResults)
        if let every {
            var series: [DriftReport.Period] = []
            for period in Periods.group(current, every: every, at: \.at) {
                let (f, o) = await Self.compare(period.items, with: reference, version)
                // A period's bins are left out: the whole window's are drawn, the periods give the statistics.
                series.append(DriftReport.Period(
                    start: period.start, end: period.end, rows: period.items.reduce(0) { $0 + $1.inputs.count },
                    features: f.map { var r = $0; r.bins = nil; return r }, outputs: o.map { var r = $0; r.bins = nil; return r }))
            }
            report.series = series
        }
        return report
    }

    /// Each feature (hashed ones aside) and output of `records` against `reference`.
    static func compare(_ records: [PredictionRecord], with reference: ReferenceProfile, _ version: ModelVersion) async -> (features: [DriftResult], outputs: [DriftResult]) {
        let features = version.inputSchema.features
        // Features are independent: compute them in parallel (benchmarks/drift: 0.31 s on 2 threads against 0.46 s on
        // one for 1M rows × 30 features).
        let featureResults = await withTaskGroup(of: (Int, DriftResult).self) { group in
            for (c, feature) in features.enumerated() where feature.sensitive != .hash && c < reference.features.count {
                let profile = reference.features[c]
                group.addTask {
                    guard !feature.isText else { return (c, DriftAnalysis.categorical(reference: profile, current: Self.texts(records, c))) }
                    return (c, Self.drift(profile, feature, Self.column(records, c)))
                }
            }
            var results: [(Int, DriftResult)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let outputColumns = Self.loggedOutputs(records, names: version.outputSchema)
        let outputResults = zip(reference.outputs, outputColumns).map { DriftAnalysis.numeric(reference: $0, current: $1.values) }
        return (featureResults, outputResults)
    }

    // MARK: Logged predictions

    /// A model's logged predictions, newest first, optionally of one version and within a time range.
    public func predictions(model: String, version: Int?, since: Date?, until: Date?, limit: Int) async throws -> [PredictionRecord] {
        _ = try await registry.model(named: model)
        return try await log.records(model: model, version: version, since: since, until: until, limit: limit)
    }

    /// One logged prediction; `.notFound` when it was never logged, sampled out or expired.
    public func prediction(id: String) async throws -> PredictionRecord {
        await writer?.flush()
        guard let record = try await log.record(id: id) else {
            throw FerryError.notFound("no logged prediction has id '\(id)' (it may have been sampled out or expired)")
        }
        return record
    }

    // MARK: Performance

    /// Records ground truth; returns how many items match a logged prediction row.
    public func addFeedback(_ items: [Feedback]) async throws -> (matched: Int, unmatched: Int) {
        for item in items {
            guard item.label.isFinite else { throw FerryError.invalid("feedback for '\(item.predictionID)': label must be a finite number") }
            guard item.row >= 0 else { throw FerryError.invalid("feedback for '\(item.predictionID)': row must be 0 or more") }
        }
        await writer?.flush()
        let matched = try await log.addFeedback(items)
        return (matched, items.count - matched)
    }

    /// Scores of a version's predictions that have ground truth, overall and per cohort of `segmentBy`
    /// (categories of a categorical feature, or quartiles of a numeric one over the scored rows).
    /// With `every` (seconds), the same scores per period of prediction time too (`series`; periods without
    /// labelled predictions are left out).
    public func performance(model: String, version number: Int?, window: Window, segmentBy: String? = nil, every: TimeInterval? = nil) async throws -> PerformanceSummary {
        if let every { try Periods.check(every) }
        let served = try await models.served(model: model, selector: number.map { .number($0) } ?? .default)
        let version = served.version
        let (since, until, limit): (Date?, Date?, Int) = switch window {
        case .last(let n): (nil, nil, n)
        case .range(let s, let u): (s, u, Self.maxWindowRequests)
        }
        let labeled = try await log.labeled(model: model, version: version.version, since: since, until: until, limit: limit)
        let task = Self.task(version)
        var summary = PerformanceSummary(
            model: model, version: version.version, task: task, overall: Self.score(labeled, task),
            unmatchedFeedback: try await log.unmatchedFeedbackCount(), segments: nil)
        var cohortOf: [String]?
        if let segmentBy {
            guard let c = version.inputSchema.features.firstIndex(where: { $0.name == segmentBy }) else {
                throw FerryError.invalid("segment_by '\(segmentBy)' is not a feature of this model")
            }
            let feature = version.inputSchema.features[c]
            let values = labeled.map { row -> Double in
                if c < row.inputs.count, case .number(let v) = row.inputs[c] { return v }
                return .nan
            }
            var cohorts: [String] = []
            if let categories = feature.categories {
                cohorts = values.map { Self.names([$0], categories)[0] ?? "missing" }
            } else {
                let present = values.filter { !$0.isNaN }.sorted()
                let edges = present.isEmpty ? [] : [0.25, 0.5, 0.75].map { Statistics.quantile(sorted: present, $0) }
                // Edges print to 6 significant digits (0.0599183, not 0.05991828069090843) unless that would merge two.
                let short = edges.map { String(format: "%.6g", $0) }
                let shown = Set(short).count == Set(edges).count ? short : edges.map { "\($0)" }
                func label(_ v: Double) -> String {
                    guard !v.isNaN else { return "missing" }
                    guard let k = edges.firstIndex(where: { v <= $0 }) else { return "> \(shown.last!)" }
                    return k == 0 ? "<= \(shown[0])" : "(\(shown[k - 1]), \(shown[k])]"
                }
                cohorts = values.map(label)
            }
            cohortOf = cohorts
            summary.segments = Self.segments(Array(labeled.indices), labeled, cohorts, task)
        }
        if let every {
            summary.series = Periods.group(Array(labeled.indices), every: every, at: { labeled[$0].at }).map { period in
                PerformanceSummary.Period(
                    start: period.start, end: period.end, overall: Self.score(period.items.map { labeled[$0] }, task),
                    segments: cohortOf.map { Self.segments(period.items, labeled, $0, task) })
            }
        }
        return summary
    }

    /// The scores of rows `indices` of `labeled` per cohort (`cohorts[i]` is row i's), cohorts in name order.
    static func segments(_ indices: [Int], _ labeled: [LabeledPrediction], _ cohorts: [String], _ task: ModelTask) -> [PerformanceSummary.Segment] {
        var groups: [String: [LabeledPrediction]] = [:]
        for i in indices { groups[cohorts[i], default: []].append(labeled[i]) }
        return groups.keys.sorted().map { PerformanceSummary.Segment(segment: $0, report: Self.score(groups[$0]!, task)) }
    }

    /// Group fairness of a binary classifier's logged decisions (probability >= `threshold`) against ground truth,
    /// with groups by the value of `attribute` as logged (a category name, a number, or the hash of a sensitive
    /// feature logged hashed: groups are compared by value).
    public func fairness(
        model: String, version number: Int?, window: Window, attribute: String, threshold: Double = 0.5
    ) async throws -> (version: Int, report: FairnessReport) {
        let (version, report, _) = try await fairness(model: model, version: number, window: window, attribute: attribute, threshold: threshold, every: nil)
        return (version, report)
    }

    /// The same fairness figures over the whole window and, with `every` (seconds), per period of prediction time
    /// (periods aligned to multiples of `every`, oldest first; periods without labelled predictions are left out).
    public func fairness(
        model: String, version number: Int?, window: Window, attribute: String, threshold: Double = 0.5, every: TimeInterval?
    ) async throws -> (version: Int, report: FairnessReport, series: [FairnessPeriod]) {
        let version = try await models.served(model: model, selector: number.map { .number($0) } ?? .default).version
        guard Self.task(version) == .binaryClassification else {
            throw FerryError(.failedPrecondition, "fairness needs a binary classifier; model '\(model)' version \(version.version) is \(Self.task(version).rawValue)")
        }
        try version.inputSchema.checkFairnessAttribute(attribute, field: "attribute", model: model, version: version.version)
        let c = version.inputSchema.features.firstIndex { $0.name == attribute }!
        guard (0...1).contains(threshold) else { throw FerryError.invalid("threshold must be between 0 and 1") }
        let (since, until, limit): (Date?, Date?, Int) = switch window {
        case .last(let n): (nil, nil, n)
        case .range(let s, let u): (s, u, Self.maxWindowRequests)
        }
        let labeled = try await log.labeled(model: model, version: version.version, since: since, until: until, limit: limit)
        guard !labeled.isEmpty else {
            throw FerryError(.failedPrecondition, "model '\(model)' version \(version.version) has no predictions with ground truth in this window; post feedback first")
        }
        let categories = version.inputSchema.features[c].categories
        let groups = labeled.map { row -> String in
            guard c < row.inputs.count else { return "missing" }
            switch row.inputs[c] {
            case .number(let v):
                if let categories { return Self.names([v], categories)[0] ?? "missing" }
                return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
            case .string(let s): return s
            case .bool(let b): return "\(b)"
            default: return "missing"
            }
        }
        // A label of 0.5 or more is positive, as performance reads it (a stray 2 or 0.7 is not read two ways).
        let labels = labeled.map { $0.label >= 0.5 ? 1 : 0 }
        let predictions = labeled.map { (Self.positiveScore($0.output) ?? 0) >= threshold ? 1 : 0 }
        let report = try FairnessReport(labels: labels, predictions: predictions, groups: groups)
        guard let every else { return (version.version, report, []) }
        try Periods.check(every)
        let series = try Periods.group(Array(labeled.indices), every: every, at: { labeled[$0].at }).map { period in
            let rows = period.items
            return FairnessPeriod(
                start: period.start, end: period.end,
                report: try FairnessReport(labels: rows.map { labels[$0] }, predictions: rows.map { predictions[$0] }, groups: rows.map { groups[$0] }))
        }
        return (version.version, report, series)
    }

    public struct FairnessPeriod: Sendable {
        public var start: Date
        public var end: Date
        public var report: FairnessReport
    }

    /// A binary classifier's score for the positive class: its one output, or the second of two (probabilities
    /// of both classes, as scikit-learn pipelines answer).
    static func positiveScore(_ output: [Double]) -> Double? {
        output.count == 2 ? output[1] : output.first
    }

    static func task(_ version: ModelVersion) -> ModelTask {
        if case .string(let text)? = version.details["task"], let task = ModelTask(rawValue: text) { return task }
        return .regression
    }

    static func score(_ rows: [LabeledPrediction], _ task: ModelTask) -> PerformanceReport {
        switch task {
        case .binaryClassification:
            return .binary(probabilities: rows.map { positiveScore($0.output) ?? .nan }, labels: rows.map(\.label))
        case .multiclassClassification:
            // multi:softmax logs the class index; score it as a certain prediction of that class.
            let width = rows.map(\.output.count).max() ?? 0
            let classes = width > 1 ? width : Int((rows.map { max($0.label, $0.output.first ?? 0) }.max() ?? 0)) + 1
            let probabilities = rows.map { row -> [Double] in
                if row.output.count > 1 { return row.output }
                var oneHot = [Double](repeating: 0, count: classes)
                let c = Int(row.output.first ?? 0)
                if c >= 0 && c < classes { oneHot[c] = 1 }
                return oneHot
            }
            return .multiclass(probabilities: probabilities, labels: rows.map(\.label))
        case .regression:
            return .regression(predictions: rows.map { $0.output.first ?? .nan }, targets: rows.map(\.label))
        }
    }

    // MARK: Columns

    func records(model: String, version: Int, _ window: Window) async throws -> [PredictionRecord] {
        switch window {
        case .last(let n):
            guard n > 0 else { throw FerryError.invalid("the window must hold at least one prediction") }
            return try await log.records(model: model, version: version, since: nil, until: nil, limit: min(n, Self.maxWindowRequests))
        case .range(let since, let until):
            if let since, let until, since >= until { throw FerryError.invalid("the window's since must be before its until") }
            return try await log.records(model: model, version: version, since: since, until: until, limit: Self.maxWindowRequests)
        }
    }

    /// A feature's logged values (codes for categorical features); redacted and hashed values read as missing.
    static func column(_ records: [PredictionRecord], _ c: Int) -> [Double] {
        var values: [Double] = []
        for record in records {
            for row in record.inputs {
                if c < row.count, case .number(let v) = row[c] { values.append(v) } else { values.append(.nan) }
            }
        }
        return values
    }

    /// A text feature's logged values; redacted and hashed values read as missing.
    static func texts(_ records: [PredictionRecord], _ c: Int) -> [String?] {
        records.flatMap { record in
            record.inputs.map { row -> String? in
                guard c < row.count, case .string(let text) = row[c], !text.hasPrefix("hmac:"), !text.hasPrefix("sha256:") else { return nil }
                return text
            }
        }
    }

    static func profile(_ feature: FeatureSpec, _ values: [Double], sampleCap: Int = DistributionProfile.sampleCap) -> DistributionProfile {
        guard let categories = feature.categories else { return .numeric(feature.name, values, sampleCap: sampleCap) }
        return .categorical(feature.name, names(values, categories))
    }

    static func drift(_ reference: DistributionProfile, _ feature: FeatureSpec, _ values: [Double]) -> DriftResult {
        switch reference.kind {
        case .numeric: DriftAnalysis.numeric(reference: reference, current: values)
        case .categorical: DriftAnalysis.categorical(reference: reference, current: names(values, feature.categories ?? []))
        }
    }

    static func names(_ codes: [Double], _ categories: [String]) -> [String?] {
        codes.map { v in
            guard !v.isNaN else { return nil }
            let i = Int(v)
            return i >= 0 && i < categories.count ? categories[i] : String(i)
        }
    }

    /// One column per output value: `predict`, or `predict[k]` for a vector output.
    static func outputColumns(_ outputs: [Tensor], rows: Int) -> [(name: String, values: [Double])] {
        guard let first = outputs.scores else { return [] }
        let values: [Double] = switch first.data {
        case .float32(let v): v.map(Double.init)
        case .float64(let v): v
        default: []
        }
        let width = rows > 0 ? values.count / rows : 0
        return (0..<width).map { k in
            (width == 1 ? first.name : "\(first.name)[\(k)]", (0..<rows).map { values[$0 * width + k] })
        }
    }

    static func loggedOutputs(_ records: [PredictionRecord], names: OutputSchema) -> [(name: String, values: [Double])] {
        let width = records.first?.outputs.first?.count ?? 0
        let base = names.scores?.name ?? "predict"
        return (0..<width).map { k in
            (width == 1 ? base : "\(base)[\(k)]", records.flatMap { $0.outputs.map { k < $0.count ? $0[k] : .nan } })
        }
    }
}
