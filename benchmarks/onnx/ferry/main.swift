import FerryCore
import FerryRuntimes
import Foundation

// In-process ONNX benchmark, Ferry's side: for every model in the manifest written by make_models.py, the load
// time, single-row latency and batch throughput (10,000 rows and 100 rows) of Ferry's native ONNX runtime on one
// thread, and the largest difference from onnxruntime's outputs. Prints JSON: {model: {"ferry": {...}}}.

struct Manifest: Decodable {
    struct Model: Decodable {
        var name: String
        var onnx: String
        var rows: String
        var reference: String
        var n_rows: Int
    }
    var models: [Model]
}

/// A tensor of a rows or reference file: numbers (null for NaN) or strings.
struct Values: Decodable {
    struct Value: Decodable {
        var name: String
        var datatype: String
        var shape: [Int]
        var data: [Scalar]
    }
    enum Scalar: Decodable {
        case number(Double), string(String)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .number(.nan) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let b = try? c.decode(Bool.self) { self = .number(b ? 1 : 0) }
            else { self = .string(try c.decode(String.self)) }
        }
        var number: Double { if case .number(let d) = self { d } else { .nan } }
        var string: String { if case .string(let s) = self { s } else { "" } }
    }
    var inputs: [Value]?
    var outputs: [Value]?
}

func tensor(_ v: Values.Value) -> Tensor {
    let data: TensorData = switch v.datatype {
    case "BYTES": .bytes(v.data.map { Array($0.string.utf8) })
    case "INT64", "INT32": .int64(v.data.map { Int64($0.number) })
    case "FP64": .float64(v.data.map(\.number))
    default: .float32(v.data.map { Float($0.number) })
    }
    return Tensor(name: v.name, datatype: DataType(rawValue: v.datatype) ?? .fp32, shape: v.shape, data: data)
}

func numbers(_ t: Tensor) -> [Double]? {
    switch t.data {
    case .float32(let v): v.map(Double.init)
    case .float64(let v): v
    default: nil
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func rows(_ m: FeatureMatrix, _ range: Range<Int>) -> FeatureMatrix {
    FeatureMatrix(rows: range.count, columns: m.columns, values: Array(m.values[(range.lowerBound * m.columns)..<(range.upperBound * m.columns)]))
}

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: ferry-bench-onnx MANIFEST.json\n".utf8))
    exit(2)
}
let manifestURL = URL(fileURLWithPath: arguments[1])
let folder = manifestURL.deletingLastPathComponent()
let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: manifestURL))
let minimumCalls = Int(ProcessInfo.processInfo.environment["FERRY_BENCH_SINGLE_CALLS"] ?? "") ?? 2000
var results: [String: Any] = [:]
let clock = ContinuousClock()

for model in manifest.models {
    let input = try JSONDecoder().decode(Values.self, from: Data(contentsOf: folder.appendingPathComponent(model.rows)))
    let reference = try JSONDecoder().decode(Values.self, from: Data(contentsOf: folder.appendingPathComponent(model.reference)))
    let artifact = try Data(contentsOf: folder.appendingPathComponent(model.onnx))
    let runtime = ONNXRuntime(threads: 1)
    let loadStart = clock.now
    let description = try runtime.inspect(artifact)
    let predictor = try await runtime.load(artifact)
    let loadSeconds = seconds(clock.now - loadStart)
    let batch = try description.inputSchema.matrix(
        from: (input.inputs ?? []).map(tensor), limits: InferenceLimits(maxRows: 1_000_000, maxElements: 100_000_000))

    // Correctness first: every output against onnxruntime's.
    let outputs = try predictor.predict(batch)
    var maxDiff = 0.0
    var labelsEqual = true
    for (got, want) in zip(outputs, reference.outputs ?? []) {
        if let values = numbers(got) {
            for (g, w) in zip(values, want.data.map(\.number)) where !(g.isNaN && w.isNaN) { maxDiff = max(maxDiff, abs(g - w)) }
        } else if case .int64(let v) = got.data {
            labelsEqual = labelsEqual && v.map(Double.init) == want.data.map(\.number)
        } else if case .bytes(let v) = got.data {
            labelsEqual = labelsEqual && v.map { String(decoding: $0, as: UTF8.self) } == want.data.map(\.string)
        }
    }

    // Single-row latency through the predictor, one prebuilt row at a time (as the peer prebuilds its feeds).
    let singles = (0..<min(batch.rows, 1000)).map { rows(batch, $0..<($0 + 1)) }
    for row in singles.prefix(200) { _ = try predictor.predict(row) }
    var latencies: [Double] = []
    let started = clock.now
    var i = 0
    while latencies.count < minimumCalls || seconds(clock.now - started) < 0.5 {
        let row = singles[i % singles.count]
        let start = clock.now
        _ = try predictor.predict(row)
        latencies.append(seconds(clock.now - start) * 1e6)
        i += 1
    }
    latencies.sort()

    func throughput(_ m: FeatureMatrix, repeats: Int) throws -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = clock.now
            _ = try predictor.predict(m)
            best = min(best, seconds(clock.now - start))
        }
        return Double(m.rows) / best
    }
    let hundred = rows(batch, 0..<min(100, batch.rows))

    results[model.name] = ["ferry": [
        "single_us_median": latencies[latencies.count / 2],
        "single_us_p99": latencies[latencies.count * 99 / 100],
        "batch_rows_per_s": try throughput(batch, repeats: 3),
        "batch100_rows_per_s": try throughput(hundred, repeats: 50),
        "load_ms": loadSeconds * 1000,
        "max_abs_diff_vs_reference": maxDiff,
        "labels_equal": labelsEqual,
    ]]
    FileHandle.standardError.write(Data("ferry-bench-onnx: \(model.name) done\n".utf8))
}
let json = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
print(String(decoding: json, as: UTF8.self))
