import Crypto
import FerryCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Artifacts as files under a data folder, addressed by SHA-256: `<root>/sha256/ab/abcdef…`.
///
/// Writes go to a temporary file that is fsynced, renamed into place and whose folder is fsynced, so an artifact is
/// either absent or complete after a crash. Every read re-hashes the bytes and refuses a mismatch.
public struct LocalArtifactStore: ArtifactStore {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
    }

    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).hexString
    }

    func url(for sha256: String) -> URL {
        root.appendingPathComponent("sha256").appendingPathComponent(String(sha256.prefix(2))).appendingPathComponent(sha256)
    }

    public func put(_ data: Data) async throws -> ArtifactRef {
        let digest = Self.sha256(data)
        let ref = ArtifactRef(sha256: digest, size: data.count)
        let final = url(for: digest)
        if let existing = try? Data(contentsOf: final), Self.sha256(existing) == digest { return ref }
        let folder = final.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temp = root.appendingPathComponent("tmp").appendingPathComponent(UUID().uuidString)
        do {
            try Self.writeDurably(data, to: temp.path)
            guard rename(temp.path, final.path) == 0 else { throw Self.posixError("rename artifact into place") }
            try Self.syncFolder(folder.path)
        } catch {
            unlink(temp.path)
            // A full disk is said as such (503, with the reason), not hidden as an internal error.
            if (error as? FerryError)?.code == .unavailable {
                throw FerryError(.unavailable, "could not store artifact sha256:\(digest): the disk holding \(root.path) is full; free space and retry", cause: error)
            }
            throw FerryError(.internal, "could not store artifact sha256:\(digest) under \(root.path)", cause: error)
        }
        return ref
    }

    public func get(_ ref: ArtifactRef) async throws -> Data {
        let file = url(for: ref.sha256)
        guard let data = try? Data(contentsOf: file) else {
            throw FerryError(.notFound, "artifact sha256:\(ref.sha256) is missing from \(root.path)")
        }
        let actual = Self.sha256(data)
        guard actual == ref.sha256, data.count == ref.size else {
            throw FerryError(.integrity, "artifact sha256:\(ref.sha256) failed verification: the file at \(file.path) hashes to sha256:\(actual) (\(data.count) bytes); it was modified or corrupted, re-register the version")
        }
        return data
    }

    public func contains(sha256: String) async throws -> Bool {
        FileManager.default.fileExists(atPath: url(for: sha256).path)
    }

    public func delete(sha256: String) async throws {
        let file = url(for: sha256)
        if unlink(file.path) != 0 && errno != ENOENT { throw Self.posixError("delete artifact sha256:\(sha256)") }
        try? Self.syncFolder(file.deletingLastPathComponent().path)
    }

    // MARK: POSIX helpers

    static func writeDurably(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw posixError("create \(path)") }
        defer { close(fd) }
        try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw posixError("write \(path)")
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw posixError("fsync \(path)") }
    }

    static func syncFolder(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw posixError("open folder \(path)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw posixError("fsync folder \(path)") }
    }

    /// The failure of a system call, from `errno`: `.unavailable` when the disk or the quota is full.
    static func posixError(_ what: String) -> FerryError {
        let code = errno
        return FerryError(code == ENOSPC || code == EDQUOT ? .unavailable : .internal, "\(what) failed: \(String(cString: strerror(code)))")
    }
}
