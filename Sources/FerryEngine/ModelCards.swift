import FerryCore
import Foundation

/// A document of headings, paragraphs, facts and tables, written out as Markdown or HTML.
public struct CardDocument: Sendable, Equatable {
    public enum Block: Sendable, Equatable {
        case heading(String)
        case paragraph(String)
        case facts([Fact])
        case table(header: [String], rows: [[String]])
    }

    public struct Fact: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var title: String
    public var blocks: [Block]

    /// Text is written as text: HTML's special characters as entities (a description's `<script>` or `<img
    /// onerror>` is not markup), and line breaks as spaces (a description cannot start a section of its own).
    public var markdown: String {
        func t(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        }
        func cell(_ s: String) -> String { t(s).replacingOccurrences(of: "|", with: "\\|") }
        var out = "# \(t(title))\n"
        for block in blocks {
            switch block {
            case .heading(let text): out += "\n## \(t(text))\n"
            case .paragraph(let text): out += "\n\(t(text))\n"
            case .facts(let facts): out += "\n" + facts.map { "- **\(t($0.name))**: \(t($0.value))" }.joined(separator: "\n") + "\n"
            case .table(let header, let rows):
                out += "\n| " + header.map(cell).joined(separator: " | ") + " |\n"
                out += "|" + String(repeating: " --- |", count: header.count) + "\n"
                for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
            }
        }
        return out
    }

    /// A page that stands alone (no scripts, no external assets), readable on a phone and in print.
    public var html: String {
        func e(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var out = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title))</title>
            <style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
            table{border-collapse:collapse;margin:.5rem 0;display:block;overflow-x:auto}th,td{border:1px solid #bbb;padding:.25rem .5rem;text-align:left}
            th{background:#eee}dt{font-weight:600;float:left;clear:left;margin-right:.5rem}dd{margin:0 0 .25rem}</style></head>
            <body><main><h1>\(e(title))</h1>

            """
        for block in blocks {
            switch block {
            case .heading(let text): out += "<h2>\(e(text))</h2>\n"
            case .paragraph(let text): out += "<p>\(e(text))</p>\n"
            case .facts(let facts): out += "<dl>" + facts.map { "<dt>\(e($0.name))</dt><dd>\(e($0.value))</dd>" }.joined() + "</dl>\n"
            case .table(let header, let rows):
                out += "<table><thead><tr>" + header.map { "<th scope=\"col\">\(e($0))</th>" }.joined() + "</tr></thead><tbody>"
                out += rows.map { "<tr>" + $0.map { "<td>\(e($0))</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>\n"
            }
        }
        return out + "</main></body></html>\n"
    }
}

/// Model cards: for one version, everything Ferry knows about it in one document — purpose and owner, lineage,
/// metrics, feature importance, inputs and outputs, signature, aliases and their history, and how it does in
/// production (drift against its reference, performance on ground truth, fairness by its sensitive features).
public struct ModelCards: Sendable {
    let registry: Registry
    let monitor: ModelMonitor?
    /// The version's expectations of its data.
    let validation: DataValidation?

    public init(registry: Registry, monitor: ModelMonitor?, validation: DataValidation? = nil) {
        self.registry = registry
        self.monitor = monitor
        self.validation = validation
    }

    /// Recent traffic the card's production figures are computed on.
    static let window = ModelMonitor.Window.last(10_000)

    public func card(model name: String, version number: Int) async throws -> CardDocument {
        let model = try await registry.model(named: name)
        let version = try await registry.version(model: name, number: number)
        var blocks: [CardDocument.Block] = []
        let purpose = [model.description, version.description].filter { !$0.isEmpty }
        blocks.append(.paragraph(purpose.isEmpty ? "No description was given at registration." : purpose.joined(separator: " — ")))

        let format = ISO8601DateFormatter()
        var facts: [CardDocument.Fact] = [
            .init("Owner", model.createdBy),
            .init("Registered", "\(format.string(from: version.createdAt)) by \(version.createdBy)"),
            .init("Format", version.format.rawValue),
            .init("Artifact", "sha256:\(version.artifact.sha256) (\(version.artifact.size) bytes)"),
            .init("Signature", version.signature.map { "signed by key '\($0.keyID)'" } ?? "unsigned"),
        ]
        if case .string(let task)? = version.details["task"] { facts.insert(.init("Task", task.replacingOccurrences(of: "_", with: " ")), at: 2) }
        if !model.tags.isEmpty { facts.append(.init("Tags", model.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))) }
        if version.archived { facts.append(.init("Status", "archived")) }
        blocks.append(.facts(facts))

        blocks.append(.heading("Training lineage"))
        let lineage = [
            ("Training data", version.lineage.trainingData), ("Training data digest", version.lineage.trainingDataDigest),
            ("Code", version.lineage.code), ("Tracking run", version.lineage.run),
        ].compactMap { name, value in value.map { CardDocument.Fact(name, $0) } }
        blocks.append(lineage.isEmpty ? .paragraph("No lineage was recorded at registration.") : .facts(lineage))
        if !version.params.isEmpty {
            blocks.append(.table(header: ["parameter", "value"], rows: version.params.sorted { $0.key < $1.key }.map { [$0.key, Self.text($0.value)] }))
        }

        blocks.append(.heading("Metrics at registration"))
        blocks.append(version.metrics.isEmpty
            ? .paragraph("None were recorded.")
            : .table(header: ["metric", "value"], rows: version.metrics.sorted { $0.key < $1.key }.map { [$0.key, Self.number($0.value)] }))

        blocks.append(.heading("Inputs"))
        blocks.append(.table(
            header: ["feature", "type", "missing allowed", "categories", "sensitive", "description"],
            rows: version.inputSchema.features.map { f in
                [f.name, f.datatype.rawValue, f.nullable ? "yes" : "no", f.categories.map { "\($0.count)" } ?? "-",
                 f.sensitive?.rawValue ?? "-", f.description ?? ""]
            }))
        if !version.features.isEmpty {
            blocks.append(.paragraph("From the feature store at inference: \(version.features.map(\.description).joined(separator: ", "))."))
        }
        if let validation, let expectations = try? await validation.expectations(of: version) {
            blocks.append(.heading("Expectations of its data"))
            blocks.append(.paragraph(expectations.origin == "derived"
                ? "Derived from the input schema and reference profile (no one has edited them)."
                : "Edited by \(expectations.updatedBy) at \(format.string(from: expectations.updatedAt))."))
            blocks.append(.table(header: ["column", "kind", "range", "categories", "missing at most", "unique", "drift (PSI) at most"], rows: expectations.columns.map { c in
                let range = c.min == nil && c.max == nil ? "-" : "\(c.min.map(Self.number) ?? "-∞") to \(c.max.map(Self.number) ?? "∞")"
                return [c.name, c.kind.rawValue, range, c.categories.map { $0.prefix(8).joined(separator: ", ") + ($0.count > 8 ? ", …" : "") } ?? "-",
                        c.maxNullRate.map { String(format: "%.3g %%", $0 * 100) } ?? "-", c.unique ? "yes" : "no", c.maxPSI.map(Self.number) ?? "-"]
            }))
            var file: [String] = []
            if let key = expectations.uniqueKey, !key.isEmpty { file.append("unique key \(key.joined(separator: ", "))") }
            if expectations.noDuplicateRows { file.append("no duplicate rows") }
            if let lo = expectations.minRows { file.append("at least \(lo) rows") }
            if let hi = expectations.maxRows { file.append("at most \(hi) rows") }
            if !file.isEmpty { blocks.append(.paragraph("Per file: \(file.joined(separator: "; ")).")) }
        }
        blocks.append(.heading("Outputs"))
        blocks.append(.table(
            header: ["output", "type", "shape per row", "description"],
            rows: version.outputSchema.outputs.map { [$0.name, $0.datatype.rawValue, $0.shape.isEmpty ? "scalar" : "\($0.shape)", $0.description ?? ""] }))

        if case .object(let importance)? = version.details["feature_importance"], case .object(let gain)? = importance["gain"], !gain.isEmpty {
            blocks.append(.heading("Feature importance"))
            let ranked = gain.compactMap { name, value -> (String, Double)? in
                if case .number(let g) = value { return (name, g) }
                return nil
            }.sorted { $0.1 > $1.1 }
            let total = ranked.reduce(0) { $0 + $1.1 }
            blocks.append(.table(header: ["feature", "total gain", "share"], rows: ranked.prefix(10).map {
                [$0.0, Self.number($0.1), total > 0 ? String(format: "%.1f %%", 100 * $0.1 / total) : "-"]
            }))
        }

        blocks.append(.heading("Aliases"))
        let aliases = try await registry.aliases(model: name).filter { $0.version == number }.map(\.name)
        let history = try await registry.aliasHistory(model: name, alias: nil).filter { $0.to == number || $0.from == number }
        blocks.append(.paragraph(aliases.isEmpty ? "No alias points at this version." : "Pointing at this version: \(aliases.joined(separator: ", "))."))
        if !history.isEmpty {
            blocks.append(.table(header: ["when", "alias", "from", "to", "by", "reason"], rows: history.map {
                [format.string(from: $0.at), $0.alias, $0.from.map(String.init) ?? "-", $0.to.map(String.init) ?? "-", $0.by, $0.reason]
            }))
        }

        blocks += try await approvals(version, format)
        blocks += await production(version)
        return CardDocument(title: "\(name) version \(number)", blocks: blocks)
    }

    /// The model's protected aliases, and the approval requests that would move one to or from this version or roll
    /// it out on an endpoint, with who asked and who decided.
    func approvals(_ version: ModelVersion, _ format: ISO8601DateFormatter) async throws -> [CardDocument.Block] {
        guard let store = registry.protections else { return [] }
        let protected = try await store.protections().compactMap { p -> String? in
            if case .alias(let model, let alias) = p.target, model == version.model { return alias }
            return nil
        }
        let about = try await store.approvalRequests(states: nil, target: nil, limit: 10_000).filter { r in
            switch (r.target, r.change) {
            case (.alias(let model, _), .setAlias(let to, let from)): model == version.model && (to == version.version || from == version.version)
            case (.alias(let model, _), .removeAlias(let from)): model == version.model && from == version.version
            case (.endpoint, .rollout(let candidate, _)): candidate == VersionRef(model: version.model, version: version.version)
            default: false
            }
        }
        var blocks: [CardDocument.Block] = [.heading("Approvals")]
        blocks.append(.paragraph(protected.isEmpty
            ? "No alias of this model is protected."
            : "Protected aliases (moving one needs a second principal's approval): \(protected.joined(separator: ", "))."))
        if !about.isEmpty {
            let now = Date()
            blocks.append(.table(header: ["requested", "target", "change", "by", "state", "decided by", "comment"], rows: about.reversed().map {
                [format.string(from: $0.requestedAt), $0.target.key, $0.change.summary, $0.requestedBy, $0.state(at: now).rawValue,
                 $0.decidedBy ?? "-", $0.comment]
            }))
        }
        return blocks
    }

    /// Drift, performance and fairness on recent traffic, each saying why when it cannot be computed.
    func production(_ version: ModelVersion) async -> [CardDocument.Block] {
        var blocks: [CardDocument.Block] = [.heading("In production (the last \(10_000) logged requests)")]
        guard let monitor else { return blocks + [.paragraph("This server runs without the prediction log.")] }
        func why(_ error: any Error) -> String { (error as? FerryError)?.message ?? "\(error)" }
        do {
            let drift = try await monitor.drift(model: version.model, version: version.version, window: Self.window)
            let worst = drift.features.sorted { $0.psi > $1.psi }.prefix(5)
            blocks.append(.paragraph("Drift against the reference profile (\(drift.referenceRows) rows) on \(drift.currentRows) logged rows; the five features that moved most:"))
            blocks.append(.table(header: ["feature", "PSI", "Jensen-Shannon", "missing rate change"], rows: worst.map {
                [$0.name, Self.number($0.psi), Self.number($0.jsDistance), Self.number($0.missingRateChange)]
            }))
        } catch {
            blocks.append(.paragraph("Drift: \(why(error))."))
        }
        do {
            let performance = try await monitor.performance(model: version.model, version: version.version, window: Self.window)
            let report = try JSONValue(encoding: performance.overall)
            if case .object(let fields) = report {
                let rows = fields.sorted { $0.key < $1.key }.compactMap { key, value -> [String]? in
                    if case .number(let n) = value { return [key.replacingOccurrences(of: "_", with: " "), Self.number(n)] }
                    return nil
                }
                blocks.append(.paragraph("Performance on the predictions with ground truth:"))
                blocks.append(.table(header: ["measure", "value"], rows: rows))
            }
        } catch {
            blocks.append(.paragraph("Performance: \(why(error))."))
        }
        let sensitive = version.inputSchema.features.filter { $0.sensitive != nil }.map(\.name)
        if sensitive.isEmpty {
            blocks.append(.paragraph("Fairness: no input is marked sensitive in this version's schema."))
        }
        for attribute in sensitive {
            do {
                let (_, report) = try await monitor.fairness(model: version.model, version: version.version, window: Self.window, attribute: attribute)
                blocks.append(.paragraph("Fairness by '\(attribute)' (decisions at probability 0.5, fairlearn's definitions):"))
                blocks.append(.table(header: ["measure", "value"], rows: [
                    ["demographic parity difference", Self.number(report.demographicParityDifference)],
                    ["equal opportunity difference", Self.number(report.equalOpportunityDifference)],
                    ["equalized odds difference", Self.number(report.equalizedOddsDifference)],
                    ["accuracy difference", Self.number(report.accuracyDifference)],
                ]))
            } catch {
                blocks.append(.paragraph("Fairness by '\(attribute)': \(why(error))."))
            }
        }
        return blocks
    }

    static func number(_ d: Double) -> String { d.isNaN ? "undefined" : String(format: "%.6g", d) }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .number(let n): number(n)
        case .bool(let b): "\(b)"
        case .null: "null"
        default: (try? String(decoding: JSONEncoder().encode(value), as: UTF8.self)) ?? "?"
        }
    }
}
