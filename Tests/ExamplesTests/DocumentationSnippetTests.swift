import SVMKit
import Testing

/// The code samples of the DocC catalogs (Sources/*/*.docc), copied here so that they
/// are compiled and their commented results checked. When a sample changes, change it
/// here too.
@Suite("Documentation samples")
struct DocumentationSnippetTests {
    @Test("PowerABI.md: privilege checks, status names, frames")
    func powerABI() {
        let secureKernel = PrivilegeState(secure: true, hypervisor: false, problem: false)
        let normalKernel = PrivilegeState(secure: false, hypervisor: false, problem: false)
        #expect(secureKernel.level == .securePrivileged)
        let caller = Ultracall.sharePage.allowedCaller
        #expect(caller == .secureSupervisor)
        #expect(caller?.admits(secureKernel) == true)
        #expect(caller?.admits(normalKernel) == false)
        #expect(UltravisorStatus(register: UInt64(bitPattern: -4)).name == "U_PARAMETER")
        #expect(GuestPhysicalAddress(0x3C00_1234).frame.rawValue == 0x3C00)
    }

    @Test("DeviceTree.md: build, edit, read back, render")
    func deviceTree() throws {
        var tree = try DeviceTree(
            root: DeviceTreeNode(
                "",
                children: [
                    DeviceTreeNode("chosen", properties: [.string("bootargs", "svm=on console=hvc0")])
                ]))
        try tree.setU64("linux,initrd-start", 0x42_0000, at: "/chosen")
        try tree.addReserveEntry(DeviceTreeRegion(address: 0x40_0000, size: 0x10_0000))
        try tree.pack()
        #expect(try tree.string("bootargs", at: "/chosen") == "svm=on console=hvc0")
        #expect(try tree.u64("linux,initrd-start", at: "/chosen") == 0x42_0000)
        let dts = tree.renderDTS()
        #expect(dts.contains("/memreserve/\t0x0000000000400000 0x0000000000100000;"), "\(dts)")
        #expect(dts.contains("bootargs = \"svm=on console=hvc0\";"), "\(dts)")
    }

    @Test("SWIOTLB.md and the bounce-buffer article: map, copy directions, configuration")
    func swiotlb() throws {
        let memory = try HostBounceMemory(size: 80 << 20)
        let pool = try SWIOTLBPool(region: BounceRegion(base: 0, size: 64 << 20), areas: 4, memory: memory)
        let original: UInt64 = 70 << 20
        try memory.write(Array("hello, device".utf8), at: original)
        let bounce = try pool.map(original: original, size: 13, direction: .toDevice, cpu: 1)
        #expect(pool.contains(bounce))
        #expect(try memory.read(at: bounce, count: 13) == Array("hello, device".utf8))
        try pool.unmap(bounce, size: 13, direction: .toDevice)
        #expect(pool.statistics.usedSlots == 0)

        let c = try SWIOTLBConfiguration(slabs: 40000, possibleCPUs: 4)
        #expect(c.slots == 65536)
        #expect(c.areas == 4)
        #expect(c.messages == ["area num 4.", "SWIOTLB bounce buffer size roundup to 128MB"])

        // The article's "The pool API".
        let memory2 = try HostBounceMemory(size: 80 << 20)
        let pool2 = try SWIOTLBPool(region: BounceRegion(base: 0, size: 64 << 20), areas: 2, memory: memory2)
        let bounce2 = try pool2.map(original: original, size: 4096, direction: .fromDevice, cpu: 0)
        try memory2.fill(at: bounce2, count: 4096, with: 0xAB)
        try pool2.unmap(bounce2, size: 4096, direction: .fromDevice)
        #expect(try memory2.read(at: original, count: 4096) == [UInt8](repeating: 0xAB, count: 4096))
    }

    @Test("ESM.md: create, authorize, digests, attach, svm add, locate, check")
    func esm() throws {
        let owner = try ESMPrivateKey.generate()
        let tpm = try ESMPrivateKey.generate()
        let key = ESMMasterKey.random()
        let kernel = [UInt8](repeating: 0x60, count: 4096), initrd = [UInt8](repeating: 0, count: 512)

        var blob = try ESMBlob.create(origin: owner.publicKey, comment: "owner", masterKey: key)
        try blob.authorize(tpm.publicKey, comment: "TPM", masterKey: key)
        try blob.setDigests(ESMDigests(kernel: kernel, initrd: initrd, bootargs: "svm=on"), masterKey: key)
        try blob.attach(name: "rootd", contents: Array("passphrase".utf8), masterKey: key)
        #expect(try blob.lockboxes().map(\.name).sorted() == ["lockbox-1", "origin-lockbox"])

        let loaded = try ESMInitrd.addBlob(blob.bytes, to: initrd)
        let found = try ESMBlobLocator.locate(inInitrd: loaded)
        let report = ESMIntegrityCheck.run(
            blob: found.blob, unwrapMasterKey: { try tpm.decrypt($0) }, rtasText: ESMDigests.slofRTASStub,
            readKernel: { Array(kernel.prefix($0)) }, initrd: Array(loaded[found.hashedRange]),
            bootargsProperty: Array("svm=on".utf8) + [0])
        #expect(report.passed, "\(report.checks)")
    }

    @Test("SVMKit.md and Getting Started: a secure boot, its report, kexec")
    func gettingStarted() throws {
        var configuration = BootConfiguration()
        configuration.memoryBytes = 1 << 30
        configuration.cpuCount = 2
        configuration.commandLine = "svm=on swiotlb=force console=hvc0"
        let vm = try SecureVirtualMachine(configuration: configuration)
        let report = vm.boot()
        #expect(report.secure)
        #expect(report.esmResult == 0)
        #expect(report.kernelLog.contains { $0.hasSuffix("Switching to secure mode.") })
        #expect(report.esmChecks.first?.check == "rtas-area")
        #expect(Array(report.esmChecks.map(\.check).suffix(3)) == ["kernel", "initrd", "bootargs"])
        #expect(report.sharedPages["swiotlb"] == 1024, "64 MiB in 64 KiB pages")
        #expect(report.endedAsRequested)

        let after = vm.kexec(.normal)
        #expect(after.kexec?.hasPrefix("kexec normal: UV_UNSHARE_ALL_PAGES → U_SUCCESS (0); ") == true, "\(after.kexec ?? "")")
        #expect(after.audits.count == 3, "after boot, after kexec, after the next boot")
        #expect(after.audits[1].contains(": 0 explicit"), "\(after.audits)")
    }

    @Test("Getting Started, 'Make it fail': one changed command line and UV_ESM fails with H_PARAMETER")
    func makeItFail() throws {
        let tpmKey = try TPMProvisioning.generateKeyPEM()
        let kernel = DefaultGuestContent.kernel()
        let initrd = DefaultGuestContent.initrd()
        let blob = try BootImageBuilder.makeBlob(
            tpmKeyPEM: tpmKey, kernel: kernel, initrd: initrd, commandLine: "svm=on swiotlb=force console=hvc0", attachments: [:])
        var tampered = BootConfiguration()
        tampered.memoryBytes = 1 << 30
        tampered.tpmKeyPEM = tpmKey
        tampered.kernel = kernel
        tampered.initrd = try ESMInitrd.addBlob(blob, to: initrd)
        tampered.commandLine = "svm=on swiotlb=force console=hvc0 quiet"

        let failed = try SecureVirtualMachine(configuration: tampered).boot()
        #expect(!failed.secure)
        #expect(failed.esmResult == -4)
        #expect(failed.osTerm == "Switch to secure mode failed.")
        #expect(failed.esmChecks.filter { !$0.passed }.map(\.check) == ["bootargs"])
    }

    @Test("How a POWER guest becomes secure, 'Try it': the calls and the shared pages")
    func tryIt() throws {
        var configuration = BootConfiguration()
        configuration.memoryBytes = 512 << 20
        configuration.cpuCount = 2
        let report = try SecureVirtualMachine(configuration: configuration).boot()
        #expect(report.calls["UV_ESM"] == 1)
        #expect(report.calls["H_SVM_INIT_START"] == 1)
        #expect(report.calls["UV_SHARE_PAGE"] == 3, "LPPACA, DTL, SWIOTLB")
        #expect(
            report.sharedPages == [
                "lppaca": 32, "dtl": 1, "swiotlb": 1024, "ultravisor-implicit": 7, "ultravisor-pseudo": 1,
            ])
    }
}
