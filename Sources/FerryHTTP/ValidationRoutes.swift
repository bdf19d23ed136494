import FerryCore
import FerryEngine
import Foundation
import Hummingbird
import NIOCore

/// Data validation under `/api/v1/models/{name}`: a version's expectations, and files checked against them (each
/// run's report as JSON or an HTML page, and its quarantine).
struct ValidationRoutes {
    typealias Context = FerryRequestContext
    let validation: DataValidation
    /// The largest file a validation reads (it is written to disk as it arrives, never held in memory).
    let maxFileBytes: Int
    /// Told when a model's expectations change, so serving checks requests against the new ones at once.
    let changed: @Sendable (String) -> Void

    func add(to router: Router<Context>) {
        let api = router.group("/api/v1/models/{name}")
        api.get("/versions/{version}/expectations") { _, context in
            let version = try await validation.version(model: try context.parameters.require("name"), selector: try selector(context))
            return try API.response(API.ExpectationsBody(try await validation.expectations(of: version)))
        }
        api.put("/versions/{version}/expectations") { request, context in
            let version = try await validation.version(model: try context.parameters.require("name"), selector: try selector(context))
            let data = Data(buffer: try await request.body.collect(upTo: 4 << 20))
            try API.ExpectationsRequest.shape.refuseUnknownFields(data)
            let body = try API.decode(API.ExpectationsRequest.self, from: data)
            let expectations = Expectations(
                model: version.model, version: version.version, columns: body.columns, minRows: body.minRows, maxRows: body.maxRows,
                uniqueKey: body.uniqueKey, noDuplicateRows: body.noDuplicateRows ?? true, updatedBy: context.actor, updatedAt: Date())
            let saved = try await validation.setExpectations(expectations, by: context.actor)
            changed(version.model)
            return try API.response(API.ExpectationsBody(saved))
        }
        api.delete("/versions/{version}/expectations") { _, context in
            let version = try await validation.version(model: try context.parameters.require("name"), selector: try selector(context))
            let derived = try await validation.resetExpectations(of: version, by: context.actor)
            changed(version.model)
            return try API.response(API.ExpectationsBody(derived))
        }
        api.post("/validations") { request, context in
            let query = request.uri.queryParameters
            let name = try context.parameters.require("name")
            let selector = try VersionSelector(parsing: query["version"].map(String.init))
            let version = try await validation.version(model: name, selector: selector)
            let path = query["path"].map(String.init)
            let source = path ?? query["source"].map(String.init) ?? "the uploaded file"
            let format: BatchJob.Format = try query["format"].map { text in
                guard let f = BatchJob.Format(rawValue: String(text)) else { throw FerryError.invalid("query 'format' is '\(text)'; use csv or jsonl") }
                return f
            } ?? (source.hasSuffix(".jsonl") || source.hasSuffix(".ndjson") ? .jsonl : .csv)
            var body = request.body.makeAsyncIterator()
            if let path {
                // A file the server reads itself, from a folder its operator allowed.
                if let buffer = try await body.next(), buffer.readableBytes > 0 {
                    throw FerryError.invalid("query 'path' names a file on the server; send no body with it (or send the file as the body without 'path')")
                }
                let run = try await validation.validate(version: version, path: path, field: "query 'path'", format: format, by: context.actor)
                return try API.response(API.ValidationRunBody(run), status: .created)
            }
            // Checked as it arrives, a block at a time: the file is never stored whole, in memory or on disk.
            var size = 0
            let limit = maxFileBytes
            let declared = request.headers[.contentLength].flatMap { Int($0) }.map { min($0, limit) }
            let run = try await validation.validate(version: version, format: format, source: source, by: context.actor, expectedBytes: declared) { pending in
                guard let buffer = try await body.next() else {
                    if size == 0 { throw FerryError.invalid("the request body is empty; send the file to check (CSV with a header line, or JSON Lines)") }
                    return false
                }
                size += buffer.readableBytes
                guard size <= limit else { throw FerryError(.tooLarge, "the file is larger than this server's limit of \(limit >> 20) MiB") }
                buffer.withUnsafeReadableBytes { pending.append(contentsOf: $0) }
                return true
            }
            return try API.response(API.ValidationRunBody(run), status: .created)
        }
        api.get("/validations") { request, context in
            let limit = try request.uri.queryParameters["limit"].map { text -> Int in
                guard let n = Int(text), (1...1000).contains(n) else { throw FerryError.invalid("query 'limit' must be a number from 1 to 1000") }
                return n
            } ?? 50
            let runs = try await validation.runs(model: try context.parameters.require("name"), limit: limit)
            return try API.response(API.List(items: runs.map(API.ValidationRunBody.init)))
        }
        api.get("/validations/{id}") { request, context in
            let run = try await self.run(context)
            switch request.uri.queryParameters["format"].map(String.init) ?? "json" {
            case "json": return try API.response(API.ValidationRunBody(run))
            case "html":
                return Response(
                    status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(string: DataValidation.document(run).html)))
            case let other: throw FerryError.invalid("query 'format' is '\(other)'; use json or html")
            }
        }
        api.get("/validations/{id}/quarantine") { _, context in
            let run = try await self.run(context)
            let type = run.format == .csv ? "text/csv; charset=utf-8" : "application/x-ndjson"
            let validation = self.validation
            return Response(status: .ok, headers: [.contentType: type], body: ResponseBody { writer in
                try await validation.quarantine(of: run) { try await writer.write(ByteBuffer(data: $0)) }
                try await writer.finish(nil)
            })
        }
    }

    private func run(_ context: Context) async throws -> ValidationRun {
        let name = try context.parameters.require("name")
        let run = try await validation.run(id: try context.parameters.require("id"))
        guard run.model == name else { throw FerryError.notFound("model '\(name)' has no validation run '\(run.id)'") }
        return run
    }

    private func selector(_ context: Context) throws -> VersionSelector {
        try VersionSelector(parsing: try context.parameters.require("version"))
    }
}
