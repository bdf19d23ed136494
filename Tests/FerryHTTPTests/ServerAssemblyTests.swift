import FerryCore
import FerryServer
import FerryTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The composition root as `ferry serve` uses it: the data folder's lock and the real HTTP server.
struct ServerAssemblyTests {
    /// A second server on a folder a running server holds refuses to start, naming the folder and the holder.
    @Test func aSecondServerOnTheSameDataFolderRefusesToStart() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = ServerConfiguration(store: .sqlite, dataDirectory: folder, serverVersion: "test", authentication: false)
        let first = try await FerryServer.build(configuration, logger: .init(label: "t"))
        await #expect {
            _ = try await FerryServer.build(configuration, logger: .init(label: "t"))
        } throws: { error in
            let message = (error as? FerryError)?.message ?? "\(error)"
            return message.contains(folder.path) && message.contains("pid \(getpid())")
        }
        withExtendedLifetime(first) {}
    }

    /// The background services `ferry serve` runs are the server's own: the prediction log's writer writes what a
    /// request queued without anyone flushing, and the rollout controller promotes a blue-green rollout whose
    /// bake time is over; on graceful shutdown they all return.
    @Test func backgroundServicesRunAndStopWithTheServer() async throws {
        let stack = try await TestStack {
            $0.rolloutInterval = .milliseconds(10)
            $0.predictionLog?.flushInterval = .milliseconds(10)
        }
        defer { stack.tearDown() }
        try await stack.registerFake("m", value: 0)
        try await stack.registerFake("m", value: 1)
        _ = try await stack.endpoints.put(Endpoint(name: "ep", variants: [.init(model: "m", version: 1, weight: 1)], createdBy: "t", updatedAt: Date()), by: "t")
        var gates = RolloutGates()
        gates.minRequests = 1
        try await stack.endpoints.startRollout(
            endpoint: "ep", to: VersionRef(model: "m", version: 2), plan: RolloutPlan(steps: [100], bakeSeconds: 0, gates: gates), by: "t")
        let group = ServiceGroup(configuration: .init(services: stack.server.backgroundServices, logger: Logger(label: "t")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let response = try await stack.dataPlane.infer(
                model: "ep", version: nil,
                request: InferenceRequest(inputs: [Tensor(name: "input", datatype: .fp64, shape: [1, 3], data: .float64([1, 2, 3]))]))
            let id = try #require(response.serving.predictionID)
            // Bounded waits for the services' effects (not timing assertions: they fail only if nothing happens).
            var logged: PredictionRecord?
            var status = stack.endpoints.rollout(endpoint: "ep")?.status
            for _ in 0..<500 where logged == nil || status == .running {
                try await Task.sleep(for: .milliseconds(10))
                if logged == nil { logged = try await stack.predictionLog.record(id: id) }
                status = stack.endpoints.rollout(endpoint: "ep")?.status
            }
            #expect(logged?.version == 2, "the writer wrote the queued record")
            #expect(status == .promoted, "the rollout controller judged the step: \(String(describing: stack.endpoints.rollout(endpoint: "ep")))")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// `Expect: 100-continue` (curl's default above 1 MiB) is answered at once, so the body follows without the
    /// client waiting for its own timeout.
    @Test func expectContinueIsAnswered() async throws {
        let stack = try await TestStack { $0.port = 0 }
        defer { stack.tearDown() }
        try await stack.server.application().test(.live) { client in
            let port = try #require(client.port)
            let body = #"{"instances": [[1,2,3,4,5,6,7,8,9,10,11,12]]}"#
            let (interim, answer) = try await onOwnThread {
                let connection = try RawConnection(port: port)
                try connection.send(
                    "POST /v1/models/fraud:predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
                // No body yet: the server must answer 100 before the client sends it. A silent server times out here.
                let interim = try connection.receive()
                try connection.send(body)
                var answer = try connection.receive()
                if answer.isEmpty || !answer.contains("HTTP/1.1 ") { answer += try connection.receive() }
                return (interim, answer)
            }
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue"), "\(interim)")
            #expect(answer.contains("HTTP/1.1 404") || answer.contains("HTTP/1.1 200"), "\(answer)")
        }
    }
}

extension ServerAssemblyTests {
    /// A request that does not keep its connection (HTTP/1.0 without keep-alive, `Connection: close` in any
    /// spelling) is answered and its connection closed; one that keeps it is answered on it again.
    @Test func connectionsAreClosedWhenTheRequestSaysSo() async throws {
        let stack = try await TestStack { $0.port = 0 }
        defer { stack.tearDown() }
        try await stack.server.application().test(.live) { client in
            let port = try #require(client.port)
            @Sendable func get(_ version: String, _ header: String) -> String {
                "GET /v2/health/live HTTP/1.\(version)\r\nHost: localhost\r\n\(header)\r\n"
            }
            for (version, header, closed) in [
                ("0", "", true), ("1", "Connection: Close\r\n", true), ("1", "Connection: keep-alive, close\r\n", true),
                ("0", "Connection: keep-alive\r\n", false), ("1", "", false),
            ] {
                let (status, closes) = try await onOwnThread {
                    let connection = try RawConnection(port: port)
                    let answer = try connection.exchange(get(version, header))
                    return (answer.status, connection.closes())
                }
                #expect(status == "200 OK", "HTTP/1.\(version) \(header): \(status)")
                #expect(closes == closed, "HTTP/1.\(version) \(header.isEmpty ? "(no Connection header)" : header): closed \(closes)")
            }
        }
    }
}

/// A blocking TCP connection to 127.0.0.1 with a 5-second receive timeout, for protocol-level checks.
final class RawConnection: @unchecked Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw FerryError(.internal, "connect failed: \(errno)") }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw FerryError(.internal, "write failed") }
    }

    /// What arrives next (empty after the timeout).
    func receive() throws -> String {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    /// Whether the server closes the connection before the receive timeout, with nothing more sent.
    func closes() -> Bool {
        var byte: UInt8 = 0
        return read(fd, &byte, 1) == 0
    }

    /// An HTTP/1.1 answer read whole: its status line, headers and body (as long as its Content-Length says).
    struct Answer {
        var status: String
        var headers: HTTPFields
        var text: String
    }

    /// Sends `request` and reads the answer to it.
    func exchange(_ request: String) throws -> Answer {
        try send(request)
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = received.firstRange(of: Array("\r\n\r\n".utf8)) {
                let lines = String(decoding: received[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
                var headers = HTTPFields()
                for line in lines.dropFirst() {
                    let colon = try #require(line.firstIndex(of: ":"), "header line \(line)")
                    headers.append(HTTPField(name: try #require(HTTPField.Name(String(line[..<colon]))), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
                let length = Int(headers[.contentLength] ?? "0") ?? 0
                if received.count >= end.upperBound + length {
                    return Answer(status: String(lines[0].dropFirst("HTTP/1.1 ".count)), headers: headers,
                                  text: String(decoding: received[end.upperBound..<(end.upperBound + length)], as: UTF8.self))
                }
            }
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { throw FerryError(.internal, "the connection ended or timed out after \(String(decoding: received, as: UTF8.self))") }
            received += buffer[0..<n]
        }
    }

    deinit { close(fd) }
}
