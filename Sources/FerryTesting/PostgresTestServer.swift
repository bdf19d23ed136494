import FerryCore
import Foundation
import Logging
import FerryStorePostgres
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL for the tests: `FERRY_TEST_DATABASE_URL` (a server where the user may create databases) when
/// set, else a throwaway server started from the PostgreSQL binaries on this machine (initdb + postgres in a
/// temporary folder, stopped and removed when the test process exits). Without either the tests fail, naming what is missing;
/// they never skip.
public actor PostgresTestServer {
    public static let shared = PostgresTestServer()

    /// Started once, however many tests ask at the same time (an actor re-enters at every await).
    private var admin: Task<URLComponents, any Error>?

    /// Migrated once, then copied for every `freshDatabase(migrated: true)`.
    private var template: Task<String, any Error>?

    /// A new database on the server, as a `postgres://` URL: a copy of one migrated to Ferry's schema, or
    /// empty (`migrated: false`, for the tests of migrating itself). Copying a migrated template spares each
    /// case the migrations, which took 14 to 18 s per database with the whole suite migrating at once.
    public func freshDatabase(migrated: Bool = true) async throws -> String {
        let admin = try await server()
        let template = migrated ? try await migratedTemplate(admin) : nil
        return try await Self.create(admin, template: template)
    }

    private static func create(_ admin: URLComponents, template: String?) async throws -> String {
        let name = "ferry_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        var server = admin
        server.path = "/postgres"
        server.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
        let logger = Logger(label: "ferry-test-postgres")
        // A template is copied only once no session is connected to it: the store that migrated it may still be
        // closing its connections.
        var attempt = 0
        while true {
            do {
                try await PostgresAdministration.createDatabase(named: name, template: template, server: server.string!, logger: logger)
                break
            } catch where template != nil && attempt < 100 && "\(String(reflecting: error))".contains("being accessed by other users") {
                attempt += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        var url = admin
        url.path = "/" + name
        url.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
        return url.string!
    }

    private func migratedTemplate(_ admin: URLComponents) async throws -> String {
        if let template { return try await template.value }
        let task = Task<String, any Error> {
            let url = try await Self.create(admin, template: nil)
            let store = try await PostgresMetadataStore(url: url, logger: Logger(label: "ferry-test-postgres"))
            store.shutdown()
            return String(URLComponents(string: url)!.path.dropFirst())
        }
        template = task
        return try await task.value
    }

    private func server() async throws -> URLComponents {
        if let admin { return try await admin.value }
        let task = Task<URLComponents, any Error> {
            if let given = ProcessInfo.processInfo.environment["FERRY_TEST_DATABASE_URL"], !given.isEmpty {
                guard let url = URLComponents(string: given), url.host != nil else {
                    throw FerryError.invalid("FERRY_TEST_DATABASE_URL '\(given)' is not a postgres:// URL")
                }
                return url
            }
            return try await Self.startThrowaway()
        }
        admin = task
        return try await task.value
    }

    /// Starts PostgreSQL in a temporary folder on a free port (as the `postgres` user when running as root, since
    /// initdb refuses root).
    private static func startThrowaway() async throws -> URLComponents {
        let candidates = ["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"]
        guard let bin = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }) else {
            throw FerryError(
                .failedPrecondition,
                "no PostgreSQL server binaries (initdb) in \(candidates.joined(separator: ", ")): install the PostgreSQL server or set FERRY_TEST_DATABASE_URL")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let root = getuid() == 0
        if root { try await run("/bin/chown", ["postgres:postgres", dir]) }
        func asOwner(_ tool: String, _ arguments: [String]) async throws {
            if root {
                try await run("/usr/sbin/runuser", ["-u", "postgres", "--", bin + "/" + tool] + arguments)
            } else {
                try await run(bin + "/" + tool, arguments)
            }
        }
        let port = try freePort()
        try await asOwner("initdb", ["-D", dir + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        // The server runs as a child of this process (pg_ctl -w does not return under Foundation's Process here);
        // it is ready when it accepts a TCP connection.
        let server = Process()
        let command = (root ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [
            bin + "/postgres", "-D", dir + "/data", "-p", "\(port)", "-k", dir, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "max_connections=300",
        ]
        server.executableURL = URL(fileURLWithPath: command[0])
        server.arguments = Array(command.dropFirst())
        FileManager.default.createFile(atPath: dir + "/server.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/server.log"))
        server.standardOutput = log
        server.standardError = log
        try server.run()
        var ready = false
        for _ in 0..<300 where !ready {
            ready = accepts(port)
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard ready else {
            let text = (try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? ""
            throw FerryError(.failedPrecondition, "the throwaway PostgreSQL did not start within 30 s: \(text.suffix(2000))")
        }
        folder = dir
        stopCommand = (root ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [bin + "/pg_ctl", "-D", dir + "/data", "-m", "immediate", "-w", "stop"]
        atexit {
            guard let command = PostgresTestServer.stopCommand else { return }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
            if let folder = PostgresTestServer.folder { try? FileManager.default.removeItem(atPath: folder) }
        }
        var url = URLComponents()
        url.scheme = "postgres"
        url.host = "127.0.0.1"
        url.port = port
        url.user = "postgres"
        return url
    }

    /// How to stop the throwaway server and where it lives, for the exit handler (set once, before it can run).
    nonisolated(unsafe) static var stopCommand: [String]?
    nonisolated(unsafe) static var folder: String?

    /// Runs a command to its end. (`Process.waitUntilExit` spins a run loop that never turns on Swift's concurrency
    /// threads; the termination handler resumes instead.)
    private static func run(_ path: String, _ arguments: [String]) async throws {
        // Output goes to a file, not a pipe: the server pg_ctl starts inherits the descriptors and would keep a pipe
        // open forever.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pg-run-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        let finished = AsyncStream<Void> { continuation in
            process.terminationHandler = { _ in
                continuation.yield()
                continuation.finish()
            }
        }
        try process.run()
        for await _ in finished {}
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw FerryError(.failedPrecondition, "\(path) \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw FerryError(.internal, "could not find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
