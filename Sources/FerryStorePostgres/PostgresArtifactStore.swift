import FerryCore
import Foundation
import Logging
import PostgresNIO

/// Model artifacts in PostgreSQL, in 1 MiB chunks, with a content-addressed local cache: every replica reaches
/// every artifact through the database it already shares, with no shared volume to provision.
///
/// A write lands in the cache first (which hashes the bytes), then in the database in one transaction. A read is
/// served by the cache when it holds the artifact, else assembled from its chunks, verified against its digest
/// and size by the cache, and kept there for the next load.
public struct PostgresArtifactStore: ArtifactStore {
    static let chunkSize = 1 << 20

    private let database: PostgresDatabase
    private let cache: any ArtifactStore

    /// Artifacts in `store`'s database, cached in `cache`.
    public init(sharing store: PostgresMetadataStore, cache: any ArtifactStore) {
        self.database = store.database
        self.cache = cache
    }

    public func put(_ data: Data) async throws -> ArtifactRef {
        let ref = try await cache.put(data)
        let chunks = stride(from: 0, to: max(data.count, 1), by: Self.chunkSize).map { start in
            data.subdata(in: start..<min(start + Self.chunkSize, data.count))
        }
        try await database.transaction { c in
            let logger = self.database.logger
            // Two replicas storing the same bytes at once: the first insert wins, the second stores nothing.
            let inserted = try await PostgresDatabase.rows(
                c,
                """
                INSERT INTO artifact (sha256, size, chunks) VALUES (\(ref.sha256), \(ref.size), \(chunks.count))
                ON CONFLICT (sha256) DO NOTHING RETURNING sha256
                """,
                logger)
            guard !inserted.isEmpty else { return }
            for (index, chunk) in chunks.enumerated() {
                try await PostgresDatabase.execute(
                    c, "INSERT INTO artifact_chunk (sha256, chunk, bytes) VALUES (\(ref.sha256), \(index), \(chunk))", logger)
            }
        }
        return ref
    }

    public func get(_ ref: ArtifactRef) async throws -> Data {
        if try await cache.contains(sha256: ref.sha256) {
            do {
                return try await cache.get(ref)
            } catch let error as FerryError where error.code == .integrity {
                // A damaged cached copy: drop it and fetch the stored one again.
                try? await cache.delete(sha256: ref.sha256)
            }
        }
        let data = try await database.read { c in
            let logger = self.database.logger
            guard let header = try await PostgresDatabase.rows(c, "SELECT size, chunks FROM artifact WHERE sha256 = \(ref.sha256)", logger).first else {
                throw FerryError(.notFound, "artifact sha256:\(ref.sha256) is not in the database")
            }
            let expected = try header["chunks"].decode(Int.self)
            var data = Data(capacity: try header["size"].decode(Int.self))
            var count = 0
            let rows = try await c.query("SELECT chunk, bytes FROM artifact_chunk WHERE sha256 = \(ref.sha256) ORDER BY chunk", logger: logger)
            for try await row in rows {
                let columns = row.makeRandomAccess()
                let chunk = try columns["chunk"].decode(Int.self)
                let bytes = try columns["bytes"].decode(ByteBuffer.self)
                guard chunk == count else {
                    throw FerryError(.integrity, "artifact sha256:\(ref.sha256) lacks chunk \(count) in the database")
                }
                data.append(contentsOf: bytes.readableBytesView)
                count += 1
            }
            guard count == expected else {
                throw FerryError(.integrity, "artifact sha256:\(ref.sha256) has \(count) of its \(expected) chunks in the database")
            }
            return data
        }
        let cached = try await cache.put(data)
        guard cached == ref else {
            try? await cache.delete(sha256: cached.sha256)
            throw FerryError(.integrity, "artifact sha256:\(ref.sha256) failed verification: the database holds bytes that hash to sha256:\(cached.sha256) (\(cached.size) bytes); re-register the version")
        }
        return data
    }

    public func contains(sha256: String) async throws -> Bool {
        try await database.read { c in
            try await !PostgresDatabase.rows(c, "SELECT 1 FROM artifact WHERE sha256 = \(sha256)", self.database.logger).isEmpty
        }
    }

    public func delete(sha256: String) async throws {
        try await database.transaction { c in
            try await PostgresDatabase.execute(c, "DELETE FROM artifact_chunk WHERE sha256 = \(sha256)", self.database.logger)
            try await PostgresDatabase.execute(c, "DELETE FROM artifact WHERE sha256 = \(sha256)", self.database.logger)
        }
        try await cache.delete(sha256: sha256)
    }
}
