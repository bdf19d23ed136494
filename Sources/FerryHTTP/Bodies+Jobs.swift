import FerryCore
import FerryEngine
import Foundation

// Batch jobs: the submission as sent, uploads and jobs as shown.
extension API {
    struct UploadRef: Codable, Sendable {
        var sha256: String
        var size: Int
    }

    /// `POST /api/v1/jobs/uploads` answers where the uploaded input is kept.
    struct UploadBody: Encodable, Sendable {
        var upload: UploadRef
    }

    /// `POST /api/v1/jobs`: a model (and version or alias) or an endpoint, and an input.
    struct JobRequest: Decodable, Sendable {
        struct Input: Decodable, Sendable {
            var upload: UploadRef?
            var path: String?
        }

        struct Webhook: Decodable, Sendable {
            var url: String
            var secret: String?
        }

        /// A version number or an alias.
        enum Version: Decodable, Sendable {
            case number(Int)
            case alias(String)

            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let n = try? c.decode(Int.self) {
                    self = .number(n)
                } else if let a = try? c.decode(String.self) {
                    self = Int(a).map(Version.number) ?? .alias(a)
                } else {
                    throw FerryError.invalid("field 'version' must be a version number or an alias")
                }
            }
        }

        var model: String?
        var version: Version?
        var endpoint: String?
        var input: Input
        var format: String?
        var keyColumns: [String]?
        var webhook: Webhook?

        enum CodingKeys: String, CodingKey {
            case model, version, endpoint, input, format, webhook, keyColumns = "key_columns"
        }

        func domain() throws -> BatchScoring.Submission {
            let input: BatchJob.Input
            switch (self.input.upload, self.input.path) {
            case (let ref?, nil): input = .upload(ArtifactRef(sha256: ref.sha256, size: ref.size))
            case (nil, let path?): input = .path(path)
            default: throw FerryError.invalid("field 'input' needs exactly one of 'upload' (from POST /api/v1/jobs/uploads) or 'path' (a file the server reads)")
            }
            let format = try self.format.map { text -> BatchJob.Format in
                guard let f = BatchJob.Format(rawValue: text) else { throw FerryError.invalid("field 'format' is '\(text)'; use csv or jsonl") }
                return f
            }
            if version != nil, model == nil { throw FerryError.invalid("field 'version' needs field 'model' (an endpoint picks its own version)") }
            let selector: VersionSelector = switch version {
            case .number(let n)?: .number(n)
            case .alias(let a)?: .alias(a)
            case nil: .default
            }
            return BatchScoring.Submission(
                model: model, version: selector, endpoint: endpoint, input: input, format: format, keyColumns: keyColumns ?? [],
                webhook: webhook?.url, webhookSecret: webhook?.secret)
        }
    }

    /// A batch job as shown: what it scores, its state, and its progress.
    struct JobBody: Encodable, Sendable {
        struct Input: Encodable, Sendable {
            var upload: UploadRef?
            var path: String?
        }

        struct Progress: Encodable, Sendable {
            var inputBytes: Int?
            var bytesDone: Int
            var fraction: Double?
            var rowsDone: Int
            var rowsFailed: Int
            var rowsPerSecond: Double?
            var secondsLeft: Double?

            enum CodingKeys: String, CodingKey {
                case fraction, inputBytes = "input_bytes", bytesDone = "bytes_done", rowsDone = "rows_done", rowsFailed = "rows_failed"
                case rowsPerSecond = "rows_per_second", secondsLeft = "seconds_left"
            }
        }

        var id: String
        var model: String
        var version: Int
        var endpoint: String?
        var input: Input
        var format: String
        var keyColumns: [String]
        var webhook: String?
        var state: String
        var createdBy: String
        var createdAt: Date
        var startedAt: Date?
        var finishedAt: Date?
        var reason: String
        var progress: Progress
        var results: String
        var errors: String

        enum CodingKeys: String, CodingKey {
            case id, model, version, endpoint, input, format, webhook, state, reason, progress, results, errors
            case keyColumns = "key_columns", createdBy = "created_by", createdAt = "created_at", startedAt = "started_at", finishedAt = "finished_at"
        }

        init(_ j: BatchJob, now: Date = Date()) {
            id = j.id
            model = j.model
            version = j.version
            endpoint = j.endpoint
            switch j.input {
            case .upload(let ref): input = Input(upload: UploadRef(sha256: ref.sha256, size: ref.size))
            case .path(let path): input = Input(path: path)
            }
            format = j.format.rawValue
            keyColumns = j.keyColumns
            webhook = j.webhook
            state = j.state.rawValue
            createdBy = j.createdBy
            createdAt = j.createdAt
            startedAt = j.startedAt
            finishedAt = j.finishedAt
            reason = j.reason
            let p = j.progress(now: now)
            progress = Progress(
                inputBytes: j.inputBytes, bytesDone: j.bytesDone, fraction: p.fraction, rowsDone: j.rowsDone, rowsFailed: j.rowsFailed,
                rowsPerSecond: p.rowsPerSecond, secondsLeft: p.secondsLeft)
            results = "/api/v1/jobs/\(j.id)/results"
            errors = "/api/v1/jobs/\(j.id)/errors"
        }
    }
}
