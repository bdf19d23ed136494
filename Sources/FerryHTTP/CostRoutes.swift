import FerryCore
import FerryEngine
import Foundation
import Hummingbird

/// `GET /api/v1/cost`: CPU, memory and cost per model version and per principal, on this replica since it started.
struct CostRoutes {
    typealias Context = FerryRequestContext
    let cost: CostMeter

    func add(to router: Router<Context>) {
        router.get("/api/v1/cost") { _, context in
            let principal = context.principal ?? .anonymous
            let visible = principal.models.map(Set.init)
            let versions = cost.versions().filter { visible?.contains($0.0.model) ?? true }
            // Other clients' figures are for admins; everyone sees their own.
            let principals = cost.principals().filter { principal.role == .admin || $0.0 == principal.id }
            return try API.response(API.CostBody(
                prices: .init(cpuHour: cost.prices.cpuHour, gibHour: cost.prices.gibHour),
                models: versions.map { API.CostBody.Row(model: $0.0.model, version: $0.0.version, principal: nil, $0.1, cost.prices) },
                principals: principals.map { API.CostBody.Row(model: nil, version: nil, principal: $0.0, $0.1, cost.prices) }))
        }
    }
}

extension API {
    struct CostBody: Encodable, Sendable {
        struct Prices: Encodable, Sendable {
            var cpuHour: Double?
            var gibHour: Double?
            enum CodingKeys: String, CodingKey { case cpuHour = "cpu_hour", gibHour = "gib_hour" }
        }

        struct Row: Encodable, Sendable {
            var model: String?
            var version: Int?
            var principal: String?
            var requests: Int
            var predictions: Int
            var cpuSeconds: Double
            /// Mean CPU time per request, in microseconds.
            var cpuMicrosPerRequest: Double?
            var memoryGiBHours: Double
            var cost: Double?
            var costPer1000Predictions: Double?

            enum CodingKeys: String, CodingKey {
                case model, version, principal, requests, predictions, cost
                case cpuSeconds = "cpu_seconds", cpuMicrosPerRequest = "cpu_us_per_request", memoryGiBHours = "memory_gib_hours"
                case costPer1000Predictions = "cost_per_1000_predictions"
            }

            init(model: String?, version: Int?, principal: String?, _ t: CostMeter.Totals, _ prices: CostMeter.Prices) {
                (self.model, self.version, self.principal) = (model, version, principal)
                (requests, predictions, cpuSeconds, memoryGiBHours) = (t.requests, t.predictions, t.cpuSeconds, t.gibHours)
                cpuMicrosPerRequest = t.requests > 0 ? t.cpuSeconds / Double(t.requests) * 1e6 : nil
                cost = t.cost(prices)
                costPer1000Predictions = t.costPer1000(prices)
            }
        }

        var prices: Prices
        var models: [Row]
        var principals: [Row]
    }
}
