// swift-tools-version:6.1
//
// SVMKit: the guest side of POWER Secure Virtual Machines (Protected Execution
// Facility), run against a simulated Ultravisor and hypervisor.
// The module layout and dependency direction are described in ARCHITECTURE.md
// (shared/ARCHITECTURE.md in the steering repository).

import PackageDescription

let swift6: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "SVMKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "SVMKit", targets: ["SVMKit"]),
        .library(name: "DeviceTree", targets: ["DeviceTree"]),
        .library(name: "ESM", targets: ["ESM"]),
        .library(name: "PowerABI", targets: ["PowerABI"]),
        .library(name: "SWIOTLB", targets: ["SWIOTLB"]),
        .executable(name: "svmkit", targets: ["svmkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        // Test support only (ProcessTestSupport): no product depends on these.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // C: Debian's libfdt-dev ships no pkg-config file, so no pkgConfig here (swift-notes §1.1).
        .systemLibrary(name: "CLibFDT", path: "Sources/CLibFDT", providers: [.apt(["libfdt-dev"])]),

        .target(name: "PowerABI", swiftSettings: swift6),
        // The simulator's lock (pthread-based, visible to the thread sanitizer); not a product.
        .target(name: "Locking", swiftSettings: swift6),
        // The one anonymous host mapping (mmap/munmap) under guest RAM and the standalone SWIOTLB buffer; not a product.
        .target(name: "HostMapping", swiftSettings: swift6),
        .target(name: "DeviceTree", dependencies: ["CLibFDT", "PowerABI"], swiftSettings: swift6),
        .target(
            name: "ESM",
            dependencies: [
                "DeviceTree",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        .target(
            name: "TPM",
            dependencies: [
                "Locking",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        .target(name: "PEFMachine", dependencies: ["PowerABI", "Locking", "HostMapping"], swiftSettings: swift6),
        .target(
            name: "Ultravisor",
            dependencies: [
                "PowerABI", "PEFMachine", "DeviceTree", "ESM", "TPM", "Locking",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        .target(name: "Hypervisor", dependencies: ["PowerABI", "PEFMachine", "DeviceTree", "TPM", "Locking"], swiftSettings: swift6),
        .target(name: "SWIOTLB", dependencies: ["Locking", "HostMapping"], swiftSettings: swift6),
        .target(name: "SecureGuest", dependencies: ["PowerABI", "PEFMachine", "DeviceTree", "SWIOTLB", "Locking"], swiftSettings: swift6),
        .target(
            name: "SVMKit",
            dependencies: [
                "PowerABI", "DeviceTree", "ESM", "TPM", "PEFMachine", "Ultravisor", "Hypervisor", "SWIOTLB",
                "SecureGuest", "Locking",
            ],
            swiftSettings: swift6),
        // Harness targets (issue 20 item 3): what the CLI's soak and bench commands drive;
        // not products, so the SVMKit and SWIOTLB libraries do not carry them.
        .target(
            name: "SVMKitSoak",
            dependencies: ["SVMKit", "SecureGuest", "Hypervisor", "PEFMachine", "PowerABI", "SWIOTLB", "Locking"],
            swiftSettings: swift6),
        .target(
            name: "SWIOTLBBenchmarks",
            dependencies: ["SWIOTLB", "Locking", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: swift6),
        .executableTarget(
            name: "svmkit",
            dependencies: [
                "SVMKit", "SVMKitSoak", "SWIOTLBBenchmarks", "DeviceTree", "ESM", "SWIOTLB", "SecureGuest",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swift6),

        // Examples/ (issue 9): runnable programs on the library products; ExamplesTests runs them.
        .executableTarget(
            name: "BootSecureGuest", dependencies: ["SVMKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/BootSecureGuest", swiftSettings: swift6),
        .executableTarget(
            name: "VirtioBlockOverSWIOTLB",
            dependencies: ["SVMKit", "PEFMachine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/VirtioBlockOverSWIOTLB", swiftSettings: swift6),
        .executableTarget(
            name: "ReadESMSecret", dependencies: ["SVMKit", "PEFMachine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/ReadESMSecret", swiftSettings: swift6),
        .executableTarget(
            name: "ESMPreflight", dependencies: ["SVMKit", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Examples/ESMPreflight", swiftSettings: swift6),

        .testTarget(name: "PowerABITests", dependencies: ["PowerABI"], swiftSettings: swift6),
        .testTarget(name: "HostMappingTests", dependencies: ["HostMapping"], swiftSettings: swift6),
        .testTarget(
            name: "DeviceTreeTests", dependencies: ["DeviceTree", "PowerABI", "ProcessTestSupport"], resources: [.copy("Fixtures")],
            swiftSettings: swift6),
        .testTarget(name: "ESMTests", dependencies: ["ESM", "DeviceTree", "ProcessTestSupport"], swiftSettings: swift6),
        // The one way tests start a program and wait for it (on swift-subprocess).
        .target(
            name: "ProcessTestSupport",
            dependencies: [
                "Locking",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/ProcessTestSupport", swiftSettings: swift6),
        // The swtpm test harness, shared by the test targets that start swtpm.
        .target(name: "SwtpmTestSupport", dependencies: ["TPM"], path: "Tests/SwtpmTestSupport", swiftSettings: swift6),
        .testTarget(
            name: "TPMTests", dependencies: ["TPM", "ESM", "Hypervisor", "PEFMachine", "PowerABI", "SwtpmTestSupport", "ProcessTestSupport"],
            swiftSettings: swift6),
        // The test machines (a Machine with both firmware parts; with a device tree and a
        // guest kernel), shared by the test targets that boot one.
        .target(
            name: "PEFTestSupport",
            dependencies: ["PEFMachine", "PowerABI", "Ultravisor", "Hypervisor", "DeviceTree", "SecureGuest"],
            path: "Tests/PEFTestSupport", swiftSettings: swift6),
        .testTarget(name: "PEFMachineTests", dependencies: ["PEFMachine", "PowerABI"], swiftSettings: swift6),
        .testTarget(
            name: "UltravisorTests",
            dependencies: ["Ultravisor", "Hypervisor", "PEFMachine", "PowerABI", "DeviceTree", "TPM", "ESM", "PEFTestSupport"],
            swiftSettings: swift6),
        .testTarget(
            name: "HypervisorTests",
            dependencies: ["Hypervisor", "Ultravisor", "PEFMachine", "PowerABI", "DeviceTree", "TPM", "PEFTestSupport"],
            resources: [.copy("Fixtures")], swiftSettings: swift6),
        .testTarget(name: "SWIOTLBTests", dependencies: ["SWIOTLB", "SWIOTLBBenchmarks", "Locking"], swiftSettings: swift6),
        .testTarget(
            name: "SecureGuestTests",
            dependencies: [
                "SecureGuest", "Hypervisor", "PEFMachine", "PowerABI", "SWIOTLB", "DeviceTree", "SVMKit",
                "PEFTestSupport",
            ],
            swiftSettings: swift6),
        // Differential tests against the real Linux code (Scripts/linux-oracle builds the oracle).
        .testTarget(
            name: "LinuxOracleTests", dependencies: ["SWIOTLB", "SecureGuest", "SVMKit", "PEFMachine", "ProcessTestSupport"],
            // Recorded 5.x oracle answers, read by path (Linux5FixtureTests).
            exclude: ["Fixtures"], swiftSettings: swift6),
        .testTarget(
            name: "SVMKitTests",
            dependencies: [
                "SVMKit", "SVMKitSoak", "SecureGuest", "Ultravisor", "Hypervisor", "PEFMachine", "PowerABI", "DeviceTree", "ESM",
                "TPM", "PEFTestSupport", "SwtpmTestSupport", "ProcessTestSupport",
            ],
            swiftSettings: swift6),
        .testTarget(name: "CLITests", dependencies: ["svmkit", "SwtpmTestSupport", "ProcessTestSupport"], swiftSettings: swift6),
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["BootSecureGuest", "VirtioBlockOverSWIOTLB", "ReadESMSecret", "ESMPreflight", "SVMKit", "ProcessTestSupport"],
            swiftSettings: swift6),
    ]
)
