import Foundation

/// What the serving path checks of each request's rows against the version's expectations: numeric values outside
/// their range and category names the model does not know. Neither is refused (the schema decides that); both are
/// counted per feature and flagged on the logged prediction.
public struct InputChecks: Sendable, Equatable {
    let names: [String]
    /// Per feature, the range ([-inf, inf] when none).
    let lo: [Double]
    let hi: [Double]

    /// The ranges of `expectations`' numeric columns that are features of `schema`, in schema order.
    public init(schema: InputSchema, expectations: Expectations) {
        let columns = Dictionary(expectations.columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        names = schema.featureNames
        lo = schema.features.map { f in columns[f.name].flatMap { $0.kind == .numeric && f.categories == nil ? $0.min : nil } ?? -.infinity }
        hi = schema.features.map { f in columns[f.name].flatMap { $0.kind == .numeric && f.categories == nil ? $0.max : nil } ?? .infinity }
    }

    /// Per feature, how many values broke their range or named an unknown category; per row, its flags
    /// (`out_of_range:FEATURE`, `unseen_category:FEATURE`). Empty when nothing was found.
    public struct Findings: Sendable, Equatable {
        public var outOfRange: [String: Int] = [:]
        public var unseenCategories: [String: Int] = [:]
        public var flags: [[String]] = []

        public var isEmpty: Bool { outOfRange.isEmpty && unseenCategories.isEmpty }
    }

    public func check(_ batch: FeatureMatrix) -> Findings {
        var findings = Findings()
        let width = batch.columns
        guard width == names.count else { return findings }
        batch.values.withUnsafeBufferPointer { values in
            for r in 0..<batch.rows {
                for c in 0..<width {
                    let v = values[r * width + c]
                    // NaN (missing) compares false both ways.
                    if v < lo[c] || v > hi[c] { flag(&findings, r, rows: batch.rows, "out_of_range", c) }
                }
            }
        }
        for index in batch.unseen { flag(&findings, index / width, rows: batch.rows, "unseen_category", index % width) }
        return findings
    }

    private func flag(_ findings: inout Findings, _ row: Int, rows: Int, _ rule: String, _ c: Int) {
        if findings.flags.isEmpty { findings.flags = [[String]](repeating: [], count: rows) }
        findings.flags[row].append("\(rule):\(names[c])")
        if rule == "out_of_range" { findings.outOfRange[names[c], default: 0] += 1 } else { findings.unseenCategories[names[c], default: 0] += 1 }
    }
}
