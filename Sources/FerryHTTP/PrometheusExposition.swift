import FerryEngine
import Foundation

/// Renders Ferry's metrics in the Prometheus text exposition format (version 0.0.4).
enum PrometheusExposition {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(_ metrics: ServingMetrics, extra: [(name: String, help: String, type: String, value: Double)] = []) -> String {
        let (all, unresolved) = metrics.snapshot()
        // Per-version series are for the versions that serve: loaded now, asked for, failed to load, or loaded
        // again after an unload. A version registered (and loaded once) but idle since has none, so a registry of
        // 100,000 versions does not put 100,000 label sets in every scrape; the fleet-wide totals below count them.
        let versions = all.filter { $0.requests > 0 || $0.loaded || $0.loadFailures > 0 || $0.loads > 1 }
        var out = ""
        func header(_ name: String, _ help: String, _ type: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func labels(_ s: ServingMetrics.Snapshot, _ more: [(String, String)] = []) -> String {
            ([("model", s.model), ("version", String(s.version))] + more)
                .map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
        }
        func number(_ v: Double) -> String {
            if v.isNaN { return "NaN" }
            if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
            return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
        }
        func histogram(_ name: String, _ help: String, bounds: [Double], _ pick: (ServingMetrics.Snapshot) -> ServingMetrics.Histogram) {
            header(name, help, "histogram")
            // A version that never answered has no histogram lines: with thousands of registered versions they
            // were most of the exposition.
            for s in versions where pick(s).count > 0 {
                let h = pick(s)
                var cumulative: UInt64 = 0
                for (i, bound) in bounds.enumerated() {
                    cumulative += h.counts[i]
                    out += "\(name)_bucket{\(labels(s, [("le", number(bound))]))} \(cumulative)\n"
                }
                out += "\(name)_bucket{\(labels(s, [("le", "+Inf")]))} \(h.count)\n"
                out += "\(name)_sum{\(labels(s))} \(number(h.sum))\n"
                out += "\(name)_count{\(labels(s))} \(h.count)\n"
            }
        }

        header("ferry_inference_requests_total", "Inference requests (V2 infer, V1 predict and explain), by model and version.", "counter")
        for s in versions { out += "ferry_inference_requests_total{\(labels(s))} \(s.requests)\n" }
        header("ferry_inference_errors_total", "Inference requests that failed after their version was resolved, by kind.", "counter")
        for s in versions {
            for (kind, n) in s.errors.sorted(by: { $0.key < $1.key }) {
                out += "ferry_inference_errors_total{\(labels(s, [("kind", kind)]))} \(n)\n"
            }
        }
        header("ferry_inference_unresolved_errors_total", "Inference requests that failed before a version was resolved (unknown model, version or alias), by kind.", "counter")
        for (kind, n) in unresolved.sorted(by: { $0.key < $1.key }) {
            out += "ferry_inference_unresolved_errors_total{kind=\"\(escape(kind))\"} \(n)\n"
        }
        header("ferry_input_out_of_range_total", "Input values outside the range the version's expectations allow (served, not refused), by feature.", "counter")
        for s in versions {
            for (feature, n) in s.outOfRange.sorted(by: { $0.key < $1.key }) {
                out += "ferry_input_out_of_range_total{\(labels(s, [("feature", feature)]))} \(n)\n"
            }
        }
        header("ferry_input_unseen_category_total", "Category names the version does not know (read as missing), by feature.", "counter")
        for s in versions {
            for (feature, n) in s.unseenCategories.sorted(by: { $0.key < $1.key }) {
                out += "ferry_input_unseen_category_total{\(labels(s, [("feature", feature)]))} \(n)\n"
            }
        }
        header("ferry_inference_rows_total", "Rows predicted, by model and version.", "counter")
        for s in versions { out += "ferry_inference_rows_total{\(labels(s))} \(s.rows)\n" }
        histogram("ferry_inference_duration_seconds", "Time from resolving the version to the response being ready, in seconds.",
                  bounds: ServingMetrics.latencyBuckets) { $0.latency }
        histogram("ferry_inference_batch_rows", "Rows per successful inference request.", bounds: ServingMetrics.batchBuckets) { $0.batchRows }
        header("ferry_model_loaded", "1 when the version is loaded and warmed, 0 otherwise.", "gauge")
        for s in versions { out += "ferry_model_loaded{\(labels(s))} \(s.loaded ? 1 : 0)\n" }
        header("ferry_model_load_seconds", "How long the version's last load and warm-up took, in seconds.", "gauge")
        for s in versions { if let t = s.loadSeconds { out += "ferry_model_load_seconds{\(labels(s))} \(number(t))\n" } }
        header("ferry_model_loads_total", "Loads of the version (the first, and each reload after an unload).", "counter")
        for s in versions { out += "ferry_model_loads_total{\(labels(s))} \(s.loads)\n" }
        header("ferry_model_unloads_total", "Unloads of the version (to keep within --model-memory-budget, or after archiving).", "counter")
        for s in versions { out += "ferry_model_unloads_total{\(labels(s))} \(s.unloads)\n" }
        header("ferry_model_load_failures_total", "Failed loads of the version.", "counter")
        for s in versions { out += "ferry_model_load_failures_total{\(labels(s))} \(s.loadFailures)\n" }
        header("ferry_model_memory_bytes", "Approximate memory the loaded version holds.", "gauge")
        for s in versions where s.loaded { out += "ferry_model_memory_bytes{\(labels(s))} \(s.memoryBytes)\n" }
        header("ferry_models_loads_total", "Loads of model versions in this replica, over every version.", "counter")
        out += "ferry_models_loads_total \(all.reduce(0) { $0 + $1.loads })\n"
        header("ferry_models_unloads_total", "Unloads of model versions in this replica, over every version.", "counter")
        out += "ferry_models_unloads_total \(all.reduce(0) { $0 + $1.unloads })\n"
        header("ferry_models_load_failures_total", "Failed loads of model versions in this replica, over every version.", "counter")
        out += "ferry_models_load_failures_total \(all.reduce(0) { $0 + $1.loadFailures })\n"
        let resident = metrics.residentSnapshot()
        header("ferry_models_loaded", "Model versions loaded in this replica.", "gauge")
        out += "ferry_models_loaded \(resident.versions)\n"
        header("ferry_models_memory_bytes", "Approximate memory the loaded versions hold together (what --model-memory-budget bounds).", "gauge")
        out += "ferry_models_memory_bytes \(resident.bytes)\n"
        let loading = metrics.loadingSnapshot()
        header("ferry_model_cold_requests_total", "Inference requests whose version was not loaded: they waited for its load, or got 503 after --cold-load-wait.", "counter")
        out += "ferry_model_cold_requests_total \(loading.coldRequests)\n"
        header("ferry_model_load_duration_seconds", "How long loads and warm-ups of model versions took, over every version, in seconds.", "histogram")
        var cumulative: UInt64 = 0
        for (i, bound) in ServingMetrics.loadBuckets.enumerated() {
            cumulative += loading.durations.counts[i]
            out += "ferry_model_load_duration_seconds_bucket{le=\"\(number(bound))\"} \(cumulative)\n"
        }
        out += "ferry_model_load_duration_seconds_bucket{le=\"+Inf\"} \(loading.durations.count)\n"
        out += "ferry_model_load_duration_seconds_sum \(number(loading.durations.sum))\n"
        out += "ferry_model_load_duration_seconds_count \(loading.durations.count)\n"

        // An extra sample's name may carry labels (`family{label="v"}`); consecutive samples share one header.
        var family = ""
        for m in extra + processMetrics() {
            let name = String(m.name.prefix { $0 != "{" })
            if name != family { header(name, m.help, m.type) }
            family = name
            out += "\(m.name) \(number(m.value))\n"
        }
        return out
    }

    static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 0x0A }) else { return value }
        return value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// The standard process metrics, read from /proc (empty where /proc is absent).
    static func processMetrics() -> [(name: String, help: String, type: String, value: Double)] {
        var result: [(String, String, String, Double)] = []
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the command: state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24 (1-based).
            func field(_ n: Int) -> Double { Double(fields[safe: n - 3] ?? "0") ?? 0 }
            result.append(("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", (field(14) + field(15)) / ticks))
            result.append(("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", field(23)))
            result.append(("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", field(24) * page))
            if let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
               let up = Double(uptime.split(separator: " ").first ?? "") {
                let boot = Date().timeIntervalSince1970 - up
                result.append(("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", (boot + field(22) / ticks).rounded()))
            }
        }
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            result.append(("process_open_fds", "Number of open file descriptors.", "gauge", Double(fds.count)))
        }
        return result
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
