import Foundation
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import Testing

@testable import Ultravisor
import PEFTestSupport

/// Opt-in measurement of UV_ESM on a large guest (run with `SVMKIT_ESM_BENCH=1 swift test
/// -c release --filter ESMBenchmark`): prints the wall time of the whole call and per
/// page. It asserts only that the guest went secure; speed is reported, not tested.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SVMKIT_ESM_BENCH"] != nil))
struct ESMBenchmark {
    @Test(arguments: [(4, 4), (16, 16), (64, 16)])
    func uvESM(gib: Int, cpus: Int) throws {
        var c = SecureBootAssets.configuration()
        c.memoryBytes = UInt64(gib) << 30
        c.cpuCount = cpus
        c.initrd = try SecureBootAssets.defaultImage.get().segment("initrd")?.bytes
        let image = try BootImageBuilder.build(c)
        let t = try SecureBoot(image, traceDetail: false)
        let clock = ContinuousClock()
        let start = clock.now
        let (outcome, _) = t.promInit()
        let wall = Ultravisor.seconds(clock.now - start)
        #expect(outcome == t.secureOutcome)
        let report = try #require(t.report)
        let pages = t.memory.pageCount
        let line = String(
            format: "UV_ESM %d GiB / %d vCPUs: %.3f s wall (report %.3f s), %d pages, %.1f ns/page, %.3f s simulated, %d calls, resident %d MiB",
            gib, cpus, wall, report.wallSeconds, pages, wall / Double(pages) * 1e9,
            Double(report.simulatedNanoseconds) / 1e9, t.machine.trace.totalCalls, Int(t.memory.residentBytes() >> 20))
        print(line)
    }
}
