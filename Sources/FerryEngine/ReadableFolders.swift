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

    /// The folders for a message.
    public var description: String { folders.isEmpty ? "none" : folders.joined(separator: ", ") }
}
