import FerryCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock on a data directory (`ferry.lock`), held while the server runs.
///
/// One embedded store belongs to one server: a second server on the same folder would serve its own cached view
/// of aliases and endpoints and silently drift apart. The kernel releases the lock when the holder exits, however
/// it exits, so a crash never leaves a folder locked. The holder's pid is written into the file for the message.
public final class DataDirectoryLock: Sendable {
    public let path: String
    private let descriptor: Int32

    public init(directory: URL) throws {
        path = directory.appendingPathComponent("ferry.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FerryError(.failedPrecondition, "cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = Self.readPID(fd)
            close(fd)
            throw FerryError(
                .failedPrecondition,
                "the data folder \(directory.path) is in use by another Ferry server\(holder.map { " (pid \($0))" } ?? ""); stop it, or start this one with another --data-dir")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        descriptor = fd
    }

    /// The pid written by the holder, if any.
    private static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit { close(descriptor) }
}
