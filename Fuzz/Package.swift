// swift-tools-version:6.1
//
// libFuzzer targets over SVMKit's public API. Not part of the main package: its
// executables only make sense when built with the fuzzer and address sanitizers,
// which Scripts/fuzz does:
//
//   swift build --package-path Fuzz -c release --sanitize=fuzzer --sanitize=address \
//       -Xswiftc -sanitize=fuzzer,address --product FuzzDeviceTree
//
// (swiftc keeps only the LAST `-sanitize=` flag it is given, so SwiftPM's two
// separate flags would drop the fuzzer's coverage instrumentation from Swift code;
// the combined `-Xswiftc` flag comes last and restores it. `--sanitize=fuzzer` is
// still needed: it makes SwiftPM build executables with `-parse-as-library`, so
// libFuzzer's `main` drives `LLVMFuzzerTestOneInput`.) See README.md.

import PackageDescription

let package = Package(
    name: "SVMKitFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "SVMKit"),
    ],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "FuzzDeviceTree",
            dependencies: ["FuzzSupport", .product(name: "DeviceTree", package: "SVMKit")]),
        .executableTarget(
            name: "FuzzCommandLine",
            dependencies: ["FuzzSupport", .product(name: "SVMKit", package: "SVMKit")]),
        .executableTarget(
            name: "FuzzCPIO",
            dependencies: ["FuzzSupport", .product(name: "ESM", package: "SVMKit")]),
        .executableTarget(
            name: "FuzzESMBlob",
            dependencies: [
                "FuzzSupport", .product(name: "ESM", package: "SVMKit"), .product(name: "DeviceTree", package: "SVMKit"),
            ]),
        .executableTarget(
            name: "FuzzTPMResponse",
            dependencies: ["FuzzSupport", .product(name: "SVMKit", package: "SVMKit")]),
        .executableTarget(
            name: "FuzzABI",
            dependencies: ["FuzzSupport", .product(name: "SVMKit", package: "SVMKit")]),
    ]
)
