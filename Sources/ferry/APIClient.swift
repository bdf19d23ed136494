import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A failure to report to the user: printed on stderr, exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// The CLI's HTTP client for a running Ferry server.
struct APIClient {
    let base: String
    /// Sent as a bearer token; nil sends no credentials.
    var apiKey: String?

    func get(_ path: String) async throws -> Data { try await send(.GET, path) }

    /// One client for the process, never shut down (it lives as long as the process). A server that refuses the
    /// connection (it is not running) is reported at once, and one that does not answer within 10 s is reported
    /// then: the shared client tried again and again for 90 s before the CLI said anything.
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// GETs `path` into `output` as it arrives, a piece at a time, each piece also shown to `written`: a quarantine
    /// or a job's results can be larger than memory (collecting 146 MB before writing it took the CLI 0.6 s).
    func get(_ path: String, into output: FileHandle, written: (ByteBuffer) -> Void = { _ in }) async throws {
        _ = try await send(.GET, path, body: nil, contentType: "", into: output, written: written)
    }

    /// Calls `body` with a file next to `path` to write, which takes `path`'s place once `body` returns; when it
    /// throws, the file is removed and whatever was at `path` is left as it was (an answer that failed midway, or
    /// an error before it, emptied the file it was to replace). `what` names it in the error (e.g. "--out").
    static func writing<R>(_ path: String, what: String, _ body: (FileHandle) async throws -> R) async throws -> R {
        let url = URL(fileURLWithPath: path)
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
        guard FileManager.default.createFile(atPath: partial, contents: nil), let handle = FileHandle(forWritingAtPath: partial) else {
            throw CLIError("cannot write \(what) '\(path)'")
        }
        do {
            let result = try await body(handle)
            try handle.close()
            guard rename(partial, path) == 0 else { throw CLIError("cannot write \(what) '\(path)': \(String(cString: strerror(errno)))") }
            return result
        } catch {
            try? handle.close()
            unlink(partial)
            throw error
        }
    }

    func send(_ method: HTTPMethod, _ path: String, json: Data? = nil, contentType: String = "application/json") async throws -> Data {
        try await send(method, path, body: json.map { .bytes(ByteBuffer(bytes: $0)) }, contentType: contentType)
    }

    /// POSTs a local file as the body, read a megabyte at a time (a file may be larger than memory); with `into`,
    /// a successful answer is written to that file as it arrives instead of returned, each piece also shown to
    /// `written`.
    func upload(
        _ path: String, file: String, contentType: String = "application/octet-stream", into output: FileHandle? = nil,
        written: (ByteBuffer) -> Void = { _ in }
    ) async throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: file),
              let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int else {
            throw CLIError("cannot read '\(file)'")
        }
        defer { try? handle.close() }
        return try await send(.POST, path, body: .stream(FileChunks(handle: handle), length: .known(Int64(size))), contentType: contentType, into: output, written: written)
    }

    /// A file's bytes a megabyte at a time, each read when the upload asks for it, straight into the buffer that is
    /// sent (not into a `Data` copied into it: at 1.2 GB that copy and its fresh pages were a third of the CLI's CPU).
    struct FileChunks: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let handle: FileHandle

        struct AsyncIterator: AsyncIteratorProtocol {
            let handle: FileHandle
            mutating func next() async throws -> ByteBuffer? {
                var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
                let descriptor = handle.fileDescriptor
                let got = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { raw -> Int in
                    while true {
                        let n = read(descriptor, raw.baseAddress, Swift.min(raw.count, 1 << 20))
                        if n >= 0 { return n }
                        guard errno == EINTR else { throw CLIError("cannot read the file: \(String(cString: strerror(errno)))") }
                    }
                }
                return got == 0 ? nil : buffer
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(handle: handle) }
    }

    private func send(
        _ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body?, contentType: String, into output: FileHandle? = nil,
        written: (ByteBuffer) -> Void = { _ in }
    ) async throws -> Data {
        let url = base.hasSuffix("/") ? String(base.dropLast()) + path : base + path
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = body
        }
        let response: HTTPClientResponse
        do {
            response = try await Self.client.execute(request, timeout: .seconds(300))
        } catch {
            throw CLIError("could not reach Ferry at \(base) (\(error)); is `ferry serve` running? Use --server to point elsewhere.")
        }
        if let output, (200..<300).contains(response.status.code) {
            for try await buffer in response.body {
                try output.write(contentsOf: buffer.readableBytesView)
                written(buffer)
            }
            return Data()
        }
        let body = Data(buffer: try await response.body.collect(upTo: 1 << 30))
        guard (200..<300).contains(response.status.code) else {
            let hint = response.status.code == 401 && apiKey == nil ? "; set FERRY_API_KEY or pass --api-key" : ""
            // Ferry's `{"error"}`, or MLflow's `{"error_code", "message"}` on its API.
            if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
               let message = object["error"] as? String ?? object["message"] as? String {
                throw CLIError("\(message) (HTTP \(response.status.code))\(hint)")
            }
            throw CLIError("server answered HTTP \(response.status.code): \(String(decoding: body.prefix(500), as: UTF8.self))")
        }
        return body
    }

    /// Percent-encodes one query value.
    static func query(_ s: String) -> String { segment(s) }

    /// Percent-encodes one path segment.
    static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}

/// Output helpers shared by commands.
enum Output {
    static func printJSON(_ data: Data) {
        if let object = try? JSONSerialization.jsonObject(with: data),
           let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    static func object(_ data: Data) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIError("server answered with unexpected JSON")
        }
        return object
    }

    /// Prints rows as aligned columns under a header.
    static func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        print(line(header))
        for row in rows { print(line(row)) }
    }

    /// An object's members as `key=value` pairs sorted by key ("-" when empty or absent).
    static func pairs(_ value: Any?) -> String {
        guard let object = value as? [String: Any], !object.isEmpty else { return "-" }
        return object.sorted { $0.key < $1.key }.map { "\($0.key)=\(text($0.value))" }.joined(separator: ",")
    }

    /// A number as a person reads it in a table: integers without a fraction, others to 6 significant digits
    /// (a computed 0.000055316000000000004 prints as 5.5316e-05). `--json` keeps every digit.
    static func number(_ n: NSNumber) -> String {
        let d = n.doubleValue
        if d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
        return String(format: "%.6g", d)
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return "-"
        case let s as String: return s
        case let n as NSNumber: return number(n)
        case let a as [Any]: return a.map { text($0) }.joined(separator: ",")
        case let o as [String: Any]: return pairs(o)
        default: return "\(value!)"
        }
    }
}
