import FerryCore
import Foundation
import Testing

@testable import FerryRuntimes

/// Writes protobuf, for building small ONNX models by hand (good and bad ones).
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    mutating func int(_ field: Int, _ value: Int64) {
        varint(UInt64(field << 3))
        varint(UInt64(bitPattern: value))
    }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        varint(UInt64(field << 3 | 2))
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }
    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var m = ProtobufWriter()
        build(&m)
        bytes(field, m.bytes)
    }

    mutating func floats(_ field: Int, _ values: [Float]) {
        bytes(field, values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })
    }
}

/// A one-node ONNX model: `op` (with `attributes` written by the closure) from a float input [N, k] to one output.
func onnxModel(
    op: String = "Relu", domain: String = "", nodeName: String = "n0", opsets: [String: Int64] = ["": 17],
    inputShape: [Int64?] = [nil, 3], inputType: Int64 = 1, nodeInputs: [String] = ["x"],
    initializer: ((inout ProtobufWriter) -> Void)? = nil, attributes: (inout ProtobufWriter) -> Void = { _ in }
) -> Data {
    var model = ProtobufWriter()
    model.int(1, 8)
    model.string(2, "test")
    model.message(7) { g in
        g.message(1) { n in
            for i in nodeInputs { n.string(1, i) }
            n.string(2, "y")
            n.string(3, nodeName)
            n.string(4, op)
            if !domain.isEmpty { n.string(7, domain) }
            attributes(&n)
        }
        g.string(2, "g")
        if let initializer { g.message(5, initializer) }
        func valueInfo(_ g: inout ProtobufWriter, _ field: Int, _ name: String, _ shape: [Int64?], _ type: Int64) {
            g.message(field) { v in
                v.string(1, name)
                v.message(2) { t in
                    t.message(1) { tt in
                        tt.int(1, type)
                        tt.message(2) { s in
                            for d in shape { s.message(1) { dim in if let d { dim.int(1, d) } else { dim.string(2, "N") } } }
                        }
                    }
                }
            }
        }
        valueInfo(&g, 11, "x", inputShape, inputType)
        valueInfo(&g, 12, "y", inputShape, 1)
    }
    for (domain, version) in opsets.sorted(by: { $0.key < $1.key }) {
        model.message(8) { o in
            o.string(1, domain)
            o.int(2, version)
        }
    }
    return Data(model.bytes)
}

struct ONNXRuntimeTests {
    let runtime = ONNXRuntime(threads: 1)

    func refusal(_ artifact: Data) -> FerryError? {
        do {
            _ = try runtime.inspect(artifact)
            return nil
        } catch {
            return error as? FerryError
        }
    }

    @Test func aHandBuiltModelRuns() async throws {
        let artifact = onnxModel()
        #expect(runtime.recognizes(artifact))
        let description = try runtime.inspect(artifact)
        #expect(description.inputSchema.featureNames == ["x_0", "x_1", "x_2"])
        #expect(description.inputSchema.tensors == [InputTensor(name: "x", datatype: .fp32, width: 3, perRowShape: [3])])
        let predictor = try await runtime.load(artifact)
        let out = try predictor.predict(FeatureMatrix(rows: 2, columns: 3, values: [-1, 0, 2, 3, -4, 5]))
        #expect(out[0].name == "y" && out[0].shape == [2, 3])
        #expect(out[0].data == .float32([0, 0, 2, 3, 0, 5]))
    }

    @Test func truncatedAndCorruptFilesAreRefused() throws {
        let golden = try Data(contentsOf: ONNXGoldenTests.directory.appendingPathComponent("gbr_diabetes.onnx"))
        for cut in [golden.count / 2, golden.count - 3, 7] {
            let error = refusal(golden.prefix(cut))
            #expect(error?.code == .invalidArgument, "cut at \(cut): \(String(describing: error))")
            #expect(error?.message.hasPrefix("not a valid ONNX model") == true, "\(String(describing: error))")
        }
        #expect(refusal(Data("hello, world".utf8))?.message.hasPrefix("not a valid ONNX model") == true)
        #expect(!runtime.recognizes(Data(#"{"learner": {}}"#.utf8)))
        #expect(refusal(Data())?.message == "not a valid ONNX model: it has no graph")
    }

    @Test func anUnsupportedOperatorIsRefusedNamingItAndItsNode() {
        let error = refusal(onnxModel(op: "LSTM", nodeName: "encoder_lstm"))
        #expect(error?.code == .unsupported)
        #expect(error?.message.contains("node 'encoder_lstm' (LSTM)") == true, "\(String(describing: error))")
        #expect(error?.message.contains("operator LSTM of domain ai.onnx is not supported") == true)
        let custom = refusal(onnxModel(op: "FusedGemm", domain: "com.microsoft", opsets: ["": 17, "com.microsoft": 1]))
        #expect(custom?.message.contains("operator FusedGemm of domain com.microsoft is not supported") == true, "\(String(describing: custom))")
        let unimported = refusal(onnxModel(op: "Scaler", domain: "ai.onnx.ml"))
        #expect(unimported?.message.contains("uses domain 'ai.onnx.ml', which the model does not import") == true)
    }

    @Test func anOpsetNewerThanFerryKnowsIsRefused() {
        let error = refusal(onnxModel(opsets: ["": 99]))
        #expect(error?.code == .unsupported)
        #expect(error?.message == "ONNX opset 99 of domain ai.onnx is newer than Ferry supports (up to 23); convert with target_opset=23")
        #expect(refusal(onnxModel(opsets: ["": 17, "ai.onnx.ml": 6]))?.message.contains("opset 6 of domain ai.onnx.ml is newer") == true)
    }

    @Test func graphsFerryCannotFeedOrReadAreRefused() {
        #expect(refusal(onnxModel(inputShape: [nil, 2, 3]))?.message == "ONNX graph input 'x' has rank 3; a tabular model takes [N, k] or [N]")
        #expect(refusal(onnxModel(inputShape: [nil, nil]))?.message.contains("has no fixed second dimension") == true)
        #expect(refusal(onnxModel(inputType: 10))?.message.contains("element type float16") == true)
        let dangling = refusal(onnxModel(op: "Add", nodeInputs: ["x", "z"]))
        #expect(dangling?.message.contains("reads 'z' before any node produces it") == true, "\(String(describing: dangling))")
        let external = refusal(onnxModel(op: "Add", nodeInputs: ["x", "w"], initializer: { t in
            t.int(1, 3)
            t.int(2, 1)
            t.string(8, "w")
            t.int(14, 1)
        }))
        #expect(external?.message.contains("keeps its data in an external file") == true, "\(String(describing: external))")
        let short = refusal(onnxModel(op: "Add", nodeInputs: ["x", "w"], initializer: { t in
            t.int(1, 3)
            t.int(2, 1)
            t.string(8, "w")
            t.floats(9, [1, 2])
        }))
        #expect(short?.message.contains("tensor 'w' has 8 bytes of raw data for 3 values") == true, "\(String(describing: short))")
    }

    @Test func aMapInputReadByCastMapIsOneFeaturePerKey() async throws {
        // cast_map.onnx: a map(int64, float) read by DENSE and SPARSE (max_map 8) CastMaps.
        let artifact = try Data(contentsOf: ONNXGoldenTests.directory.appendingPathComponent("cast_map.onnx"))
        let schema = try runtime.inspect(artifact).inputSchema
        #expect(schema.featureNames == (0..<8).map { "Xf_\($0)" })
        let predictor = try await runtime.load(artifact)
        // Two rows with keys {0, 2} and {1, 7}: SPARSE places them, DENSE packs two per row.
        let nan = Double.nan
        let rows = FeatureMatrix(rows: 2, columns: 8, values: [1, nan, 2, nan, nan, nan, nan, nan, nan, 3, nan, nan, nan, nan, nan, 4.5])
        let out = try predictor.predict(rows)
        let byName = Dictionary(uniqueKeysWithValues: out.map { ($0.name, $0) })
        #expect(byName["dense_float"]?.shape == [2, 2] && byName["dense_float"]?.data == .float32([1, 2, 3, 4.5]))
        #expect(byName["sparse_float"]?.data == .float32([1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 4.5]))
        #expect(byName["dense_int64"]?.data == .int64([1, 2, 3, 4]))
        // DENSE cannot pack rows with different numbers of keys into one tensor: a clear error, not a crash.
        let uneven = FeatureMatrix(rows: 2, columns: 8, values: [1, nan, 2, nan, nan, nan, nan, nan, nan, 3, nan, nan, nan, nan, nan, nan])
        #expect { try predictor.predict(uneven) } throws: { error in
            (error as? FerryError)?.message.contains("row 0 has 2 and row 1 has 1") == true
        }
        // The number of keys may be given; a bad value is refused naming the option.
        #expect(try runtime.inspect(artifact, options: ["map_keys": "12"]).inputSchema.features.count == 12)
        #expect { try runtime.inspect(artifact, options: ["map_keys": "0"]) } throws: { error in
            (error as? FerryError)?.message.contains("runtime option map_keys '0'") == true
        }
    }

    @Test func aBadAttributeIsRefusedAtRegistrationNotAtTheFirstRequest() {
        let error = refusal(onnxModel(op: "Normalizer", domain: "ai.onnx.ml", opsets: ["": 17, "ai.onnx.ml": 1], attributes: { n in
            n.message(5) { a in
                a.string(1, "norm")
                a.bytes(4, Array("L3".utf8))
                a.int(20, 3)
            }
        }))
        #expect(error?.message.contains("Normalizer norm 'L3' is not MAX, L1 or L2") == true, "\(String(describing: error))")
    }

    @Test func stringInputsAreCategoriesOfTheStringsTheGraphKnows() throws {
        let artifact = try Data(contentsOf: ONNXGoldenTests.directory.appendingPathComponent("columns_rf.onnx"))
        let schema = try runtime.inspect(artifact).inputSchema
        #expect(schema.featureNames == ["age", "income", "score", "color", "city"])
        let color = schema.features[3]
        #expect(color.datatype == .bytes)
        #expect(color.categories?.isEmpty == false)
        #expect(schema.tensors?.map(\.name) == ["age", "income", "score", "color", "city"])
        #expect(schema.tensors?.allSatisfy { $0.width == 1 && $0.perRowShape == [1] } == true)
        // A wrong name or a wrong width is refused naming the input.
        #expect(throws: FerryError.self) {
            try schema.matrix(from: [Tensor(name: "colour", datatype: .bytes, shape: [1, 1], data: .bytes([Array("red".utf8)]))], limits: InferenceLimits())
        }
        do {
            _ = try schema.matrix(from: [Tensor(name: "age", datatype: .fp32, shape: [1, 2], data: .float32([1, 2]))], limits: InferenceLimits())
            Issue.record("a [1, 2] tensor for a [N, 1] input was accepted")
        } catch let error as FerryError {
            #expect(error.message == "input 'age' has shape [1, 2]; expected [N, 1]")
        }
    }
}
