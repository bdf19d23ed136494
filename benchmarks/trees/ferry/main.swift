import FerryCore
import FerryRuntimes
import Foundation

// In-process tree benchmark, Ferry's side: for every model in the manifest written by make_models.py, the load
// time, the memory the loaded model takes, single-row latency and batch throughput (1 and 2 threads), and the
// largest difference from the library's own predictions. Prints JSON: {model: {"ferry": {...}}}.

struct Manifest: Decodable {
    struct Model: Decodable {
        var name: String
        var file: String
        var format: String
        var features: Int
        var rows_file: String
        var rows: Int
        var reference_file: String
        var file_bytes: Int
    }
    var models: [Model]
}

func readDoubles(_ url: URL) throws -> [Double] {
    let data = try Data(contentsOf: url)
    return data.withUnsafeBytes { raw in
        (0..<(data.count / 8)).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func runtime(_ format: String, threads: Int) -> any ModelRuntime {
    format == "lightgbm-text" ? LightGBMRuntime(threads: threads) : XGBoostRuntime(threads: threads)
}

func values(_ tensor: Tensor) -> [Double] {
    switch tensor.data {
    case .float32(let v): v.map(Double.init)
    case .float64(let v): v
    default: []
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: ferry-bench-trees MANIFEST.json\n".utf8))
    exit(2)
}
let manifestURL = URL(fileURLWithPath: arguments[1])
let folder = manifestURL.deletingLastPathComponent()
let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
let singleCalls = Int(ProcessInfo.processInfo.environment["FERRY_BENCH_SINGLE_CALLS"] ?? "") ?? 20_000
var results: [String: Any] = [:]

for model in manifest.models {
    let rows = try readDoubles(folder.appendingPathComponent(model.rows_file))
    let reference = try readDoubles(folder.appendingPathComponent(model.reference_file))
    let batch = FeatureMatrix(rows: model.rows, columns: model.features, values: rows)

    let clock = ContinuousClock()
    let loadStart = clock.now
    let artifact = try Data(contentsOf: folder.appendingPathComponent(model.file))
    let single = try await runtime(model.format, threads: 1).load(artifact, options: [:])
    let loadSeconds = seconds(clock.now - loadStart)
    let inMemory = single.memoryBytes
    let parallel = try await runtime(model.format, threads: 2).load(artifact, options: [:])

    // Correctness first: the batch must agree with the library's own predictions.
    let predicted = values(try single.predict(batch)[0])
    let maxDiff = zip(predicted, reference).map { abs($0 - $1) }.max() ?? .nan

    // Single-row latency through the public predictor API, one row at a time.
    var latencies: [Double] = []
    latencies.reserveCapacity(singleCalls)
    for i in 0..<(singleCalls + 1000) {
        let r = i % model.rows
        let row = FeatureMatrix(rows: 1, columns: model.features, values: Array(rows[(r * model.features)..<((r + 1) * model.features)]))
        let start = clock.now
        _ = try single.predict(row)
        if i >= 1000 { latencies.append(seconds(clock.now - start) * 1e6) }
    }
    latencies.sort()

    func throughput(_ predictor: any Predictor) throws -> Double {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = clock.now
            _ = try predictor.predict(batch)
            best = min(best, seconds(clock.now - start))
        }
        return Double(model.rows) / best
    }

    results[model.name] = ["ferry": [
        "single_us_median": latencies[latencies.count / 2],
        "single_us_p99": latencies[latencies.count * 99 / 100],
        "batch_rows_per_s": try throughput(single),
        "batch_rows_per_s_2threads": try throughput(parallel),
        "load_ms": loadSeconds * 1000,
        "model_bytes_in_memory": inMemory,
        "file_bytes": model.file_bytes,
        "max_abs_diff_vs_reference": maxDiff,
    ]]
    FileHandle.standardError.write(Data("ferry-bench-trees: \(model.name) done\n".utf8))
}
let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
print(String(decoding: json, as: UTF8.self))
