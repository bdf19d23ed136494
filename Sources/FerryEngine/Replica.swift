import FerryCore
import Foundation

/// This server among the replicas sharing its store: its name, whether it leads, how far it has followed the
/// changes others committed.
public struct Replica: Sendable {
    public let id: String
    /// "sqlite", "memory" or "postgres".
    public let store: String
    public let leadership: any Leadership
    /// Nil when the server runs alone on its store (nothing to follow).
    public let follower: ChangeFollower?

    public init(id: String, store: String, leadership: any Leadership, follower: ChangeFollower?) {
        self.id = id
        self.store = store
        self.leadership = leadership
        self.follower = follower
    }

    /// The default name of a replica: the host's name (the pod's, on Kubernetes) and the process id.
    public static var defaultID: String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }
}
