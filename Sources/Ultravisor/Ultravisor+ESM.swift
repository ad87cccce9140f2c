import PEFMachine
import PowerABI

extension Ultravisor {
    /// `UV_ESM` (0xF110): r4 = kbase, r5 = FDT address (reference/ultravisor-facts.md §2).
    ///
    /// Not implemented yet: answers `U_FUNCTION`. The secure-boot issue replaces this
    /// file; the steps it needs are in `Ultravisor+SecureBootSteps.swift`
    /// (``createSVM(lpid:on:)``, ``startInitialization(_:)``, ``pageIn(_:address:length:notes:)``,
    /// ``share(frames:kind:lpid:for:depth:on:notes:)``, ``finishInitialization(_:)``,
    /// ``abortInitialization(_:call:)``, ``commit(_:call:entry:registers:)``) and in
    /// `Ultravisor+RTASBounce.swift` and `Ultravisor+TPMClient.swift`.
    func enterSecureMode(_ call: inout FirmwareCall, on machine: Machine) {
        call.notes.append("UV_ESM is not implemented yet")
        call.finish(UltravisorStatus.function)
    }
}
