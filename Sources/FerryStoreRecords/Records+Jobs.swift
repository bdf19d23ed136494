import FerryCore
import Foundation

// Batch jobs (batch_job.spec)

/// `batch_job.spec`: a `BatchJob`.
package struct BatchJobRecord: Codable, Sendable, Equatable {
    static let currentSchemaVersion = 1

    struct Ref: Codable, Sendable, Equatable {
        var sha256: String
        var size: Int
    }

    var schemaVersion: Int
    var id: String
    var model: String
    var version: Int
    var endpoint: String?
    var upload: Ref?
    var path: String?
    var format: String
    var keyColumns: [String]
    var webhook: String?
    var webhookSecret: String?
    var state: String
    var createdBy: String
    var createdAt: Double
    var startedAt: Double?
    var finishedAt: Double?
    var reason: String
    var inputBytes: Int?
    var inputStamp: String?
    var bytesDone: Int
    var rowsDone: Int
    var rowsFailed: Int
    var outputChunks: [Ref]
    var errorChunks: [Ref]
    var outputColumns: [String]
    var webhookPending: Bool?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", keyColumns = "key_columns", webhookSecret = "webhook_secret", createdBy = "created_by"
        case createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at", inputBytes = "input_bytes", inputStamp = "input_stamp"
        case bytesDone = "bytes_done", rowsDone = "rows_done", rowsFailed = "rows_failed", outputChunks = "output_chunks"
        case errorChunks = "error_chunks", outputColumns = "output_columns", webhookPending = "webhook_pending"
        case id, model, version, endpoint, upload, path, format, webhook, state, reason
    }

    package init(_ j: BatchJob) {
        schemaVersion = Self.currentSchemaVersion
        id = j.id
        model = j.model
        version = j.version
        endpoint = j.endpoint
        switch j.input {
        case .upload(let ref): upload = Ref(sha256: ref.sha256, size: ref.size)
        case .path(let p): path = p
        }
        format = j.format.rawValue
        keyColumns = j.keyColumns
        webhook = j.webhook
        webhookSecret = j.webhookSecret
        state = j.state.rawValue
        createdBy = j.createdBy
        createdAt = Records.seconds(j.createdAt)
        startedAt = j.startedAt.map(Records.seconds)
        finishedAt = j.finishedAt.map(Records.seconds)
        reason = j.reason
        inputBytes = j.inputBytes
        inputStamp = j.inputStamp
        bytesDone = j.bytesDone
        rowsDone = j.rowsDone
        rowsFailed = j.rowsFailed
        outputChunks = j.outputChunks.map { Ref(sha256: $0.sha256, size: $0.size) }
        errorChunks = j.errorChunks.map { Ref(sha256: $0.sha256, size: $0.size) }
        outputColumns = j.outputColumns
        webhookPending = j.webhookPending ? true : nil
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try Records.schemaVersion(in: c, forKey: .schemaVersion, record: "BatchJobRecord", current: Self.currentSchemaVersion)
        id = try c.decode(String.self, forKey: .id)
        model = try c.decode(String.self, forKey: .model)
        version = try c.decode(Int.self, forKey: .version)
        endpoint = try c.decodeIfPresent(String.self, forKey: .endpoint)
        upload = try c.decodeIfPresent(Ref.self, forKey: .upload)
        path = try c.decodeIfPresent(String.self, forKey: .path)
        format = try c.decode(String.self, forKey: .format)
        keyColumns = try c.decode([String].self, forKey: .keyColumns)
        webhook = try c.decodeIfPresent(String.self, forKey: .webhook)
        webhookSecret = try c.decodeIfPresent(String.self, forKey: .webhookSecret)
        state = try c.decode(String.self, forKey: .state)
        createdBy = try c.decode(String.self, forKey: .createdBy)
        createdAt = try c.decode(Double.self, forKey: .createdAt)
        startedAt = try c.decodeIfPresent(Double.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Double.self, forKey: .finishedAt)
        reason = try c.decode(String.self, forKey: .reason)
        inputBytes = try c.decodeIfPresent(Int.self, forKey: .inputBytes)
        inputStamp = try c.decodeIfPresent(String.self, forKey: .inputStamp)
        bytesDone = try c.decode(Int.self, forKey: .bytesDone)
        rowsDone = try c.decode(Int.self, forKey: .rowsDone)
        rowsFailed = try c.decode(Int.self, forKey: .rowsFailed)
        outputChunks = try c.decode([Ref].self, forKey: .outputChunks)
        errorChunks = try c.decode([Ref].self, forKey: .errorChunks)
        outputColumns = try c.decode([String].self, forKey: .outputColumns)
        webhookPending = try c.decodeIfPresent(Bool.self, forKey: .webhookPending)
    }

    package func domain() throws -> BatchJob {
        let input: BatchJob.Input
        if let upload {
            input = .upload(ArtifactRef(sha256: upload.sha256, size: upload.size))
        } else if let path {
            input = .path(path)
        } else {
            throw FerryError(.internal, "a stored BatchJobRecord '\(id)' has neither an upload nor a path")
        }
        var job = BatchJob(
            id: id, model: model, version: version, endpoint: endpoint, input: input,
            format: try Records.parse(format, as: BatchJob.Format.self, field: "format", in: "BatchJobRecord"), keyColumns: keyColumns,
            webhook: webhook, webhookSecret: webhookSecret, state: try Records.parse(state, as: BatchJob.State.self, field: "state", in: "BatchJobRecord"),
            createdBy: createdBy, createdAt: Records.date(createdAt), startedAt: startedAt.map(Records.date), finishedAt: finishedAt.map(Records.date),
            reason: reason, inputBytes: inputBytes, bytesDone: bytesDone, rowsDone: rowsDone, rowsFailed: rowsFailed,
            outputChunks: outputChunks.map { ArtifactRef(sha256: $0.sha256, size: $0.size) },
            errorChunks: errorChunks.map { ArtifactRef(sha256: $0.sha256, size: $0.size) }, outputColumns: outputColumns)
        job.inputStamp = inputStamp
        job.webhookPending = webhookPending ?? false
        return job
    }
}

/// What both stores say when the queue is full.
package enum BatchJobs {
    package static func queueFull(_ maxQueued: Int) -> FerryError {
        FerryError(.unavailable, "the batch job queue is full (\(maxQueued) jobs wait); submit again when one has finished", retryAfter: 60)
    }
}
