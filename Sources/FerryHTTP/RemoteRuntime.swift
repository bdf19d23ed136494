import AsyncHTTPClient
import FerryCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

extension ModelFormat {
    /// A version served by a remote Open Inference Protocol server (Triton, MLServer, KServe, another Ferry).
    public static let remoteV2 = ModelFormat(rawValue: "remote-v2")
}

/// Where a remote version lives and what it takes: the registered artifact, as JSON. `inputs` and `outputs` are
/// the remote's metadata, filled in at registration; header values may name environment variables as `${NAME}`,
/// so a secret stays in the server's environment and out of the registry.
struct RemoteDescriptor: Codable, Sendable, Equatable {
    struct TensorSpec: Codable, Sendable, Equatable, CustomStringConvertible {
        var name: String
        var datatype: String
        var shape: [Int]
        var description: String { "'\(name)' \(datatype) \(shape)" }
    }

    var url: String
    var model: String
    var version: String?
    var timeoutMs: Int?
    var headers: [String: String]?
    /// A PEM file on this server with the certificate authorities that sign the remote's certificate (https URLs
    /// are otherwise checked against the system's trust store).
    var caFile: String?
    var inputs: [TensorSpec]?
    var outputs: [TensorSpec]?
    /// Names of the remote's features, when its metadata gives them (another Ferry does).
    var features: [String]?

    enum CodingKeys: String, CodingKey {
        case url, model, version, headers, inputs, outputs, features
        case timeoutMs = "timeout_ms", caFile = "ca_file"
    }

    struct Envelope: Codable { var remote: RemoteDescriptor }

    static func parse(_ artifact: Data) throws -> RemoteDescriptor {
        let descriptor: RemoteDescriptor
        do {
            descriptor = try JSONDecoder().decode(Envelope.self, from: artifact).remote
        } catch {
            throw FerryError.invalid("not a remote backend descriptor: expected {\"remote\": {\"url\": ..., \"model\": ...}}")
        }
        guard let url = URL(string: descriptor.url), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
            throw FerryError.invalid("remote url '\(descriptor.url)' is not an http:// or https:// URL")
        }
        guard !descriptor.model.isEmpty, !descriptor.model.contains("/") else {
            throw FerryError.invalid("remote model '\(descriptor.model)' is not a model name")
        }
        if let t = descriptor.timeoutMs, t <= 0 || t > 600_000 {
            throw FerryError.invalid("remote timeout_ms \(t) is outside 1...600000")
        }
        if descriptor.caFile != nil && url.scheme != "https" {
            throw FerryError.invalid("remote ca_file is given but the url '\(descriptor.url)' is not https://")
        }
        return descriptor
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(Envelope(remote: self))
    }

    var base: String {
        let root = url.hasSuffix("/") ? String(url.dropLast()) : url
        let path = "\(root)/v2/models/\(model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? model)"
        return version.map { "\(path)/versions/\($0)" } ?? path
    }

    /// The remote server's metadata (`GET /v2`), whose `extensions` say whether it reads binary tensors.
    var serverBase: String {
        let root = url.hasSuffix("/") ? String(url.dropLast()) : url
        return "\(root)/v2"
    }

    var timeout: TimeAmount { .milliseconds(Int64(timeoutMs ?? 5000)) }
    /// Reading the remote's metadata (at registration and load, off the request path) may take longer.
    var metadataTimeout: TimeAmount { .milliseconds(Int64(max(timeoutMs ?? 5000, 3000))) }

    /// The headers to send, `${NAME}` replaced from the environment.
    func resolvedHeaders() throws -> [(String, String)] {
        try (headers ?? [:]).sorted { $0.key < $1.key }.map { name, value in
            var text = value
            while let start = text.range(of: "${"), let end = text.range(of: "}", range: start.upperBound..<text.endIndex) {
                let variable = String(text[start.upperBound..<end.lowerBound])
                guard let resolved = ProcessInfo.processInfo.environment[variable] else {
                    throw FerryError(.failedPrecondition, "remote header '\(name)' needs the environment variable \(variable), which is not set on this server")
                }
                text.replaceSubrange(start.lowerBound..<end.upperBound, with: resolved)
            }
            return (name, text)
        }
    }
}

/// Serves versions from a remote Open Inference Protocol server: its metadata is read at registration and checked
/// again at every load, and each request goes out as a V2 request with binary tensors (missing values travel as
/// NaN), or as JSON to a server that does not list the binary tensor extension (MLServer). Everything else stays
/// Ferry's: authentication, limits, validation against the schema, rollouts, the
/// breaker, fallbacks, metrics, the prediction log and drift.
public struct RemoteRuntime: ModelRuntime {
    let client: HTTPClient

    public init(client: HTTPClient = .shared) { self.client = client }

    /// One client per certificate-authority file, for the life of the process; the shared client otherwise.
    private static let clients = Mutex<[String: HTTPClient]>([:])

    func client(for descriptor: RemoteDescriptor) throws -> HTTPClient {
        guard let path = descriptor.caFile else { return client }
        return try Self.clients.withLock { clients in
            if let existing = clients[path] { return existing }
            var tls = TLSConfiguration.makeClientConfiguration()
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            } catch {
                throw FerryError(.failedPrecondition, "remote ca_file '\(path)' is not a readable PEM certificate file on this server (\(error))")
            }
            let created = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            clients[path] = created
            return created
        }
    }

    public var format: ModelFormat { .remoteV2 }

    public func prepare(_ artifact: Data, options: [String: String]) async throws -> Data {
        try checkOptions(options, known: [])
        var descriptor = try RemoteDescriptor.parse(artifact)
        let metadata = try await fetchMetadata(descriptor)
        descriptor.inputs = metadata.inputs
        descriptor.outputs = metadata.outputs
        descriptor.features = metadata.features
        return try descriptor.encoded()
    }

    public func inspect(_ artifact: Data, options: [String: String]) throws -> ModelDescription {
        try checkOptions(options, known: [])
        return try RemoteModel(descriptor: RemoteDescriptor.parse(artifact), client: client).description
    }

    public func load(_ artifact: Data, options: [String: String]) async throws -> any Predictor {
        try checkOptions(options, known: [])
        let descriptor = try RemoteDescriptor.parse(artifact)
        var model = try RemoteModel(descriptor: descriptor, client: client(for: descriptor))
        _ = try model.descriptor.resolvedHeaders()
        let now = try await fetchMetadata(model.descriptor)
        model.binary = try await readsBinaryTensors(descriptor)
        for (kind, registered, current) in [("input", model.descriptor.inputs ?? [], now.inputs), ("output", model.descriptor.outputs ?? [], now.outputs)] {
            guard registered == current else {
                throw FerryError(.failedPrecondition, "remote model '\(model.descriptor.model)' at \(model.descriptor.url) changed since it was registered: its \(kind)s are now \(current.map(\.description).joined(separator: ", ")), registered \(registered.map(\.description).joined(separator: ", ")); register it again")
            }
        }
        return model
    }

    /// Whether the remote server lists the binary tensor extension (`binary_tensor_data`: Triton, KServe's
    /// servers, Ferry); MLServer does not, and takes JSON only.
    func readsBinaryTensors(_ descriptor: RemoteDescriptor) async throws -> Bool {
        var request = HTTPClientRequest(url: descriptor.serverBase)
        for (name, value) in try descriptor.resolvedHeaders() { request.headers.add(name: name, value: value) }
        let (status, body, _) = try await RemoteModel.sendForInference(
            request, descriptor: descriptor, client: client(for: descriptor), timeout: descriptor.metadataTimeout)
        guard status == 200, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return false }
        return (object["extensions"] as? [String])?.contains("binary_tensor_data") == true
    }

    struct Metadata {
        var inputs: [RemoteDescriptor.TensorSpec]
        var outputs: [RemoteDescriptor.TensorSpec]
        var features: [String]?
    }

    func fetchMetadata(_ descriptor: RemoteDescriptor) async throws -> Metadata {
        var request = HTTPClientRequest(url: descriptor.base)
        for (name, value) in try descriptor.resolvedHeaders() { request.headers.add(name: name, value: value) }
        let (status, body, _) = try await RemoteModel.sendForInference(
            request, descriptor: descriptor, client: client(for: descriptor), timeout: descriptor.metadataTimeout)
        guard status == 200 else {
            throw FerryError(.failedPrecondition, "remote model metadata at \(descriptor.base) answered \(status): \(RemoteModel.errorText(body))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw FerryError(.failedPrecondition, "remote model metadata at \(descriptor.base) is not JSON")
        }
        func specs(_ key: String) throws -> [RemoteDescriptor.TensorSpec] {
            guard let list = object[key] as? [[String: Any]], !list.isEmpty else {
                throw FerryError(.failedPrecondition, "remote model metadata at \(descriptor.base) has no \(key)")
            }
            return try list.map { item in
                guard let name = item["name"] as? String, let datatype = item["datatype"] as? String,
                      let shape = (item["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }) else {
                    throw FerryError(.failedPrecondition, "remote model metadata at \(descriptor.base) has a malformed \(key) entry")
                }
                return RemoteDescriptor.TensorSpec(name: name, datatype: datatype, shape: shape)
            }
        }
        let features = (object["parameters"] as? [String: Any])?["features"] as? [String]
        return Metadata(inputs: try specs("inputs"), outputs: try specs("outputs"), features: features)
    }
}

/// A remote version behind Ferry's feature-matrix interface. Each remote input of shape `[-1, d1, d2, ...]` gives
/// d1·d2·... features (named after the input when there is one, `input_j` otherwise); a BYTES input gives text
/// features, sent on as the text the request carried.
struct RemoteModel: RemotePredictor {
    struct Input {
        var spec: RemoteDescriptor.TensorSpec
        var type: DataType
        var width: Int
        var perRowShape: [Int]
    }

    /// Values per row of one input Ferry forwards at most: every value is a feature with its own schema entry,
    /// log column and drift statistics.
    static let maxValuesPerRow = 4096

    let descriptor: RemoteDescriptor
    let client: HTTPClient
    let inputs: [Input]
    let outputs: [(spec: RemoteDescriptor.TensorSpec, type: DataType)]
    let featureCount: Int
    let outputSchema: OutputSchema
    let description: ModelDescription
    /// Requests go out with binary tensors when the remote reads them (read at load), else as JSON.
    var binary = true

    init(descriptor: RemoteDescriptor, client: HTTPClient) throws {
        guard let inputs = descriptor.inputs, let outputs = descriptor.outputs else {
            throw FerryError.invalid("remote backend descriptor has no inputs and outputs (they are read from the remote at registration)")
        }
        self.descriptor = descriptor
        self.client = client
        self.inputs = try inputs.map { spec in
            guard let type = DataType(rawValue: spec.datatype), type != .fp16, type != .bf16 else {
                throw FerryError(.unsupported, "remote input \(spec) has a datatype Ferry does not forward; it forwards FP32, FP64, INT*, UINT*, BOOL and BYTES")
            }
            let perRow = Array(spec.shape.dropFirst())
            guard spec.shape.first == -1, perRow.allSatisfy({ $0 > 0 }) else {
                throw FerryError(.unsupported, "remote input \(spec) needs a variable batch dimension first and fixed dimensions after it ([-1, d1, ...]); Ferry forwards batches of rows")
            }
            let width = perRow.reduce(1, *)
            guard width <= Self.maxValuesPerRow else {
                throw FerryError(.unsupported, "remote input \(spec) has \(width) values per row; Ferry forwards at most \(Self.maxValuesPerRow) per input, each a feature it validates, logs and watches for drift")
            }
            return Input(spec: spec, type: type, width: width, perRowShape: perRow)
        }
        self.outputs = try outputs.map { spec in
            guard let type = DataType(rawValue: spec.datatype), type != .fp16, type != .bf16 else {
                throw FerryError(.unsupported, "remote output \(spec) has a datatype Ferry does not answer (FP16 and BF16 aside, every V2 datatype)")
            }
            return (spec, type)
        }
        let total = self.inputs.reduce(0) { $0 + $1.width }
        featureCount = total
        let names: [String] = descriptor.features?.count == total ? descriptor.features! : self.inputs.flatMap { input in
            input.width == 1 && input.perRowShape.count <= 1 ? [input.spec.name] : (0..<input.width).map { "\(input.spec.name)_\($0)" }
        }
        var features: [FeatureSpec] = []
        var offset = 0
        for input in self.inputs {
            for _ in 0..<input.width {
                // Neither binary tensors nor JSON carry a missing integer or text.
                let integer = [.int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool, .bytes].contains(input.type)
                features.append(FeatureSpec(name: names[offset], datatype: input.type, nullable: !integer))
                offset += 1
            }
        }
        outputSchema = OutputSchema(outputs: self.outputs.map { OutputSpec(name: $0.spec.name, datatype: $0.type, shape: Array($0.spec.shape.dropFirst())) })
        description = ModelDescription(
            inputSchema: InputSchema(features: features, tensors: self.inputs.map {
                InputTensor(name: $0.spec.name, datatype: $0.type, width: $0.width, perRowShape: $0.perRowShape)
            }),
            outputSchema: outputSchema,
            details: [
                "remote_url": .string(descriptor.url), "remote_model": .string(descriptor.model),
                "remote_version": descriptor.version.map { .string($0) } ?? .null,
                "timeout_ms": .number(Double(descriptor.timeoutMs ?? 5000)),
            ])
    }

    func predict(_ batch: FeatureMatrix) throws -> [Tensor] {
        throw FerryError(.internal, "a remote version predicts asynchronously")
    }

    /// Each input's tensor for the rows of `batch`, in the remote's types and shapes.
    func tensors(_ batch: FeatureMatrix) -> [Tensor] {
        var column = 0
        return inputs.map { input in
            defer { column += input.width }
            let shape = [batch.rows] + input.perRowShape
            if input.type == .bytes {
                var texts: [[UInt8]] = []
                texts.reserveCapacity(batch.rows * input.width)
                for r in 0..<batch.rows { for j in 0..<input.width { texts.append(batch.text(row: r, column: column + j) ?? []) } }
                return Tensor(name: input.spec.name, datatype: .bytes, shape: shape, data: .bytes(texts))
            }
            var values = [Double](repeating: 0, count: batch.rows * input.width)
            for r in 0..<batch.rows { for j in 0..<input.width { values[r * input.width + j] = batch.values[r * batch.columns + column + j] } }
            let data: TensorData = switch input.type {
            case .fp32: .float32(values.map(Float.init))
            case .fp64: .float64(values)
            case .bool: .bool(values.map { $0 != 0 })
            // Narrower integers go as Int64 values, which the binary encoder writes in the datatype's width.
            case .uint64: .uint64(values.map { $0.isFinite && $0 >= 0 ? UInt64($0) : 0 })
            default: .int64(values.map { $0.isFinite ? Int64($0) : 0 })
            }
            return Tensor(name: input.spec.name, datatype: input.type, shape: shape, data: data)
        }
    }

    func predictRemotely(_ batch: FeatureMatrix) async throws -> [Tensor] {
        guard batch.columns == featureCount else {
            throw FerryError.invalid("batch has \(batch.columns) columns; the model takes \(featureCount)")
        }
        let tensors = tensors(batch)
        if !binary {
            return try await exchange(try jsonBody(tensors, batch), contentType: "application/json", headerLength: nil, rows: batch.rows)
        }
        // A V2 request with binary tensors: a JSON header, then each input's bytes.
        var blobs: [UInt8] = []
        var inputHeaders: [[String: Any]] = []
        for tensor in tensors {
            let before = blobs.count
            BinaryTensor.encode(tensor, into: &blobs)
            inputHeaders.append([
                "name": tensor.name, "datatype": tensor.datatype.rawValue, "shape": tensor.shape,
                "parameters": ["binary_data_size": blobs.count - before],
            ])
        }
        let header = try JSONSerialization.data(withJSONObject: [
            "inputs": inputHeaders,
            "outputs": outputs.map { ["name": $0.spec.name, "parameters": ["binary_data": true]] },
        ])
        return try await exchange([UInt8](header) + blobs, contentType: "application/octet-stream", headerLength: header.count, rows: batch.rows)
    }

    /// The request as plain JSON, for a remote without the binary tensor extension. JSON has no NaN, so a missing
    /// value is refused, naming its feature.
    func jsonBody(_ tensors: [Tensor], _ batch: FeatureMatrix) throws -> [UInt8] {
        let names = description.inputSchema.featureNames
        var column = 0
        let inputs: [[String: Any]] = try zip(inputs, tensors).map { input, tensor in
            defer { column += input.width }
            let data: [Any]
            switch tensor.data {
            case .bytes(let v): data = v.map { String(decoding: $0, as: UTF8.self) }
            case .bool(let v): data = v
            case .int64(let v): data = v
            case .uint64(let v): data = v
            case .float32, .float64:
                data = try (0..<batch.rows * input.width).map { i -> Double in
                    let (r, j) = i.quotientAndRemainder(dividingBy: input.width)
                    let v = batch.values[r * batch.columns + column + j]
                    guard v.isFinite else {
                        throw FerryError.invalid("row \(r), feature '\(names[column + j])' is \(v.isNaN ? "missing" : "infinite"), and remote backend \(descriptor.url) takes JSON only (its server metadata lists no binary_tensor_data extension), which cannot carry it")
                    }
                    return v
                }
            }
            return ["name": tensor.name, "datatype": tensor.datatype.rawValue, "shape": tensor.shape, "data": data]
        }
        return [UInt8](try JSONSerialization.data(withJSONObject: ["inputs": inputs]))
    }

    /// Sends one inference request and reads its answer: a 4xx (429 aside) is the caller's error, anything else
    /// not 200 is the remote's.
    func exchange(_ body: [UInt8], contentType: String, headerLength: Int?, rows: Int) async throws -> [Tensor] {
        var request = HTTPClientRequest(url: "\(descriptor.base)/infer")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        if let headerLength { request.headers.add(name: "Inference-Header-Content-Length", value: String(headerLength)) }
        for (name, value) in try descriptor.resolvedHeaders() { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let (status, answer, answerHeaderLength) = try await Self.sendForInference(request, descriptor: descriptor, client: client)
        guard status == 200 else {
            let message = "remote backend \(descriptor.url) answered \(status): \(Self.errorText(answer))"
            throw (400..<500).contains(status) && status != 429 ? FerryError.invalid(message) : FerryError(.unavailable, message)
        }
        return try decode(answer, headerLength: answerHeaderLength, rows: rows)
    }

    /// The remote's answer as Ferry's outputs, in the registered order.
    func decode(_ body: Data, headerLength: Int?, rows: Int) throws -> [Tensor] {
        func garbage(_ why: String) -> FerryError {
            FerryError(.unavailable, "remote backend \(descriptor.url) answered something that is not an inference response: \(why)")
        }
        let jsonLength = headerLength ?? body.count
        guard jsonLength <= body.count,
              let object = try? JSONSerialization.jsonObject(with: body.prefix(jsonLength)) as? [String: Any],
              let answered = object["outputs"] as? [[String: Any]] else {
            throw garbage("no JSON object with outputs")
        }
        var offset = jsonLength
        var byName: [String: Tensor] = [:]
        for item in answered {
            guard let name = item["name"] as? String, let datatype = (item["datatype"] as? String).flatMap(DataType.init(rawValue:)),
                  let shape = (item["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }) else {
                throw garbage("an output without name, datatype or shape")
            }
            let count = shape.reduce(1, *)
            let data: TensorData
            if let size = ((item["parameters"] as? [String: Any])?["binary_data_size"] as? NSNumber)?.intValue {
                guard size >= 0, offset + size <= body.count else { throw garbage("output '\(name)' claims more binary data than was sent") }
                data = try body[(body.startIndex + offset)..<(body.startIndex + offset + size)].withUnsafeBytes {
                    try BinaryTensor.decode($0, datatype: datatype, count: count, label: "remote output '\(name)'")
                }
                offset += size
            } else {
                var flat: [Any] = []
                func flatten(_ value: Any) { if let list = value as? [Any] { list.forEach(flatten) } else { flat.append(value) } }
                flatten(item["data"] ?? [])
                if datatype == .bytes {
                    let texts = flat.compactMap { $0 as? String }
                    guard texts.count == flat.count, texts.count == count else { throw garbage("output '\(name)' has data that does not fit its shape") }
                    byName[name] = Tensor(name: name, datatype: datatype, shape: shape, data: .bytes(texts.map { Array($0.utf8) }))
                    continue
                }
                let numbers = flat.compactMap { ($0 as? NSNumber)?.doubleValue }
                guard numbers.count == flat.count, numbers.count == count else { throw garbage("output '\(name)' has data that does not fit its shape") }
                data = switch datatype {
                case .fp32, .fp16, .bf16: .float32(numbers.map(Float.init))
                case .fp64: .float64(numbers)
                case .bool: .bool(numbers.map { $0 != 0 })
                case .uint64: .uint64(numbers.map { UInt64(max(0, $0)) })
                default: .int64(numbers.map { Int64($0) })
                }
            }
            byName[name] = Tensor(name: name, datatype: datatype, shape: shape, data: data)
        }
        return try outputs.map { output in
            guard let tensor = byName[output.spec.name] else { throw garbage("it has no output '\(output.spec.name)'") }
            guard tensor.shape.first == rows else { throw garbage("output '\(output.spec.name)' has \(tensor.shape.first ?? 0) rows for \(rows)") }
            return tensor
        }
    }

    /// One exchange within the timeout (the descriptor's by default); transport failures become errors that name
    /// the remote.
    static func sendForInference(
        _ request: HTTPClientRequest, descriptor: RemoteDescriptor, client: HTTPClient, timeout: TimeAmount? = nil
    ) async throws -> (Int, Data, Int?) {
        let response: HTTPClientResponse
        let limit = timeout ?? descriptor.timeout
        do {
            response = try await client.execute(request, timeout: limit)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw FerryError(.deadlineExceeded, "remote backend \(descriptor.url) did not answer within \(limit.nanoseconds / 1_000_000) ms")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw FerryError(.unavailable, "remote backend \(descriptor.url) cannot be reached: \(error)")
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw FerryError(.unavailable, "remote backend \(descriptor.url) broke off its answer: \(error)")
        }
        let headerLength = response.headers.first(name: "Inference-Header-Content-Length").flatMap { Int($0) }
        return (Int(response.status.code), Data(buffer: body), headerLength)
    }

    /// The `error` field of a JSON error answer, or the start of the body.
    static func errorText(_ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let error = object["error"] as? String { return error }
        return String(decoding: body.prefix(200), as: UTF8.self)
    }
}
