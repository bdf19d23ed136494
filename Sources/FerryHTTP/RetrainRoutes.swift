import FerryCore
import FerryEngine
import Foundation
import Hummingbird

/// Retraining under `/api/v1/models/{name}/retrain`: the policy, jobs started by hand, and every job's record.
struct RetrainRoutes {
    typealias Context = FerryRequestContext
    let retrainer: Retrainer

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1/models/{name}/retrain")
        api.put("/policy") { request, context in
            let body = try API.decode(API.RetrainPolicyBody.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            let model = try context.parameters.require("name")
            if let named = body.model, named != model { throw FerryError.invalid("field 'model' is '\(named)' but the path names '\(model)'") }
            var policy = try body.domain(model: model)
            // A policy read back and sent again keeps its webhook secret, which reads as the mask.
            if case .webhook(let url, API.AlertRuleBody.maskedSecret) = policy.trainer,
                case .webhook(_, let kept)? = try? await retrainer.policy(model: model).trainer {
                policy.trainer = .webhook(url: url, secret: kept)
            }
            return try API.response(API.RetrainPolicyBody(try await retrainer.setPolicy(policy, by: context.actor)))
        }
        api.get("/policy") { _, context in
            try API.response(API.RetrainPolicyBody(try await retrainer.policy(model: try context.parameters.require("name"))))
        }
        api.delete("/policy") { _, context in
            try await retrainer.deletePolicy(model: try context.parameters.require("name"), by: context.actor)
            return jsonResponse(Array(#"{"deleted":true}"#.utf8))
        }
        api.post("") { _, context in
            let job = try await retrainer.trigger(model: try context.parameters.require("name"), by: context.actor)
            return try API.response(API.RetrainJobBody(job), status: .accepted)
        }
        api.get("/jobs") { request, context in
            let limit = try request.uri.queryParameters["limit"].map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 1000") }
                return n
            } ?? 50
            let jobs = try await retrainer.jobs(model: try context.parameters.require("name"), limit: limit)
            return try API.response(API.List(items: jobs.map { API.RetrainJobBody($0) }))
        }
        api.get("/jobs/{id}") { _, context in
            try API.response(API.RetrainJobBody(try await job(context), logs: true))
        }
        api.post("/jobs/{id}/cancel") { _, context in
            let job = try await job(context)
            return try API.response(API.RetrainJobBody(try await retrainer.cancel(id: job.id, by: context.actor)))
        }
        api.post("/jobs/{id}/report") { request, context in
            let body = try API.decode(API.TrainerReportBody.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            let job = try await retrainer.report(
                model: try context.parameters.require("name"), id: try context.parameters.require("id"), try body.domain(), by: context.actor)
            return try API.response(API.RetrainJobBody(job))
        }
        api.get("/jobs/{id}/data") { _, context in
            let data = try await retrainer.trainingData(model: try context.parameters.require("name"), id: try context.parameters.require("id"))
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// The job the path names, which must be of the path's model.
    private func job(_ context: Context) async throws -> RetrainJob {
        let model = try context.parameters.require("name"), id = try context.parameters.require("id")
        let job = try await retrainer.job(id: id)
        guard job.model == model else { throw FerryError.notFound("model '\(model)' has no retraining job '\(id)'") }
        return job
    }
}
