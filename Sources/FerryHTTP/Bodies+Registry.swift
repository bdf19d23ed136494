import FerryCore
import FerryEngine
import Foundation

// Registry answers: response bodies copying domain types field by field (see `ControlPlaneBodies.swift`).
extension API {
    /// A move of an alias: answers `PUT`/`DELETE /api/v1/models/{name}/aliases/{alias}` and, in a list,
    /// `GET /api/v1/models/{name}/alias-history`. `from` is left out when the alias was created, `to` when it was removed.
    struct AliasEventBody: Encodable, Sendable {
        var sequence: Int64
        var model: String
        var alias: String
        var from: Int?
        var to: Int?
        var by: String
        var at: Date
        var reason: String

        enum CodingKeys: String, CodingKey {
            case sequence, model, alias, from, to, by, at, reason
        }

        init(_ domain: AliasEvent) {
            sequence = domain.sequence
            model = domain.model
            alias = domain.alias
            from = domain.from
            to = domain.to
            by = domain.by
            at = domain.at
            reason = domain.reason
        }
    }
}
