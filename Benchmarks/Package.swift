// swift-tools-version:6.1
// Micro-benchmarks (ordo-one/benchmark) of evalnet's hot pure code, kept out of the main
// package so that `swift build` there never fetches or builds the benchmark dependency.
// Run from this directory: `swift package benchmark` (or `make microbench` at the top).
import Foundation
import PackageDescription

/// SwiftPM names a path dependency after its directory, so the parent package (evalnet) is
/// known by the name of the checkout it sits in (`evalnet`, `main`, a worktree's name...).
let evalnet = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "evalnet-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        // The malloc counters come from the interposer trait (Swift 6.3); naming the trait
        // also leaves out the default RuntimeInterposer trait and its extra package.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotkeysBenchmarks",
            dependencies: [
                .product(name: "Hotkeys", package: evalnet),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/HotkeysBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "DSLBenchmarks",
            dependencies: [
                .product(name: "AlgorithmDSL", package: evalnet),
                .product(name: "MinerEngine", package: evalnet),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DSLBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
