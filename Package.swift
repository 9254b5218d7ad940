// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
]

let package = Package(
    name: "evalnet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "evalnet", targets: ["evalnet"]),
        .executable(name: "evalnet-bench", targets: ["EvalnetBench"]),
        // Libraries for the micro-benchmark package in Benchmarks/ (which depends on this one by path).
        .library(name: "Hotkeys", targets: ["Hotkeys"]),
        .library(name: "AlgorithmDSL", targets: ["AlgorithmDSL"]),
        .library(name: "MinerEngine", targets: ["MinerEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(name: "CStdio"),
        // Variable-time ristretto255 verification over libdecaf (`libdecaf-dev`, no pkg-config
        // file; `forward/` resolves its headers' `<decaf/...>` includes).
        .target(
            name: "CDecaf",
            cSettings: [.headerSearchPath("forward")],
            linkerSettings: [.linkedLibrary("decaf")]
        ),
        .target(
            name: "Hotkeys",
            dependencies: ["CSodium", "CDecaf"],
            swiftSettings: strict
        ),
        .target(
            name: "ServiceKit",
            dependencies: [
                "Hotkeys", "Store", "WireJSON",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "Store",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "AlgorithmDSL",
            swiftSettings: strict
        ),
        .target(
            name: "MinerEngine",
            dependencies: ["AlgorithmDSL"],
            swiftSettings: strict
        ),
        .target(
            name: "Miner",
            dependencies: [
                "PoolAPI", "Hotkeys", "MinerEngine", "AlgorithmDSL", "SignedClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .target(name: "TimeText", swiftSettings: strict),
        .target(name: "WireJSON", swiftSettings: strict),
        .target(
            name: "SignedClient",
            dependencies: [
                "Hotkeys", "WireJSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PoolAPI",
            dependencies: ["TimeText", "WireJSON"],
            swiftSettings: strict
        ),
        .target(
            name: "PoolCore",
            dependencies: ["CSodium"],
            swiftSettings: strict
        ),
        // Operator dashboards: view models, inline SVG charts and HTML templates (no HTTP, no storage).
        .target(
            name: "Dashboards",
            dependencies: [.product(name: "Mustache", package: "swift-mustache")],
            swiftSettings: strict
        ),
        .target(
            name: "PoolServer",
            dependencies: [
                "PoolAPI", "PoolCore", "ServiceKit", "Store", "Hotkeys", "AlgorithmDSL", "MinerEngine", "Dashboards",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CProcessShim"
        ),
        .target(
            name: "ProcessKit",
            dependencies: ["CProcessShim"],
            swiftSettings: strict
        ),
        .target(
            name: "DstackAPI",
            swiftSettings: strict
        ),
        .target(
            name: "Validator",
            dependencies: [
                "DstackAPI", "ProcessKit", "Hotkeys", "CSodium", "ServiceKit", "PlatformAPI", "SignedClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VMMServer",
            dependencies: [
                "DstackAPI", "ProcessKit", "ServiceKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PlatformAPI",
            dependencies: ["TimeText", "WireJSON"],
            swiftSettings: strict
        ),
        .target(
            name: "PlatformCore",
            swiftSettings: strict
        ),
        .target(
            name: "PlatformServer",
            dependencies: [
                "PlatformAPI", "PlatformCore", "ServiceKit", "Store", "Hotkeys", "CSodium", "Dashboards",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "EvalnetCLI",
            dependencies: [
                "Hotkeys", "PoolServer", "PoolCore", "Miner", "MinerEngine", "ServiceKit", "CStdio", "VMMServer",
                "PlatformServer", "Validator", "PlatformAPI", "Store",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "evalnet",
            dependencies: ["EvalnetCLI"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "EvalnetBench",
            dependencies: [
                "Hotkeys", "PoolServer", "PoolAPI", "Miner", "ServiceKit", "AlgorithmDSL", "MinerEngine",
                "PlatformServer", "PlatformAPI", "Store", "CProcessShim", "Dashboards", "Validator", "SignedClient",
                "PoolCore", "TimeText",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport",
            dependencies: ["Store", "Hotkeys", "AlgorithmDSL", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Store", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PoolCoreTests",
            dependencies: ["PoolCore", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PoolServerTests",
            dependencies: [
                "PoolServer", "PoolAPI", "PoolCore", "Store", "TestSupport", "Hotkeys", "ServiceKit", "AlgorithmDSL", "MinerEngine",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MinerTests",
            dependencies: ["Miner", "MinerEngine", "SignedClient", "PoolServer", "PoolCore", "AlgorithmDSL", "PoolAPI", "ServiceKit", "TestSupport", "Hotkeys",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AlgorithmDSLTests",
            dependencies: ["AlgorithmDSL"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MinerEngineTests",
            dependencies: ["MinerEngine", "AlgorithmDSL"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ValidatorTests",
            dependencies: [
                "Validator", "DstackAPI", "VMMServer", "ProcessKit", "ServiceKit", "TestSupport", "PlatformAPI", "Hotkeys",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Validator", "PlatformServer", "PlatformAPI", "PoolAPI", "VMMServer", "ServiceKit", "Hotkeys", "TestSupport", "Store",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DemoTests",
            dependencies: ["EvalnetCLI"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlatformCoreTests",
            dependencies: ["PlatformCore", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PlatformServerTests",
            dependencies: [
                "PlatformServer", "PlatformAPI", "PlatformCore", "Store", "TestSupport", "Hotkeys", "ServiceKit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DashboardsTests",
            dependencies: ["Dashboards"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HotkeysTests",
            dependencies: ["Hotkeys", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
