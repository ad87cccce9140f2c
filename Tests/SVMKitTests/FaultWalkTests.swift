import Foundation
import PEFMachine
import PowerABI
import SecureGuest
import Testing
@testable import SVMKit

/// Issue 8 item 2, first cut: every opcode a default secure boot uses, failed at its
/// first call with an error status and with BUSY. Each run must end either as
/// requested or halted with an explained error; never with a page shared that the
/// guest's ledger does not know, an isolation violation, or a crash.
@Suite("Fault walk over a default secure boot")
struct FaultWalkTests {
    static let baseline: (names: [String], config: BootConfiguration) = {
        var c = BootConfiguration()
        c.tpmKeyPEM = TestKeys.tpmKeyPEM
        c.memoryBytes = 512 << 20
        c.cpuCount = 2
        let vm = try? SecureVirtualMachine(configuration: c)
        let r = vm?.boot()
        let names = (r?.calls.keys.sorted() ?? []).filter { $0 != "UV_RETURN" }
        return (names, c)
    }()

    static var scenarios: [String] {
        baseline.names.flatMap { name in
            let busy = name.hasPrefix("UV_") ? "U_BUSY" : "H_BUSY"
            let error = name.hasPrefix("UV_") ? "U_P2" : "H_PARAMETER"
            return ["\(name)@1=\(error)", "\(name)@1=\(busy)"]
        } + (1...3).map { "UV_SHARE_PAGE@\($0)=U_P2:after=1" }  // share ranges stopped part way
    }

    @Test("The baseline boot goes secure and uses the expected calls")
    func baselineBoot() {
        #expect(Self.baseline.names.contains("UV_ESM"))
        #expect(Self.baseline.names.contains("UV_SHARE_PAGE"))
        #expect(Self.baseline.names.contains("H_TPM_COMM"))
    }

    @Test("Each injected failure ends as requested or with an explained halt", arguments: scenarios)
    func walk(spec: String) throws {
        let rules = try FaultSpecParser.parse(spec)
        let vm = try SecureVirtualMachine(configuration: Self.baseline.config, faults: rules)
        let r = vm.boot()
        #expect(!vm.machine.faults.injections.isEmpty, "\(spec) was never injected")
        let explained = r.endedAsRequested || r.osTerm != nil || r.stopReason != nil || r.esmFailure != nil
            || !r.invariantFailures.isEmpty
        #expect(explained, "\(spec): not secure and nothing says why")
        if let kernel = vm.kernel {
            let audit = kernel.audit("fault walk")
            #expect(audit.ledger.leaks.isEmpty, "\(spec): pages shared that the ledger does not know: \(audit)")
        }
        #expect(r.isolationViolations == 0, "\(spec): \(vm.machine.memory.violations.prefix(2))")
    }
}
