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
            return try API.response(API.JobBody(try await jobs.submit(try body.domain(), by: context.actor)), status: .accepted)
        }
        api.get("") { request, _ in
            let limit = try request.uri.queryParameters["limit"].map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 1000") }
                return n
            } ?? 50
            let now = Date()
            return try API.response(API.List(items: try await jobs.jobs(limit: limit).map { API.JobBody($0, now: now) }))
        }
        api.get("/{id}") { _, context in
            try API.response(API.JobBody(try await jobs.job(id: try context.parameters.require("id"))))
        }
        api.post("/{id}/cancel") { _, context in
            try API.response(API.JobBody(try await jobs.cancel(id: try context.parameters.require("id"), by: context.actor)))
        }
        api.get("/{id}/results") { _, context in try await file(context, errors: false) }
        api.get("/{id}/errors") { _, context in try await file(context, errors: true) }
    }

    /// The results (or errors) as one CSV file streamed chunk by chunk: a job's output may be far larger than memory.
    private func file(_ context: Context, errors: Bool) async throws -> Response {
        let (header, chunks) = try await jobs.output(id: try context.parameters.require("id"), errors: errors)
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
