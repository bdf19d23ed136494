import FerryCore
import Foundation

/// Runs a trainer program in a process group of its own: its output (stdout and stderr) goes to a log file, whose
/// last 64 KiB are returned; past the timeout the whole group (a shell and the programs it started) is sent SIGTERM,
/// then SIGKILL five seconds later.
enum TrainerProcess {
    enum Status: Equatable {
        case exited(Int32)
        case timedOut
    }

    /// Runs in the server's working directory, so a policy's relative paths mean what they mean to the operator.
    static func run(
        _ argv: [String], environment: [String: String], log: URL, timeout: Duration
    ) async throws -> (Status, String) {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        // Foundation starts the child as the leader of a process group of its own (its pid is the group's id).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.environment = environment
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw FerryError(.failedPrecondition, "the trainer '\(argv.joined(separator: " "))' could not be started: \(error)")
        }
        let deadline = ContinuousClock.now + timeout
        var status = Status.timedOut
        while true {
            if !process.isRunning {
                status = .exited(process.terminationStatus)
                break
            }
            if ContinuousClock.now >= deadline {
                let group = -process.processIdentifier
                kill(group, SIGTERM)
                let grace = ContinuousClock.now + .seconds(5)
                while process.isRunning && ContinuousClock.now < grace { try? await Task.sleep(for: .milliseconds(50)) }
                kill(group, SIGKILL)
                process.waitUntilExit()
                break
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let text = (try? Data(contentsOf: log)).map { String(decoding: $0.suffix(64 << 10), as: UTF8.self) } ?? ""
        return (status, text)
    }
}
