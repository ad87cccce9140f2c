import DeviceTree
import ESM
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import SecureGuest
import TPM
import Testing

@testable import Ultravisor
import PEFTestSupport

/// UV_ESM end to end on images made by `BootImageBuilder` (reference/ultravisor-facts.md §2).
@Suite struct EnterSecureModeTests {
    static func image() throws -> BootImage { try SecureBootAssets.defaultImage.get() }

    /// The state every failed UV_ESM must leave: the guest normal, nothing shared,
    /// no SVM, the FDT as it was.
    static func expectCleanAbort(_ t: SecureBoot, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!t.boot.isSecure, sourceLocation: sourceLocation)
        #expect(t.memory.pageCountsByState == [.normal: t.memory.pageCount], sourceLocation: sourceLocation)
        #expect(t.ultravisor.lifecycle(of: t.machine.lpid) == nil, sourceLocation: sourceLocation)
        #expect(t.hypervisor.phase == .normal, sourceLocation: sourceLocation)
        #expect(t.hypervisor.pageView == (0, 0, 0), sourceLocation: sourceLocation)
        #expect(t.memory.violationCount == 0, sourceLocation: sourceLocation)
        let fdt = try? t.memory.read(.hypervisor, at: .gpa(t.fdtAddress), count: t.loadedFDT.count)
        #expect(fdt == t.loadedFDT, "the guest's FDT is not modified", sourceLocation: sourceLocation)
    }

    @Test func defaultImageGoesSecure() throws {
        let t = try SecureBoot(try Self.image())
        let (outcome, log) = t.promInit()
        #expect(outcome == t.secureOutcome)
        #expect(log.contains("Switching to secure mode."))
        // The return frame (§2.8 step 4).
        let cpu = t.boot.snapshot
        #expect(cpu.pc == t.kernelBase)
        #expect(cpu.msr.contains(.secure) && !cpu.msr.contains(.hypervisor) && !cpu.msr.contains(.externalInterrupts))
        #expect(cpu.registers.r3 == t.fdtAddress && cpu.registers[4] == t.kernelBase && cpu.registers[5] == 0)
        #expect(t.ultravisor.lifecycle(of: 1) == .secure)
        #expect(t.hypervisor.phase == .secure)

        let report = try #require(t.report)
        #expect(report.outcome == .secure && report.status == 0 && report.failedStep == nil && report.cause == nil)
        #expect(report.checks.allSatisfy { $0.passed })
        #expect(
            report.checks.map(\.name) == [
                "rtas-area", "initrd-range", "bootargs-property", "esm-blob", "attachments", "lockbox-1", "digests-fdt",
                "rtas", "kernel", "initrd", "bootargs",
            ])
        #expect(report.blobSource == "opt/ibm/pef/esmb.dtb")
        #expect(report.attachments == ["rootd"])
        // The reservations below the RMO top (256 MiB), as in the worked example of §2.5.
        #expect(
            report.reservedRegions.map { "\($0.name) \(String($0.address, radix: 16)) \($0.size)" } == [
                "esmb fff0000 65536", "files-fdt ffe0000 65536", "rtas ff80000 393216", "tss ff60000 131072",
            ])
        #expect(report.reservedRegions.map(\.implicitlyShared.count) == [0, 0, 6, 1])
        // 7 implicitly shared pages and the RTAS area pseudo-shared; every other page secure.
        #expect(t.memory.pageCount(in: .sharedImplicit) == 7)
        #expect(t.memory.pageCount(in: .pseudoShared) == 1)
        #expect(report.pseudoShared == [t.image.segment("rtas")?.address.rawValue ?? 0])
        #expect(t.memory.pageCount(in: .secure) == t.memory.pageCount - 8)
        #expect(t.memory.violationCount == 0)
        // The TPM did the unwrap over H_TPM_COMM from the bounce page.
        let tpm = t.machine.trace.records.filter { $0.name == "H_TPM_COMM" }
        #expect(tpm.count >= 7)
        #expect(tpm.filter { $0.arguments.first == 1 }.allSatisfy { $0.arguments[1] == 0xff60000 && $0.arguments[3] == 0xff60000 })
        #expect(tpm.last?.arguments.first == 2, "the TPM session is closed")
        // Untouched pages were paged in without copying: only what was loaded is resident.
        let loaded = t.image.segments.reduce(UInt64(t.loadedFDT.count)) { $0 + UInt64($1.bytes.count) }
        #expect(t.memory.residentBytes() < loaded + 64 * PageSize.bytes)
        #expect(report.pagesPagedIn > 0 && report.pagesPagedIn < 64)
        // The trace carries the log on the UV_ESM record.
        let esm = try #require(t.machine.trace.records.first { $0.name == "UV_ESM" })
        #expect(esm.notes.contains { $0.hasPrefix("svm_fdt_init") })
        #expect(esm.notes.contains { $0.contains("PASS kernel") })
    }

    @Test func theReserveMapReadBackFromGuestMemoryHoldsTheUltravisorsPages() throws {
        let t = try SecureBoot(try Self.image())
        _ = t.promInit()
        #expect(t.boot.isSecure)
        let before = t.image.deviceTree.reserveMap
        let after = try #require(t.guestFDT()).reserveMap
        let added = [
            DeviceTreeRegion(address: 0xfff0000, size: 0x10000), DeviceTreeRegion(address: 0xffe0000, size: 0x10000),
            DeviceTreeRegion(address: 0xff80000, size: 0x60000), DeviceTreeRegion(address: 0xff60000, size: 0x20000),
        ]
        #expect(after == before + added)
        // Nothing else in the tree changed.
        var expected = t.image.deviceTree
        for r in added { try expected.addReserveEntry(r) }
        try expected.pack()
        #expect(try #require(t.guestFDT()).bytes == expected.bytes)
        // The Ultravisor's own pages: the master key and the files FDT are secure, the
        // bounce pages implicitly shared (a guest access to one would kill the SVM).
        #expect(t.memory.state(of: GuestFrameNumber(rawValue: 0xfff0000 >> 16)) == .secure)
        #expect(t.memory.state(of: GuestFrameNumber(rawValue: 0xff80000 >> 16)) == .sharedImplicit)
        #expect(t.memory.state(of: GuestFrameNumber(rawValue: 0xff60000 >> 16)) == .sharedImplicit)
        #expect(t.memory.state(of: GuestFrameNumber(rawValue: 0xff70000 >> 16)) == .secure)
    }

    @Test func aSecondUVESMGetsURetry() throws {
        let t = try SecureBoot(try Self.image())
        _ = t.promInit()
        #expect(t.boot.isSecure)
        let r = t.enterSecureMode()
        #expect(UltravisorStatus(register: r.r3) == .retry)
        #expect(t.boot.isSecure && t.boot.pc == t.kernelBase + 4)
        #expect(t.ultravisor.lifecycle(of: 1) == .secure)
        let reports = t.ultravisor.esmReports(lpid: 1)
        #expect(reports.map(\.outcome) == [.secure, .refused])
        let second = try #require(reports.last)
        #expect(second.status == UltravisorStatus.retry.rawValue && second.failedStep == .createSVM)
        #expect(second.cause?.contains("already exists (secure)") == true)
    }

    @Test func aChangedKernelByteAborts() throws {
        let t = try SecureBoot(try Self.image())
        let at = GuestPhysicalAddress(rawValue: t.kernelBase + 0x1234)
        let byte = try t.memory.read(.hypervisor, at: at, count: 1)
        try t.memory.write(.hypervisor, at: at, bytes: [byte[0] ^ 0x01])
        let (outcome, log) = t.promInit()
        #expect(outcome == .terminated(status: HypervisorStatus.parameter.rawValue))
        #expect(log.contains("Returned -4 from switching to secure mode."))
        #expect(t.machine.stopReason == .osTerm(message: "Switch to secure mode failed.\n"))
        Self.expectCleanAbort(t)
        let report = try #require(t.report)
        #expect(report.outcome == .aborted && report.status == -4 && report.failedStep == .digestCheck)
        let kernel = try #require(report.checks.first { $0.name == "kernel" })
        #expect(!kernel.passed)
        #expect(kernel.expected != nil && kernel.actual != nil && kernel.expected != kernel.actual)
        #expect(report.cause?.contains("kernel") == true)
        #expect(report.cause?.contains(kernel.expected ?? "?") == true && report.cause?.contains(kernel.actual ?? "?") == true)
        // Only the kernel failed; the other digests were still checked (§2.6).
        #expect(report.failedChecks.map(\.name) == ["kernel"])
        let esm = try #require(t.machine.trace.records.first { $0.name == "UV_ESM" })
        #expect(esm.notes.contains { $0.contains("failed at digest-check") })
        #expect(HypervisorStatus(register: UInt64(bitPattern: esm.result)) == .parameter)
    }

    @Test func aBootargsWhitespaceChangeAborts() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.setString("bootargs", "svm=on  console=hvc0", at: "/chosen") }
        let t = try SecureBoot(base, tree: tree)
        let (outcome, _) = t.promInit()
        #expect(outcome == .terminated(status: -4))
        Self.expectCleanAbort(t)
        let report = try #require(t.report)
        #expect(report.failedStep == .digestCheck && report.failedChecks.map(\.name) == ["bootargs"])
        #expect(report.cause?.contains("\"svm=on  console=hvc0\"") == true)
    }

    @Test func anotherTPMKeyAborts() throws {
        let t = try SecureBoot(try Self.image(), tpmKeyPEM: SecureBootAssets.otherKeyPEM)
        let (outcome, _) = t.promInit()
        #expect(outcome == .terminated(status: -4))
        Self.expectCleanAbort(t)
        let report = try #require(t.report)
        #expect(report.failedStep == .digestCheck)
        #expect(report.checks.last?.name == "lockbox-1" && report.checks.last?.passed == false)
        #expect(report.cause?.contains("lockbox-1") == true)
        #expect(report.cause?.contains("TPM2_RSA_Decrypt") == true)
    }

    @Test func noWrappingKeyInTheUltravisorsBootTreeAborts() throws {
        let t = try SecureBoot(try Self.image(), wrappingKey: false)
        _ = t.promInit()
        Self.expectCleanAbort(t)
        #expect(t.report?.cause?.contains("ibm,uv-tpm") == true)
        #expect(t.machine.trace.count(of: "H_TPM_COMM") == 0)
    }

    @Test func noInitrdAborts() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("linux,initrd-start", at: "/chosen") }
        let t = try SecureBoot(base, tree: tree)
        let (outcome, _) = t.promInit()
        #expect(outcome == .terminated(status: -4))
        Self.expectCleanAbort(t)
        let report = try #require(t.report)
        #expect(report.failedStep == .initrd)
        #expect(report.cause == "missing property /chosen/linux,initrd-start: an initrd is mandatory")
        #expect(report.checks.map(\.name) == ["rtas-area", "initrd-range"])
        #expect(t.machine.trace.count(of: "H_TPM_COMM") == 0)
    }

    @Test func noBootargsAborts() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("bootargs", at: "/chosen") }
        let t = try SecureBoot(base, tree: tree)
        // prom_init finds no svm=on without bootargs: issue UV_ESM directly.
        let r = t.enterSecureMode()
        #expect(HypervisorStatus(register: r.r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .bootargs)
        #expect(t.report?.cause?.hasPrefix("missing property /chosen/bootargs") == true)
    }

    @Test func aMissingMandatoryRTASTokenAborts() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("event-scan", at: "/rtas") }
        let t = try SecureBoot(base, tree: tree)
        let (outcome, _) = t.promInit()
        #expect(outcome == .terminated(status: -4))
        Self.expectCleanAbort(t)
        let report = try #require(t.report)
        #expect(report.failedStep == .rtasTokens)
        #expect(report.cause?.hasPrefix("missing property /rtas/event-scan") == true)
        // The esmb pages were reserved before the RTAS handler failed; nothing reached the checks.
        #expect(report.reservedRegions.map(\.name) == ["esmb", "files-fdt"])
        #expect(report.checks.isEmpty)
    }

    @Test func aMissingStopSelfTokenAborts() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("stop-self", at: "/rtas") }
        let t = try SecureBoot(base, tree: tree)
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.cause?.hasPrefix("missing property /rtas/stop-self") == true)
    }

    @Test func anFDTOverOneMiBAborts() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited {
            try $0.setProperty("svmkit,padding", [UInt8](repeating: 0xA5, count: 1 << 20), at: "/")
        }
        #expect(tree.totalSize > 1 << 20)
        let t = try SecureBoot(base, tree: tree)
        let (outcome, _) = t.promInit()
        #expect(outcome == .terminated(status: -4))
        Self.expectCleanAbort(t)
        let report = try #require(t.report)
        #expect(report.failedStep == .fdtSize)
        #expect(report.cause?.contains("totalsize is \(tree.totalSize) bytes") == true)
        #expect(report.reservedRegions.isEmpty)
    }

    @Test func anFDTOfExactlyOneMiBIsAccepted() throws {
        let base = try Self.image()
        // Pad the tree to exactly 1 MiB minus room for the 4 reserve entries.
        var tree = try base.deviceTree.edited { try $0.setProperty("svmkit,padding", [], at: "/") }
        let target = (1 << 20) - 4 * 16
        tree = try tree.edited {
            try $0.setProperty("svmkit,padding", [UInt8](repeating: 0, count: (target - tree.totalSize) & ~3), at: "/")
        }
        #expect(tree.totalSize <= 1 << 20 && tree.totalSize > (1 << 20) - 128)
        let t = try SecureBoot(base, tree: tree)
        #expect(t.promInit().outcome == t.secureOutcome)
    }

    @Test func noSlackForTheReserveEntriesAborts() throws {
        let base = try Self.image()
        // A packed tree whose totalsize leaves 8 bytes to the next 64 KiB: the working
        // copy has no room for a 16-byte reserve entry.
        var tree = try base.deviceTree.edited { try $0.setProperty("svmkit,padding", [], at: "/") }
        let target = 3 * 65536 - 8
        tree = try tree.edited {
            try $0.setProperty("svmkit,padding", [UInt8](repeating: 0, count: target - tree.totalSize), at: "/")
        }
        #expect(tree.totalSize == target)
        let t = try SecureBoot(base, tree: tree)
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .esmbReservation)
        #expect(t.report?.cause?.contains("FDT_ERR_NOSPACE") == true)
    }

    @Test func noRoomBelowTheRMOTopIsUPermission() throws {
        let base = try Self.image()
        // A guest reserve entry over the whole RMO: every candidate below the RMO top
        // overlaps it, the search falls below 0 and out of the memory slots.
        let tree = try base.deviceTree.edited { try $0.addReserveEntry(DeviceTreeRegion(address: 0, size: 256 << 20)) }
        let t = try SecureBoot(base, tree: tree)
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .esmbReservation)
        #expect(t.report?.cause?.hasSuffix("U_PERMISSION, SVM is very low on memory") == true)
    }

    @Test func reservationsSkipTheGuestsOwnReserveEntries() throws {
        let base = try Self.image()
        // A guest entry over [RMO top − 128 KiB, RMO top − 64 KiB) pushes files-fdt and
        // everything after it below it (svm_overlaps_fdt_rsv_addr).
        let tree = try base.deviceTree.edited {
            try $0.addReserveEntry(DeviceTreeRegion(address: 0xffe0000, size: 0x10000))
        }
        let t = try SecureBoot(base, tree: tree)
        t.enterSecureMode()
        #expect(t.boot.isSecure)
        #expect(
            t.report?.reservedRegions.map(\.address) == [0xfff0000, 0xffd0000, 0xff70000, 0xff50000])
    }

    @Test func aBadFDTHeaderAborts() throws {
        let t = try SecureBoot(try Self.image())
        try t.memory.write(.hypervisor, at: .gpa(t.fdtAddress), bytes: [0xDE, 0xAD, 0xBE, 0xEF])
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        #expect(t.report?.failedStep == .fdtHeader)
        #expect(t.report?.cause?.contains("FDT_ERR_BADMAGIC") == true)
    }

    @Test func memoryAtZeroIsTheRMOAndIsCappedAt768MiB() throws {
        var c = SecureBootAssets.configuration()
        c.memoryBytes = 1 << 30
        c.initrd = try Self.image().segment("initrd")?.bytes  // already carries the blob: no new keys
        let image = try BootImageBuilder.build(c)
        let t = try SecureBoot(image)
        #expect(t.promInit().outcome == t.secureOutcome)
        #expect(t.report?.reservedRegions.first?.address == (768 << 20) - 0x10000)
        #expect(t.report?.log.contains("RMO top 0x30000000 (/memory@0 size 0x40000000, capped at 768 MiB)") == true)

        let base = try Self.image()
        let bad = try base.deviceTree.edited {
            try $0.setProperty("reg", BigEndianCells.bytes(UInt64(0x1000_0000)) + BigEndianCells.bytes(UInt64(0x1000)), at: "/memory@0")
        }
        let u = try SecureBoot(base, tree: bad)
        #expect(HypervisorStatus(register: u.enterSecureMode().r3) == .parameter)
        #expect(u.report?.failedStep == .rmoTop)
        #expect(u.report?.cause == "/memory@0/reg starts at 0x10000000, not 0: it is not the RMO")
    }

    @Test func theVCPULimitComesFromLRDRCapacity() throws {
        let base = try Self.image()
        // 5000 cores × 1 thread is over MAX_GUEST_CPUS.
        let tree = try base.deviceTree.edited {
            var cells = try $0.cells("ibm,lrdr-capacity", at: "/rtas")
            cells[cells.count - 1] = 5000
            try $0.setProperty("ibm,lrdr-capacity", BigEndianCells.bytes(cells: cells), at: "/rtas")
        }
        let t = try SecureBoot(base, tree: tree)
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .vcpuLimit)
        #expect(t.report?.cause?.hasPrefix("vcpus.max = 5000") == true)
    }

    @Test func aBootCPUBeyondTheLimitFailsAfterInitDoneAndKVMRefusesTheAbort() throws {
        let base = try Self.image()
        var tree = base.deviceTree
        tree.bootCPUIDPhys = 4
        let t = try SecureBoot(base, tree: tree)
        let r = t.enterSecureMode()
        // KVM refuses H_SVM_INIT_ABORT after H_SVM_INIT_DONE with H_STATE, and that is
        // what the guest finds (reference/ultravisor-facts.md §1.5).
        #expect(HypervisorStatus(register: r.r3) == .state)
        #expect(!t.boot.isSecure)
        let report = try #require(t.report)
        #expect(report.outcome == .aborted && report.failedStep == .bootVCPU)
        #expect(report.cause == "find_boot_vcpu: the FDT's boot_cpuid_phys 4 is not below vcpus.max 4")
        #expect(t.ultravisor.lifecycle(of: 1) == .aborted)
    }

    @Test func warnModeContinuesWhereEnforceStops() throws {
        let base = try Self.image()
        for policy in ESMCheckPolicy.allCases {
            let t = try SecureBoot(base, policy: policy)
            let at = GuestPhysicalAddress(rawValue: t.kernelBase + 0x40)
            try t.memory.write(.hypervisor, at: at, bytes: [0xFF, 0xFF])
            let (outcome, _) = t.promInit()
            let report = try #require(t.report)
            #expect(report.policy == policy)
            #expect(report.failedStep == .digestCheck)
            #expect(report.failedChecks.map(\.name) == ["kernel"])
            switch policy {
            case .enforce:
                #expect(outcome == .terminated(status: -4))
                #expect(report.outcome == .aborted)
                Self.expectCleanAbort(t)
            case .warn:
                #expect(outcome == t.secureOutcome)
                #expect(report.outcome == .secureDespiteFailedCheck && report.isSecure && report.status == 0)
                #expect(report.log.contains("CONTINUING INSPITE OF ESM CHECK FAILURE."))
                #expect(report.log.contains("svm_populate_kernel: every memory slot paged in"))
                #expect(t.memory.pageCount(in: .secure) == t.memory.pageCount - 8)
                let esm = try #require(t.machine.trace.records.first { $0.name == "UV_ESM" })
                #expect(esm.notes.contains("CONTINUING INSPITE OF ESM CHECK FAILURE."))
            }
        }
    }

    @Test func warnModeStillAbortsOnADeviceTreeProblem() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("start-cpu", at: "/rtas") }
        let t = try SecureBoot(base, tree: tree, policy: .warn)
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .rtasTokens)
    }

    @Test func warnModeContinuesWithoutAnInitrd() throws {
        let base = try Self.image()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("linux,initrd-end", at: "/chosen") }
        let t = try SecureBoot(base, tree: tree, policy: .warn)
        _ = t.enterSecureMode()
        #expect(t.boot.isSecure)
        #expect(t.report?.outcome == .secureDespiteFailedCheck && t.report?.failedStep == .initrd)
    }

    @Test func theWrapperBlobPathBoots() throws {
        let image = try SecureBootAssets.wrapperImage.get()
        #expect(image.segment("esm-blob") != nil)
        let t = try SecureBoot(image)
        #expect(t.promInit().outcome == t.secureOutcome)
        let report = try #require(t.report)
        #expect(report.blobSource?.hasPrefix("/chosen/linux,esm-blob-start") == true)
        #expect(report.checks.allSatisfy { $0.passed })
        #expect(try ESMBGetFile.read("rootd", on: t.boot) == SecureBootAssets.attachments["rootd"])
    }

    @Test func theWrapperPathStillNeedsAnInitrd() throws {
        let image = try SecureBootAssets.wrapperImage.get()
        let tree = try image.deviceTree.edited { try $0.deleteProperty("linux,initrd-start", at: "/chosen") }
        let t = try SecureBoot(image, tree: tree)
        _ = t.enterSecureMode()
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .initrd)
    }

    @Test func entryChecksAnswerAtOnce() throws {
        let t = try SecureBoot(try Self.image())
        #expect(UltravisorStatus(register: t.enterSecureMode(kernelBase: 0).r3) == .p2)
        #expect(t.report?.outcome == .refused && t.report?.cause == "kbase (r4) is 0")
        #expect(UltravisorStatus(register: t.enterSecureMode(fdt: 0).r3) == .p3)
        #expect(UltravisorStatus(register: t.enterSecureMode(kernelBase: 0, fdt: 0).r3) == .p2)
        t.boot.update { $0.lpidr = 0 }
        #expect(UltravisorStatus(register: t.enterSecureMode().r3) == .permission)
        #expect(t.ultravisor.esmReport(lpid: 0)?.cause == "UV_ESM called by an unauthorized LPID 0")
        t.boot.update { $0.lpidr = 1 }
        // A problem-state caller never reaches the Ultravisor (the router's check).
        t.boot.update { $0.msr = $0.msr.union(.problemState) }
        #expect(UltravisorStatus(register: t.enterSecureMode().r3) == .permission)
        #expect(t.ultravisor.esmReports(lpid: 1).count == 3)
        #expect(t.ultravisor.lifecycle(of: 1) == nil)
        #expect(t.machine.trace.count(of: "H_SVM_INIT_START") == 0)
        #expect(t.memory.pageCountsByState == [.normal: t.memory.pageCount])
    }

    @Test func aFailedUVESMCanBeRetried() throws {
        let base = try Self.image()
        let bad = try base.deviceTree.edited { try $0.deleteProperty("linux,initrd-start", at: "/chosen") }
        let t = try SecureBoot(base, tree: bad)
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        try t.memory.write(.hypervisor, at: .gpa(t.fdtAddress), bytes: base.deviceTree.bytes)
        t.boot.update { $0.pc = 0 }
        t.enterSecureMode()
        #expect(t.boot.isSecure)
        #expect(t.ultravisor.esmReports(lpid: 1).map(\.outcome) == [.aborted, .secure])
    }

    @Test func aFailingHSVMInitDoneAborts() throws {
        let done = FaultRule(opcode: .hypercall(.svmInitDone), trigger: .every, action: .status(HypervisorStatus.state.rawValue))
        let t = try SecureBoot(try Self.image(), faults: [done])
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        #expect(t.report?.failedStep == .initDone && t.report?.cause == "H_SVM_INIT_DONE answered H_STATE")
        // Every check passed before it.
        #expect(t.report?.checks.allSatisfy { $0.passed } == true)
    }

    @Test func aFailingHTPMCommFailsLockbox1() throws {
        let tpm = FaultRule(opcode: .hypercall(.tpmComm), trigger: .nth(2), action: .status(HypervisorStatus.notAvailable.rawValue))
        let t = try SecureBoot(try Self.image(), faults: [tpm])
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
        Self.expectCleanAbort(t)
        let cause = try #require(t.report?.cause)
        #expect(cause.contains("lockbox-1") && cause.contains("H_TPM_COMM failed with") && cause.contains("errno -19"))
    }

    @Test func aFailingHSVMInitStartAbortsBeforeAnyPageMoves() throws {
        let start = FaultRule(opcode: .hypercall(.svmInitStart), trigger: .every, action: .status(HypervisorStatus.state.rawValue))
        let t = try SecureBoot(try Self.image(), faults: [start])
        let r = t.enterSecureMode()
        // kvmppc_h_svm_init_start (6.12) sets KVMPPC_SECURE_INIT_START before anything
        // can fail, and the injected failure takes that path: so H_SVM_INIT_ABORT finds
        // the start, answers H_PARAMETER and terminates the SVM (UV_SVM_TERMINATE). The
        // guest gets -4, and a second UV_ESM starts afresh (was: H_UNSUPPORTED, the SVM
        // left aborted and U_RETRY, a path KVM cannot take).
        #expect(HypervisorStatus(register: r.r3) == .parameter)
        #expect(!t.boot.isSecure)
        #expect(t.report?.failedStep == .initStart && t.report?.cause == "H_SVM_INIT_START answered H_STATE")
        #expect(t.memory.pageCountsByState == [.normal: t.memory.pageCount])
        #expect(t.ultravisor.lifecycle(of: 1) == nil)
        #expect(t.ultravisor.terminatedLPIDs == [1])
        let names = t.machine.trace.records.map(\.name)
        let abort = try #require(names.firstIndex(of: "H_SVM_INIT_ABORT"))
        #expect(names[abort...].contains("UV_SVM_TERMINATE"))
        #expect(HypervisorStatus(register: t.enterSecureMode().r3) == .parameter)
    }

    @Test func theSameSeedGivesTheSameTrace() throws {
        let image = try Self.image()
        func run() throws -> [String] {
            let t = try SecureBoot(image)
            _ = t.promInit()
            return t.machine.trace.records.map { "\($0.name) \($0.arguments) \($0.result)" }
        }
        #expect(try run() == run())
    }
}
