import DeviceTree
import ESM
import Foundation
import Testing
@testable import SVMKit

/// The boot image SVMKit lays out, checked against QEMU's placement rules and the
/// Ultravisor's own checks (run offline through ESMIntegrityCheck).
@Suite("Boot image layout and the generated ESM blob")
struct BootImageBuilderTests {
    static let image: BootImage = {
        // A fixed TPM key keeps the suite to one RSA key generation for the origin.
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        return try! BootImageBuilder.build(c)
    }()

    @Test("Kernel at 0x400000, initrd by QEMU's rule, RTAS and FDT below the RMO top")
    func layout() throws {
        let i = Self.image
        #expect(i.kernelBase == GuestPhysicalAddress(0x40_0000))
        let kernel = try #require(i.segment("kernel"))
        let initrd = try #require(i.segment("initrd"))
        #expect(initrd.address.rawValue == (kernel.end.rawValue + 0x1_FFFF) & ~0xFFFF)
        #expect(i.fdtAddress == GuestPhysicalAddress((768 << 20) - (4 << 20)))
        let rtas = try #require(i.segment("rtas"))
        #expect(rtas.address == GuestPhysicalAddress((768 << 20) - (2 << 20)))
        #expect(rtas.bytes == ESMDigests.slofRTASStub)
        let t = i.deviceTree
        #expect(try t.string("bootargs", at: "/chosen") == "svm=on swiotlb=force console=hvc0")
        #expect(try t.u64("linux,initrd-start", at: "/chosen") == initrd.address.rawValue)
        #expect(try t.u64("linux,initrd-end", at: "/chosen") == initrd.end.rawValue)
        #expect(try t.u32("linux,rtas-base", at: "/rtas") == UInt32(rtas.address.rawValue))
        #expect(try t.u32("slof,rtas-size", at: "/rtas") == 20)
        let reserved = t.reserveMap
        #expect(reserved.contains(DeviceTreeRegion(address: kernel.address.rawValue, size: UInt64(kernel.bytes.count))))
        #expect(reserved.contains(DeviceTreeRegion(address: initrd.address.rawValue, size: UInt64(initrd.bytes.count))))
        #expect(reserved.contains { $0.address == rtas.address.rawValue })
    }

    @Test("The generated blob passes every check the Ultravisor makes, opened with the TPM key")
    func preflight() throws {
        let i = Self.image
        let initrd = try #require(i.segment("initrd")).bytes
        let located = try ESMBlobLocator.locate(inInitrd: initrd)
        let blob = try ESMBlob(bytes: located.blob)
        let key = try ESMPrivateKey(pemFileBytes: Array(i.tpmKeyPEM.utf8))
        #expect(try blob.lockbox(named: "lockbox-1").fingerprint == key.publicKey.fingerprint)
        let kernel = try #require(i.segment("kernel")).bytes
        let report = ESMIntegrityCheck.run(
            blob: located.blob, unwrapMasterKey: ESMIntegrityCheck.keyUnwrapper(privateKey: key, blob: blob),
            rtasText: ESMDigests.slofRTASStub, readKernel: { n in Array(kernel.prefix(n)) },
            initrd: Array(initrd[located.hashedRange]),
            bootargsProperty: Array(BootConfiguration.defaultCommandLine.utf8) + [0])
        #expect(report.passed, "\(report.checks)")
        let master = try blob.masterKey(using: key)
        #expect(try blob.extract("rootd", masterKey: master) == i.generatedAttachments["rootd"])
    }

    @Test("A QEMU dumpdtb tree: memory and vCPUs come from it, stale reservations are replaced")
    func qemuFixture() throws {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.deviceTree = try Array(Data(contentsOf: TestKeys.fixture("qemu-pseries-kernel-2cpu-2G.dtb")))
        let i = try BootImageBuilder.build(c)
        #expect(i.memoryBytes == 2 << 30)
        #expect(i.cpuCount == 2)
        #expect(i.kernelBase == GuestPhysicalAddress(0x40_0000))  // from qemu,boot-kernel
        // QEMU's 128-byte kernel and 70000-byte initrd entries are gone; ours are in.
        #expect(!i.deviceTree.reserveMap.contains(DeviceTreeRegion(address: 0x40_0000, size: 0x80)))
        #expect(i.deviceTree.reserveMap.contains(DeviceTreeRegion(address: 0x40_0000, size: UInt64(DefaultGuestContent.kernelSize))))
        #expect(try i.deviceTree.string("bootargs", at: "/chosen") == "svm=on swiotlb=force console=hvc0")
    }

    @Test("Bad inputs are typed errors naming the option", arguments: [
        ("--memory", { @Sendable (c: inout BootConfiguration) in c.memoryBytes = 64 << 20 }),
        ("--kbase", { @Sendable (c: inout BootConfiguration) in c.kernelBase = 0x1234 }),
        ("--fdt", { @Sendable (c: inout BootConfiguration) in c.deviceTree = [1, 2, 3] }),
        ("--kernel", { @Sendable (c: inout BootConfiguration) in c.kernel = [] }),
        ("--cpus", { @Sendable (c: inout BootConfiguration) in c.cpuCount = 0 }),
        ("--tpm-key", { @Sendable (c: inout BootConfiguration) in c.tpmKeyPEM = "not a key" }),
    ] as [(String, @Sendable (inout BootConfiguration) -> Void)])
    func badInput(option: String, change: @Sendable (inout BootConfiguration) -> Void) {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        change(&c)
        #expect { _ = try BootImageBuilder.build(c) } throws: { error in
            guard let e = error as? BootError else { return false }
            return e.input.contains(option) || (option == "--tpm-key" && e.input.contains("ESM blob"))
        }
    }

    @Test("Images too large for the RMO are refused with the numbers")
    func tooLarge() {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 256 << 20
        c.kernel = [UInt8](repeating: 1, count: 300 << 20)
        #expect { _ = try BootImageBuilder.build(c) } throws: { ($0 as? BootError)?.reason.contains("past the device tree") ?? false }
    }
}
