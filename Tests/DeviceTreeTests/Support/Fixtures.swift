import Foundation
import Testing

@testable import DeviceTree

/// The QEMU pseries dumps in Fixtures/ (made by Scripts/make-fixtures, QEMU 7.2).
enum Fixtures {
    /// One dump: its name, QEMU's `-smp` and `-m`, and what `-kernel`/`-initrd`/`-append` put in.
    struct Dump: CustomTestStringConvertible, Sendable {
        var name: String
        var cpus: Int
        var memory: UInt64
        var hasKernel: Bool
        var testDescription: String { name }
    }

    /// Every dump Scripts/make-fixtures writes.
    static let dumps: [Dump] = [
        Dump(name: "qemu-pseries-1cpu-1G", cpus: 1, memory: 1 << 30, hasKernel: false),
        Dump(name: "qemu-pseries-4cpu-4G", cpus: 4, memory: 4 << 30, hasKernel: false),
        Dump(name: "qemu-pseries-16cpu-4G", cpus: 16, memory: 4 << 30, hasKernel: false),
        Dump(name: "qemu-pseries-kernel-2cpu-2G", cpus: 2, memory: 2 << 30, hasKernel: true),
    ]

    /// The fixture directory inside the test bundle.
    static func url(_ file: String) throws -> URL {
        let dir = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return dir.appendingPathComponent(file)
    }

    /// The raw bytes of `name.dtb`.
    static func blob(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: url(name + ".dtb"))) }

    /// `name.dtb` opened.
    static func tree(_ name: String) throws -> DeviceTree { try DeviceTree(bytes: blob(name)) }

    /// dtc's text for `name.dtb`, as committed.
    static func dts(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: url(name + ".dts")), as: UTF8.self)
    }
}
