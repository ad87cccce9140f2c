import DeviceTree
import ESM
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// The steps of `svm_esm_blob_chk`, each on its own (`svm/svm-esm.c`,
/// reference/ultravisor-facts.md §2.6): the failure paths a whole boot does not reach.
@Suite struct ESMBlobCheckStepsTests {
    static let rtasBase: UInt64 = 0x30_0000
    static let initrdStart: UInt64 = 0x200_0000

    /// A `UV_ESM` run after `H_SVM_INIT_START` whose working tree has these `/chosen`
    /// and `/rtas` properties.
    static func run(_ t: TestMachine, chosen: [DeviceTreeProperty], rtas: [DeviceTreeProperty] = []) throws -> ESMRun {
        #expect(t.ultravisor.createSVM(lpid: t.lpid, on: t.machine) == .success)
        #expect(t.ultravisor.startInitialization(t.context()) == .success)
        var run = ESMRun(context: t.context(), kernelBase: 0x40_0000, fdtAddress: 0x100_0000, policy: .enforce)
        run.working = try DeviceTree(
            root: DeviceTreeNode(
                "", children: [DeviceTreeNode("chosen", properties: chosen), DeviceTreeNode("rtas", properties: rtas)]))
        return run
    }

    static func initrd(start: UInt64 = initrdStart, end: UInt64 = initrdStart + page) -> [DeviceTreeProperty] {
        [.u64("linux,initrd-start", start), .u64("linux,initrd-end", end)]
    }

    static func rtas(base: UInt64 = rtasBase, size: UInt32 = 20) -> [DeviceTreeProperty] {
        [.u64("linux,rtas-base", base), .u32("rtas-size", size), .u32("slof,rtas-size", size)]
    }

    /// Runs one step and returns the failure it threw.
    static func failure<T>(_ body: () throws(ESMFailure) -> T) -> ESMFailure? {
        do throws(ESMFailure) {
            _ = try body()
            return nil
        } catch { return error }
    }

    @Test func rtasAreaIsPagedInAndPseudoShared() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: [], rtas: Self.rtas(size: UInt32(page) + 1))
        let area = try t.ultravisor.esmRTASArea(&run)
        #expect(area == ESMRTASArea(base: Self.rtasBase, size: UInt32(page) + 1, textSize: UInt32(page) + 1))
        // ceil(rtas-size / 64 KiB) = 2 pages.
        #expect(run.pseudoShared == [Self.rtasBase, Self.rtasBase + page])
        let frame = Self.rtasBase / page
        #expect(t.memory.states(of: frame..<(frame + 2)) == [.pseudoShared, .pseudoShared])
        #expect(run.checks.map(\.name) == ["rtas-area"] && run.checks.allSatisfy(\.passed))
    }

    @Test func rtasAreaOutsideTheMemorySlotsFails() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: [], rtas: Self.rtas(base: t.memory.byteCount))
        let failure = try #require(Self.failure { () throws(ESMFailure) in try t.ultravisor.esmRTASArea(&run) })
        #expect(failure.step == .rtasArea)
        #expect(failure.cause.hasPrefix("the RTAS area (1 page(s) from linux,rtas-base 0x4000000, rtas-size 20) could not be paged in: "))
        #expect(failure.cause.hasSuffix("range outside the memory slots"))
        #expect(run.checks.last?.name == "rtas-area" && run.checks.last?.passed == false)
        #expect(run.pseudoShared.isEmpty)
    }

    @Test func initrdRangeIsPagedIn() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: Self.initrd())
        let initrd = try t.ultravisor.esmInitrdRange(&run)
        #expect(initrd == ESMInitrdRange(start: Self.initrdStart, end: Self.initrdStart + page))
        #expect(t.memory.state(of: GuestFrameNumber(rawValue: Self.initrdStart / page)) == .secure)
        #expect(run.checks.last?.detail == "initrd [0x2000000, 0x2010000), 65536 bytes")
    }

    @Test func initrdEndingBeforeItStartsFails() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: Self.initrd(start: Self.initrdStart, end: Self.initrdStart - 1))
        let failure = try #require(Self.failure { () throws(ESMFailure) in try t.ultravisor.esmInitrdRange(&run) })
        #expect(failure.step == .initrd)
        // end - start wraps to 2^64 - 1: get_page_range refuses the range.
        #expect(failure.cause.hasPrefix("the initrd [0x2000000, 0x1ffffff) could not be paged in: get_page_range"))
        #expect(failure.cause.hasSuffix("wraps"))
    }

    @Test func bootargsAreReturnedWithTheirNUL() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: [.string("bootargs", "svm=on")])
        #expect(try t.ultravisor.esmBootargs(&run) == Array("svm=on".utf8) + [0])
        #expect(run.checks.last?.detail == "/chosen/bootargs, 7 bytes with its NUL")
    }

    @Test func wrapperPropertiesThatHoldNoFDTFail() throws {
        let t = try TestMachine()
        let blobStart = Self.initrdStart + 4 * page
        var run = try Self.run(
            t,
            chosen: Self.initrd() + [.u64("linux,esm-blob-start", blobStart), .u64("linux,esm-blob-end", blobStart + 0x100)])
        let initrd = try t.ultravisor.esmInitrdRange(&run)
        let failure = try #require(
            Self.failure { () throws(ESMFailure) in try t.ultravisor.esmBlob(&run, initrd: initrd) })
        #expect(failure.step == .blobDiscovery)
        #expect(failure.cause.hasPrefix("/chosen/linux,esm-blob-start 0x2040000 does not hold an FDT of at most 256 bytes"))
        #expect(run.blobSource == nil)
    }

    @Test func wrapperBlobThatCannotBePagedInFails() throws {
        let t = try TestMachine()
        let blobStart = t.memory.byteCount - page
        var run = try Self.run(
            t,
            chosen: Self.initrd() + [
                .u64("linux,esm-blob-start", blobStart), .u64("linux,esm-blob-end", blobStart + 2 * page),
            ])
        let initrd = try t.ultravisor.esmInitrdRange(&run)
        let failure = try #require(
            Self.failure { () throws(ESMFailure) in try t.ultravisor.esmBlob(&run, initrd: initrd) })
        #expect(failure.step == .blobDiscovery)
        #expect(failure.cause.hasPrefix("the wrapper blob [0x3ff0000, 0x4010000) from /chosen/linux,esm-blob-start/-end could not be paged in: "))
    }

    @Test func anInitrdWithoutTheCpioEntryHasNoBlob() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: Self.initrd())
        let initrd = try t.ultravisor.esmInitrdRange(&run)
        let failure = try #require(
            Self.failure { () throws(ESMFailure) in try t.ultravisor.esmBlob(&run, initrd: initrd) })
        #expect(failure.step == .blobDiscovery)
        #expect(failure.cause.hasPrefix("no ESM blob: "))
        #expect(run.checks.last?.name == "esm-blob" && run.checks.last?.passed == false)
    }

    @Test func aBlobWithoutFilesIsOnlyANotice() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: [])
        t.ultravisor.esmAttachments(&run, blob: [])
        #expect(run.checks.isEmpty)
        #expect(run.attachments.isEmpty)
        #expect(run.log.count == 1 && run.log[0].hasPrefix("notice: error getting esmb attachments, ignoring: "))
    }
}

extension ESMBlobCheckStepsTests {
    /// `svm_esmb_get_files_fdt` copies the files FDT into its 64 KiB page without a size
    /// check; SVMKit refuses the copy, records the overrun as an anomaly and notes the
    /// failed check (a notice: the boot goes on).
    @Test func aFilesFDTOverItsPageIsAnAnomalyNotACopy() throws {
        let t = try TestMachine()
        var run = try Self.run(t, chosen: [])
        let key = ESMMasterKey.random()
        var blob = try ESMBlob.create(origin: try ESMPrivateKey.generate().publicKey, masterKey: key)
        try blob.attach(name: "first", contents: [UInt8](repeating: 1, count: 40_000), masterKey: key)
        try blob.attach(name: "second", contents: [UInt8](repeating: 2, count: 40_000), masterKey: key)
        t.ultravisor.esmAttachments(&run, blob: blob.bytes)
        #expect(run.checks.map(\.name) == ["attachments"])
        #expect(run.checks.first?.passed == false)
        #expect(run.checks.first?.detail.hasSuffix("over the 64 KiB page: not copied (notice only)") == true)
        #expect(t.ultravisor.anomalies.map(\.call) == ["UV_ESM files FDT"])
        #expect(run.attachments.isEmpty)
    }
}
