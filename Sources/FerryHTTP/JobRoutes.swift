import FerryCore
import FerryEngine
import Foundation
import Hummingbird

/// Batch scoring under `/api/v1/jobs`: uploads, submissions, progress, cancellation and the results and errors files.
struct JobRoutes {
    typealias Context = FerryRequestContext
    let jobs: BatchScoring
    let maxUploadBytes: Int

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1/jobs")
        api.post("/uploads") { request, _ in
            let data = Data(buffer: try await request.body.collect(upTo: maxUploadBytes))
            let ref = try await jobs.upload(data)
            return try API.response(API.UploadBody(upload: API.UploadRef(sha256: ref.sha256, size: ref.size)), status: .created)
        }
        api.post("") { request, context in
            let body = try API.decode(API.JobRequest.self, from: Data(buffer: try await request.body.collect(upTo: 1 << 20)))
            let spec = try body.domain()
            try Self.check(spec.endpoint ?? spec.model, context)
            return try API.response(API.JobBody(try await jobs.submit(spec, by: context.actor)), status: .accepted)
        }
        api.get("") { request, context in
            let limit = try request.uri.queryParameters["limit"].map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 1000") }
                return n
            } ?? 50
            let now = Date()
            func visible(_ fetched: [BatchJob]) -> [BatchJob] { fetched.filter { (try? Self.check(Self.target($0), context)) != nil } }
            let newest = try await jobs.jobs(limit: limit)
            var shown = visible(newest)
            // A key limited to some models sees its own jobs among the newest 1,000, not among the newest `limit` of
            // everyone's (which could hold none of them).
            if shown.count < limit, newest.count == limit { shown = Array(visible(try await jobs.jobs(limit: 1000)).prefix(limit)) }
            return try API.response(API.List(items: shown.map { API.JobBody($0, now: now) }))
        }
        api.get("/{id}") { _, context in
            try API.response(API.JobBody(try await job(context)))
        }
        api.post("/{id}/cancel") { _, context in
            try API.response(API.JobBody(try await jobs.cancel(id: try await job(context).id, by: context.actor)))
        }
        api.get("/{id}/results") { _, context in try await file(context, errors: false) }
        api.get("/{id}/errors") { _, context in try await file(context, errors: true) }
    }

    /// A key limited to some models may run and see jobs of those models (or endpoints) only; it may upload, which
    /// uses no model.
    private static func check(_ target: String?, _ context: Context) throws {
        guard let allowed = context.principal?.models, let target, !allowed.contains(target) else { return }
        throw FerryError(.permissionDenied, "this key is restricted to models \(allowed.joined(separator: ", ")) and may not use '\(target)'")
    }

    /// What a job uses, as keys limited to models name it: its endpoint, else its model.
    private static func target(_ job: BatchJob) -> String { job.endpoint ?? job.model }

    /// The job the path names, if the caller may see it.
    private func job(_ context: Context) async throws -> BatchJob {
        let job = try await jobs.job(id: try context.parameters.require("id"))
        try Self.check(Self.target(job), context)
        return job
    }

    /// The results (or errors) as one CSV file streamed chunk by chunk: a job's output may be far larger than memory.
    private func file(_ context: Context, errors: Bool) async throws -> Response {
        let id = try await job(context).id
        let (header, chunks) = try await jobs.output(id: id, errors: errors)
        try await jobs.checkStored(chunks, job: id)
        let jobs = self.jobs
        return Response(
            status: .ok, headers: [.contentType: "text/csv; charset=utf-8"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: header))
                for chunk in chunks { try await writer.write(ByteBuffer(bytes: try await jobs.chunk(chunk))) }
                try await writer.finish(nil)
            })
    }
}
