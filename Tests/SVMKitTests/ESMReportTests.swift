import DeviceTree
import ESM
import Hypervisor
import Foundation
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import TPM
import Testing

@testable import Ultravisor
import PEFTestSupport

/// The report a façade reads after UV_ESM, the Ultravisor's boot device tree, and the
/// failure after commit (reference/ultravisor-facts.md §2.7, §2.8 step 5, §2.9).
@Suite struct ESMReportTests {
    @Test func theReportEncodesAsJSONAndBack() throws {
        let t = try SecureBoot(try SecureBootAssets.defaultImage.get())
        _ = t.promInit()
        let report = try #require(t.report)
        let json = try JSONEncoder().encode(report)
        #expect(try JSONDecoder().decode(ESMReport.self, from: json) == report)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(object["outcome"] as? String == "secure")
        #expect(object["policy"] as? String == "enforce")
        let checks = try #require(object["checks"] as? [[String: Any]])
        #expect(checks.first?["check"] as? String == "rtas-area")
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true && $0["detail"] is String })
        #expect(report.summary == "UV_ESM: secure")
        #expect(report.sharedPageCount == 8)
        #expect(report.reservedRegions.map(\.description).last == "tss 0xff60000 + 0x20000 (1 implicitly shared)")
    }

    @Test func anAbortSummaryNamesTheStepAndTheCause() throws {
        let base = try SecureBootAssets.defaultImage.get()
        let tree = try base.deviceTree.edited { try $0.deleteProperty("slof,rtas-size", at: "/rtas") }
        let t = try SecureBoot(base, tree: tree)
        _ = t.enterSecureMode()
        let report = try #require(t.report)
        #expect(report.failedStep == .rtasArea && report.failedStep?.isIntegrityCheck == true)
        #expect(
            report.summary
                == "UV_ESM aborted (-4) at rtas-area: missing property /rtas/slof,rtas-size (SLOF adds the RTAS properties at run time)")
        #expect(report.log.suffix(2) == ["UV_ESM failed at rtas-area: " + (report.cause ?? ""), "H_SVM_INIT_ABORT: the guest's UV_ESM returns H_PARAMETER"])
    }

    @Test func aFailedFDTWriteBackTerminatesTheSecureVM() throws {
        // A 1 GiB guest whose FDT (over 64 KiB) ends exactly at the end of memory: the
        // packed working copy, 64 bytes longer with the reserve entries, cannot be
        // written back (§2.8 step 5).
        let base = try SecureBootAssets.defaultImage.get()
        var c = SecureBootAssets.configuration()
        c.memoryBytes = 1 << 30
        c.initrd = base.segment("initrd")?.bytes
        let image = try BootImageBuilder.build(c)
        let tree = try image.deviceTree.edited {
            try $0.setProperty("svmkit,padding", [UInt8](repeating: 1, count: 100_000), at: "/")
        }
        let t = try SecureBoot(image)
        let fdt = (1 << 30) - UInt64(tree.totalSize)
        try t.memory.write(.hypervisor, at: .gpa(fdt), bytes: tree.bytes)
        let r = t.enterSecureMode(fdt: fdt)
        #expect(UltravisorStatus(register: r.r3) == .retry)
        let report = try #require(t.report)
        #expect(report.outcome == .terminated && report.failedStep == .fdtWriteBack)
        #expect(report.cause?.hasPrefix("svm_fdt_finalize: the FDT could not be written back") == true)
        #expect(t.ultravisor.lifecycle(of: 1) == .secure)
        // svm_initiate_kill: ibm,os-term (token 0x201F) from the RTAS argument page.
        // args[0] = 0: KVM reads the message at GPA 0, a secure page, so
        // kvmppc_uvmem_migrate_to_ram pages it out and the "message" is ciphertext.
        guard case .osTerm(let message?)? = t.machine.stopReason else {
            Issue.record("expected an os-term, got \(String(describing: t.machine.stopReason))")
            return
        }
        #expect(!message.hasPrefix("Switch to secure mode failed"))
        #expect(t.memory.violations.first?.handling == .pageOut)
        let rtas = try #require(t.machine.trace.records.last { $0.name == "H_RTAS" })
        #expect(rtas.caller.kind == .ultravisor && rtas.arguments == [0x2ff80000])
    }

    @Test func theTPMResponseGoesThroughThePrivateTransferPage() throws {
        let t = try SecureBoot(try SecureBootAssets.defaultImage.get())
        _ = t.promInit()
        // The bounce page is cleared after every command; the last response (the
        // session flush, a no-session TPM2 response) stays in svm_tss_xfer.response.
        #expect(try t.memory.read(.ultravisor, at: .gpa(0xff60000), count: 16) == [UInt8](repeating: 0, count: 16))
        let response = try t.memory.read(.ultravisor, at: .gpa(0xff70000 + 4096), count: 10)
        #expect(response == [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0])
    }

    @Test func theMasterKeySitsInTheReservedESMBPage() throws {
        // §4.3: the key is hidden only by a reserve-map entry; the guest kernel could read it.
        let t = try SecureBoot(try SecureBootAssets.defaultImage.get())
        _ = t.promInit()
        let key = try t.boot.read(at: .gpa(0xfff0000), count: 32)
        #expect(key != [UInt8](repeating: 0, count: 32))
        let digests = try t.boot.read(at: .gpa(0xfff0000 + 4096), count: 40)
        #expect(Array(digests.prefix(4)) == [0xD0, 0x0D, 0xFE, 0xED])
    }

    @Test func anUltravisorBuiltFromItsBootTreeOpensLockbox1() throws {
        let image = try SecureBootAssets.defaultImage.get()
        let (tpm, key) = try TPMProvisioning.provision(keyPEM: image.tpmKeyPEM, authValue: Array("pw".utf8), seed: 3)
        let tree = try UltravisorConfiguration(wrappingKey: key).bootDeviceTree()
        let machine = try Machine(configuration: MachineConfiguration(memoryBytes: image.memoryBytes, processorCount: 4))
        let ultravisor = Ultravisor(configuration: try UltravisorConfiguration(bootDeviceTree: tree))
        machine.attach(ultravisor: ultravisor)
        machine.attach(hypervisor: Hypervisor(configuration: HypervisorConfiguration(tpm: tpm)))
        for s in image.segments { try machine.memory.write(.hypervisor, at: s.address, bytes: s.bytes) }
        try machine.memory.write(.hypervisor, at: image.fdtAddress, bytes: image.deviceTree.bytes)
        machine.bootProcessor.ultracall(.enterSecureMode, [image.kernelBase.rawValue, image.fdtAddress.rawValue])
        #expect(machine.bootProcessor.isSecure)
        #expect(ultravisor.esmReport(lpid: 1)?.outcome == .secure)
    }
}
