import Foundation
import PEFMachine
import PowerABI
import SecureGuest
import Testing

@testable import SVMKit

/// The guest the fault-walk tests walk, and helpers to find a site in its baseline.
enum FaultWalkFixture {
    /// The default secure boot, small: 256 MiB (the smallest the image builder
    /// accepts), 2 vCPUs, the default command line. Kernel and initrd (with its ESM
    /// blob) are built once and passed in, so a run does not make new keys.
    static let configuration: BootConfiguration = {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 256 << 20
        c.cpuCount = 2
        if let image = try? BootImageBuilder.build(c) {
            c.kernel = image.segment("kernel")?.bytes
            c.initrd = image.segment("initrd")?.bytes
        }
        return c
    }()

    /// The same image with one more space in the command line: the bootargs digest
    /// fails and `UV_ESM` takes the abort path (`H_SVM_INIT_ABORT`), then os-term.
    static let abortConfiguration: BootConfiguration = {
        var c = configuration
        c.commandLine = "svm=on  console=hvc0"
        return c
    }()

    /// The same with one vCPU: fewer calls, for the walks the tests run whole.
    static let oneCPU: BootConfiguration = {
        var c = configuration
        c.cpuCount = 1
        return c
    }()

    /// The scenario of `walk`'s baseline at the first site matching `where`, failing
    /// it with `status`.
    static func scenario(
        _ walk: FaultWalk, status: String, where predicate: (FaultWalkSite) -> Bool
    ) throws -> FaultWalk.Scenario {
        let baseline = try walk.baseline()
        let found = baseline.sites.first(where: predicate)
        let site = try #require(found, "no such site in the baseline")
        return try #require(
            baseline.scenarios.first { $0.site == site && $0.status == status },
            "\(status) is not walked at \(site.id)")
    }
}
