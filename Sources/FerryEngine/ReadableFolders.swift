import FerryCore
import Foundation

/// The folders whose files the server may read by a path a client names (an operator's allow-list: batch job inputs,
/// feature view sources). Paths are compared with symbolic links resolved, so a link cannot lead out of a folder.
public struct ReadableFolders: Sendable {
    /// The folders, symbolic links resolved; empty: no file may be read by path.
    public let folders: [String]

    public init(_ folders: [String]) {
        self.folders = folders.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
    }

    /// `path` with symbolic links resolved when it lies inside one of the folders, else nil.
    public func resolve(_ path: String) -> String? {
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let inside = folders.contains { folder in
            folder == "/" || resolved == folder || resolved.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
        }
        return inside ? resolved : nil
    }

    /// `path` with symbolic links resolved, when it is an existing regular file inside one of the folders; else the error a
    /// client sees, naming `field` (e.g. "field 'path'"), what the folders hold (e.g. "jobs") and `flag`, the server
    /// option that allows folders.
    public func file(_ path: String, field: String, holding what: String, flag: String) throws -> String {
        guard !folders.isEmpty else {
            throw FerryError(.permissionDenied, "\(field): this server reads no files by path for \(what) (its operator allows folders with `ferry serve \(flag) DIR`); upload the file instead")
        }
        guard let resolved = resolve(path) else {
            throw FerryError(.permissionDenied, "\(field) is '\(path)', which is outside the folders this server reads \(what) from (\(description))")
        }
        // A regular file: a folder is refused, and so is a named pipe or a device, whose reading might never end.
        var status = stat()
        guard stat(resolved, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw FerryError.invalid("\(field) is '\(path)', which is not a file this server can read")
        }
        return resolved
    }

    /// The folders for a message.
    public var description: String { folders.isEmpty ? "none" : folders.joined(separator: ", ") }
}
