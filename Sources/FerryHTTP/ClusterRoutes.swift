import FerryCore
import FerryEngine
import Hummingbird

/// `GET /api/v1/cluster`: which replica answered, whether it leads, and how far it has followed the shared store.
struct ClusterRoutes {
    let replica: Replica

    func add(to router: Router<FerryRequestContext>) {
        router.get("/api/v1/cluster") { _, _ in
            try API.response(API.ClusterBody(replica))
        }
    }
}

extension API {
    struct ClusterBody: Encodable {
        var replica: String
        var leader: Bool
        var store: String
        var appliedChange: Int64?

        enum CodingKeys: String, CodingKey { case replica, leader, store, appliedChange = "applied_change" }

        init(_ r: Replica) {
            (replica, leader, store, appliedChange) = (r.id, r.leadership.isLeader, r.store, r.follower?.applied)
        }
    }
}

func replicaMetrics(_ replica: Replica?) -> [(name: String, help: String, type: String, value: Double)] {
    guard let replica else { return [] }
    return [("ferry_leader", "1 when this replica runs the rollout controller, alert evaluation, retention and webhooks.", "gauge",
             replica.leadership.isLeader ? 1 : 0)]
}
