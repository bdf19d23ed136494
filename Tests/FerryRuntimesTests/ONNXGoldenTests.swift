import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Golden outputs of the real onnxruntime on scikit-learn pipelines converted by skl2onnx and on hand-built graphs
/// of single operators (see scripts/fixtures/make_onnx_goldens.py).
struct ONNXGoldenTests {
    struct Golden: Decodable {
        struct Value: Decodable {
            var name: String
            var datatype: String
            var shape: [Int]
            var data: [JSONScalar]
            var zipmap_labels: [JSONScalar]?
            /// A map input's entries.
            var keys: [JSONScalar]?
            var values: [JSONScalar]?
            var key_datatype: String?

            enum CodingKeys: String, CodingKey { case name, datatype, shape, data, zipmap_labels, keys, values, key_datatype }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                name = try c.decode(String.self, forKey: .name)
                datatype = try c.decode(String.self, forKey: .datatype)
                // Map inputs (CastMap, DictVectorizer) have keys and values instead.
                shape = try c.decodeIfPresent([Int].self, forKey: .shape) ?? []
                data = try c.decodeIfPresent([JSONScalar].self, forKey: .data) ?? []
                zipmap_labels = try c.decodeIfPresent([JSONScalar].self, forKey: .zipmap_labels)
                keys = try c.decodeIfPresent([JSONScalar].self, forKey: .keys)
                values = try c.decodeIfPresent([JSONScalar].self, forKey: .values)
                key_datatype = try c.decodeIfPresent(String.self, forKey: .key_datatype)
            }
        }
        var description: String
        var operators: [String]
        var inputs: [Value]
        var outputs: [Value]
    }

    /// A number, string, boolean or null of a golden's flat data.
    enum JSONScalar: Decodable, Equatable {
        case integer(Int64), number(Double), string(String), bool(Bool), null

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let i = try? c.decode(Int64.self) { self = .integer(i) }
            else if let d = try? c.decode(Double.self) { self = .number(d) }
            else { self = .string(try c.decode(String.self)) }
        }

        var integer: Int64 {
            if case .integer(let i) = self { return i }
            return Int64(number)
        }

        var number: Double {
            switch self {
            case .number(let d): d
            case .integer(let i): Double(i)
            case .bool(let b): b ? 1 : 0
            case .string("inf"), .string("Infinity"): .infinity
            case .string("-inf"), .string("-Infinity"): -.infinity
            default: .nan
            }
        }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/onnx")

    static func names(_ include: (String) -> Bool) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.filter(include).sorted()
    }

    static let pipelines = names { !$0.hasPrefix("op_") }
    static let operatorCases = names { $0.hasPrefix("op_") }

    static func load(_ name: String) throws -> (Data, Golden) {
        let model = try Data(contentsOf: directory.appendingPathComponent("\(name).onnx"))
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
        return (model, golden)
    }

    /// The golden's inputs as V2 tensors, one per graph input and named after it (as onnxruntime's clients send
    /// them); `asMatrix` sends a single numeric input as Ferry's matrix `input` instead.
    static func tensors(_ golden: Golden, asMatrix: Bool = false) -> [Tensor] {
        golden.inputs.map { input in
            let name = asMatrix ? InputSchema.matrixInputName : input.name
            let data: TensorData = switch input.datatype {
            case "BYTES": .bytes(input.data.map { if case .string(let s) = $0 { Array(s.utf8) } else { [] } })
            case "INT64", "INT32": .int64(input.data.map(\.integer))
            case "BOOL": .bool(input.data.map { $0.number != 0 })
            case "FP64": .float64(input.data.map(\.number))
            default: .float32(input.data.map { Float($0.number) })
            }
            return Tensor(name: name, datatype: DataType(rawValue: input.datatype)!, shape: input.shape, data: data)
        }
    }

    static func compare(_ got: Tensor, _ want: Golden.Value, case name: String) {
        #expect(got.shape.reduce(1, *) == want.shape.reduce(1, *), "\(name) \(want.name): shape \(got.shape) vs \(want.shape)")
        switch got.data {
        case .bytes(let v):
            let strings = v.map { String(decoding: $0, as: UTF8.self) }
            #expect(strings.map { JSONScalar.string($0) } == want.data, "\(name) \(want.name)")
        case .int64(let v):
            #expect(v == want.data.map(\.integer), "\(name) \(want.name): \(v) vs \(want.data.map(\.number))")
        case .bool(let v):
            #expect(v == want.data.map { $0.number != 0 }, "\(name) \(want.name)")
        default:
            let values: [Double] = switch got.data {
            case .float32(let v): v.map(Double.init)
            case .float64(let v): v
            default: []
            }
            #expect(values.count == want.data.count, "\(name) \(want.name): \(values.count) values vs \(want.data.count)")
            var worst = 0.0, at = 0
            for (i, (g, w)) in zip(values, want.data.map(\.number)).enumerated() {
                if g.isNaN && w.isNaN || g == w { continue }
                let error = g.isNaN || w.isNaN ? .infinity : abs(g - w) / max(1, abs(w))
                if error > worst { (worst, at) = (error, i) }
            }
            #expect(worst <= 1e-5, "\(name) \(want.name): worst error \(worst) at \(at): got \(values[at]), want \(want.data[at].number)")
        }
    }

    @Test func fixturesArePresent() {
        #expect(Self.pipelines.count >= 12)
    }

    @Test(arguments: pipelines)
    func pipelineMatchesOnnxruntime(name: String) async throws {
        let (artifact, golden) = try Self.load(name)
        let runtime = ONNXRuntime(threads: 1)
        if let map = golden.inputs.first(where: { $0.datatype == "MAP" }) {
            guard map.key_datatype == "INT64" else {
                // Only map(int64, float), as CastMap reads it, is taken: refused by name.
                #expect { try runtime.inspect(artifact) } throws: { error in
                    let e = error as? FerryError
                    return e?.code == .unsupported && e!.message.contains("'\(map.name)' is a map other than map(int64, float)")
                }
                return
            }
            // One row: feature k is the map's value at key k, missing where the map has no key k.
            let description = try runtime.inspect(artifact)
            let width = try #require(description.inputSchema.tensors?.first?.width)
            var row = [Float](repeating: .nan, count: width)
            for (key, value) in zip(map.keys ?? [], map.values ?? []) { row[Int(key.integer)] = Float(value.number) }
            let matrix = try description.inputSchema.matrix(
                from: [Tensor(name: map.name, datatype: .fp32, shape: [1, width], data: .float32(row))], limits: InferenceLimits())
            let outputs = try await runtime.load(artifact).predict(matrix)
            #expect(outputs.map(\.name) == golden.outputs.map(\.name))
            for (got, want) in zip(outputs, golden.outputs) { Self.compare(got, want, case: name) }
            return
        }
        #expect(runtime.recognizes(artifact))
        let description = try runtime.inspect(artifact)
        let predictor = try await runtime.load(artifact)
        let matrix = try description.inputSchema.matrix(from: Self.tensors(golden), limits: InferenceLimits())
        let outputs = try predictor.predict(matrix)
        #expect(outputs.map(\.name) == golden.outputs.map(\.name))
        for (got, want) in zip(outputs, golden.outputs) { Self.compare(got, want, case: name) }
        // A single numeric input may also come as the matrix `input`, the same rows in the same order.
        if golden.inputs.count == 1, golden.inputs[0].datatype != "BYTES", golden.inputs[0].shape.count == 2 {
            let same = try description.inputSchema.matrix(from: Self.tensors(golden, asMatrix: true), limits: InferenceLimits())
            #expect(same.values.map(\.bitPattern) == matrix.values.map(\.bitPattern))
        }
        #expect(description.outputSchema.outputs.map(\.name) == golden.outputs.map(\.name))
    }

    @Test(arguments: operatorCases)
    func operatorMatchesOnnxruntime(name: String) throws {
        let (artifact, golden) = try Self.load(name)
        let file = try ONNXModelFile(parsing: [UInt8](artifact))
        let graph = try ONNXGraph(file.graph, opsets: file.opsets)
        let inputs = golden.inputs.map { input -> ONNXArray in
            switch input.datatype {
            case "BYTES": ONNXArray(shape: input.shape, .string(input.data.map { if case .string(let s) = $0 { s } else { "" } }))
            case "INT64", "INT32": .int64(input.data.map(\.integer), shape: input.shape)
            case "BOOL": .bool(input.data.map { $0.number != 0 }, shape: input.shape)
            case "FP64": ONNXArray(shape: input.shape, .double(input.data.map(\.number)))
            default: .float(input.data.map { Float($0.number) }, shape: input.shape)
            }
        }
        let outputs = try graph.run(inputs)
        #expect(outputs.count == golden.outputs.count)
        for (got, want) in zip(outputs, golden.outputs) {
            #expect(got.shape == want.shape, "\(name) \(want.name): shape \(got.shape) vs \(want.shape)")
            let type = DataType(rawValue: want.datatype) ?? .fp32
            var tensor = ONNXModel.tensor(got, name: want.name, type: type)
            var want = want
            if name.hasSuffix("_unsorted") {
                // The order of unsorted TopK results is implementation-defined: compare them as sets.
                want.data.sort { $0.number < $1.number }
                switch tensor.data {
                case .float32(let v): tensor.data = .float32(v.sorted())
                case .int64(let v): tensor.data = .int64(v.sorted())
                default: break
                }
            }
            Self.compare(tensor, want, case: name)
        }
    }
}
