import Foundation
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing
@testable import SVMKit

@Suite("SecureVirtualMachine: booting through prom_init")
struct SecureVirtualMachineTests {
    static func config(_ cmdline: String) -> BootConfiguration {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 1 << 30
        c.cpuCount = 2
        c.commandLine = cmdline
        return c
    }

    @Test("svm=off boots normal with no ultracall at all")
    func svmOff() throws {
        let vm = try SecureVirtualMachine(configuration: Self.config("svm=off console=hvc0"))
        let r = vm.boot()
        #expect(!r.secure && !r.requestedSecure)
        #expect(r.esmResult == nil)
        #expect(vm.machine.trace.records.allSatisfy { !$0.name.hasPrefix("UV_") })
        #expect(r.endedAsRequested)
        #expect(r.sysfsSVM == "0")
    }

    /// `prom_init.c: early_cmdline_parse (6.12)` finds "svm=" inside "nosvm=1" with
    /// `prom_strstr()`. This test used to expect a normal boot (SVMKit's exact-token
    /// reading); the guest now does what prom_init does and warns about the ambiguity.
    @Test("nosvm=1 asks for secure mode, as prom_strstr() reads it, and the ambiguity is reported")
    func substring() throws {
        let vm = try SecureVirtualMachine(configuration: Self.config("nosvm=1 console=hvc0"))
        let r = vm.boot()
        #expect(r.requestedSecure && r.secure && r.esmResult == 0)
        #expect(r.commandLineDiagnostics.contains { $0.contains("prom_strstr()") })
    }

    @Test("The image is in guest memory where the device tree says, readable by the normal guest")
    func loaded() throws {
        let vm = try SecureVirtualMachine(configuration: Self.config("svm=off"))
        let boot = vm.machine.bootProcessor
        let kernel = try #require(vm.image.segment("kernel"))
        #expect(try boot.read(at: kernel.address, count: 64) == Array(kernel.bytes.prefix(64)))
        #expect(SecureGuestAccess.tree(vm)?.reserveMap == vm.image.deviceTree.reserveMap)
    }

    @Test("The JSON summary has every contract key, with null for absent values")
    func json() throws {
        let vm = try SecureVirtualMachine(configuration: Self.config("svm=off"))
        let data = try JSONEncoder().encode(vm.boot())
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["secure", "esmResult", "osTerm", "esmChecks", "sharedPages", "isolationViolations", "calls",
            "simulatedSeconds", "wallSeconds"]
        {
            #expect(object.keys.contains(key), "missing \(key)")
        }
        #expect(object["esmResult"] is NSNull)
    }
}

/// Reads the guest's device tree the way prom_init does.
enum SecureGuestAccess {
    static func tree(_ vm: SecureVirtualMachine) -> DeviceTree? {
        PromInit.readDeviceTree(vcpu: vm.machine.bootProcessor, at: vm.image.fdtAddress)
    }
}
