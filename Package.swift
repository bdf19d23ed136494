// swift-tools-version:6.1
import PackageDescription

// Dependencies come from the local package mirror at fixed versions (see README "Development").
let package = Package(
    name: "ferry",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferry", targets: ["ferry"]),
    ],
    dependencies: [
        // Traits pinned: with the default two traits SwiftPM 6.3 re-plans Hummingbird on every manifest touch.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        // TLS trust for remote inference backends with their own certificate authority (also under AsyncHTTPClient).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", exact: "2.37.6"),
        // The Open Inference Protocol over gRPC (code generated once from Protos/ by scripts/generate-grpc.sh).
        .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
        // `ferry features apply features.yaml` reads YAML (the CLI turns it into the API's JSON).
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
    ],
    targets: [
        // Domain values, ports (protocols) and pure logic. No I/O, no HTTP, no SQL. Crypto for the audit chain and
        // model signatures, which are domain rules.
        .target(name: "FerryCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // Native inference engines behind `ModelRuntime`.
        .target(name: "FerryRuntimes", dependencies: ["FerryCore"]),
        // Services that run the domain: registry, model manager, data plane, local artifact store.
        .target(
            name: "FerryEngine",
            dependencies: [
                "FerryCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The versioned JSON records every store backend writes (never domain or HTTP types).
        .target(name: "FerryStoreRecords", dependencies: ["FerryCore"]),
        // Metadata store on SQLite (GRDB).
        .target(
            name: "FerryStoreSQLite",
            dependencies: [
                "FerryCore", "FerryStoreRecords", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The same store ports on PostgreSQL (PostgresNIO): the shared store of replicas.
        .target(
            name: "FerryStorePostgres",
            dependencies: [
                "FerryCore", "FerryStoreRecords",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Hummingbird 2 adapter: wire codecs, routes, error mapping, OpenAPI document.
        .target(
            name: "FerryHTTP",
            dependencies: [
                "FerryCore", "FerryEngine",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Open Inference Protocol's gRPC service on the same data plane and access rules as the HTTP API.
        .target(
            name: "FerryGRPC",
            dependencies: [
                "FerryCore", "FerryEngine", "FerryHTTP",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The composition root: one `ServerConfiguration` to stores, engine, router and background services.
        // `ferry serve` and the tests both build their server here.
        .target(
            name: "FerryServer",
            dependencies: [
                "FerryCore", "FerryEngine", "FerryRuntimes", "FerryStoreSQLite", "FerryStorePostgres", "FerryHTTP", "FerryGRPC",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Fakes, fixture builders and the conformance suites every store must pass.
        .target(
            name: "FerryTesting",
            dependencies: [
                "FerryCore", "FerryEngine", "FerryRuntimes", "FerryStoreSQLite", "FerryStorePostgres", "FerryServer",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The executable: the CLI; `ferry serve` fills a `ServerConfiguration` from its flags.
        .executableTarget(
            name: "ferry",
            dependencies: [
                "FerryCore", "FerryEngine", "FerryRuntimes", "FerryStoreSQLite", "FerryHTTP", "FerryServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Constant-response server used only as the benchmark's HTTP ceiling.
        .executableTarget(
            name: "ferry-bench-baseline",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "benchmarks/baseline"
        ),
        // In-process tree benchmark (benchmarks/trees/run.sh runs it next to xgboost, lightgbm, tl2cgen, onnxruntime).
        .executableTarget(
            name: "ferry-bench-trees",
            dependencies: ["FerryCore", "FerryRuntimes"],
            path: "benchmarks/trees/ferry"
        ),
        // In-process ONNX benchmark (benchmarks/onnx/run.sh runs it next to onnxruntime).
        .executableTarget(
            name: "ferry-bench-onnx",
            dependencies: ["FerryCore", "FerryRuntimes"],
            path: "benchmarks/onnx/ferry"
        ),
        // Drift benchmark (benchmarks/drift/run.sh runs it next to scipy/numpy and Evidently).
        .executableTarget(
            name: "ferry-bench-drift",
            dependencies: ["FerryCore"],
            path: "benchmarks/drift/ferry"
        ),
        // In-process online read (benchmarks/features/run.sh runs it next to Feast's).
        .executableTarget(
            name: "ferry-bench-features",
            dependencies: ["FerryCore", "FerryEngine", "FerryStoreSQLite", .product(name: "Logging", package: "swift-log")],
            path: "benchmarks/features/ferry"
        ),
        .testTarget(name: "FerryCoreTests", dependencies: ["FerryCore", "FerryTesting"], exclude: ["Fixtures"]),
        .testTarget(name: "FerryRuntimesTests", dependencies: ["FerryRuntimes", "FerryCore"], exclude: ["Fixtures"]),
        .testTarget(name: "FerryStorePostgresTests", dependencies: ["FerryStorePostgres", "FerryEngine", "FerryTesting"]),
        .testTarget(
            name: "FerryStoreSQLiteTests",
            dependencies: ["FerryStoreSQLite", "FerryStoreRecords", "FerryTesting", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "FerryEngineTests",
            dependencies: ["FerryEngine", "FerryRuntimes", "FerryStoreSQLite", "FerryTesting"]
        ),
        .testTarget(
            name: "FerryHTTPTests",
            dependencies: [
                "FerryHTTP", "FerryEngine", "FerryRuntimes", "FerryStoreSQLite", "FerryStorePostgres", "FerryServer", "FerryTesting", "FerryGRPC",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
