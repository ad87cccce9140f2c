@_spi(Firmware) import PEFMachine
import PowerABI

/// The hypervisor-only service calls that have nothing to do with SVMs
/// (reference/ultravisor-facts.md §7).
extension Ultravisor {
    /// SPRs `UV_RESTRICTED_SPR_WRITE` accepts: DAWR, DAWRX, CIABR, LDBAR, IMC.
    static let writableSPRs: Set<UInt64> = [0xB4, 0xBC, 0xBB, 0x352, 0x31F]
    /// SPRs `UV_RESTRICTED_SPR_READ` accepts: DAWR, DAWRX, CIABR.
    static let readableSPRs: Set<UInt64> = [0xB4, 0xBC, 0xBB]

    /// `UV_RESTRICTED_SPR_WRITE` (r4 SPR, r5 value): `U_PARAMETER` for any other SPR.
    func restrictedSPRWrite(_ call: inout FirmwareCall) {
        let spr = call[4]
        guard Self.writableSPRs.contains(spr) else { return call.finish(UltravisorStatus.parameter) }
        let value = call[5]
        state.withLock { $0.restrictedSPRs[spr] = value }
        call.finish(UltravisorStatus.success)
    }

    /// `UV_RESTRICTED_SPR_READ` (r4 SPR): the value comes back in r5; `U_PARAMETER` for
    /// any other SPR.
    func restrictedSPRRead(_ call: inout FirmwareCall) {
        let spr = call[4]
        guard Self.readableSPRs.contains(spr) else { return call.finish(UltravisorStatus.parameter) }
        call[5] = state.withLock { $0.restrictedSPRs[spr] ?? 0 }
        call.finish(UltravisorStatus.success)
    }

    /// `UV_READ_SCOM` (r4 target, r5 address): the value comes back in r4. The firmware
    /// checks a black/white list but does not enforce it in the HEAD build (§0), so every
    /// address is accepted; SVMKit keeps a small SCOM space that reads 0 until written.
    func readSCOM(_ call: inout FirmwareCall) {
        let key = call[4] << 48 ^ call[5]
        call[4] = state.withLock { $0.scom[key] ?? 0 }
        call.finish(UltravisorStatus.success)
    }

    /// `UV_WRITE_SCOM` (r4 target, r5 address, r6 value).
    func writeSCOM(_ call: inout FirmwareCall) {
        let key = call[4] << 48 ^ call[5]
        let value = call[6]
        state.withLock { $0.scom[key] = value }
        call.finish(UltravisorStatus.success)
    }

    /// `UV_READ_MEM` / `UV_WRITE_MEM`: checked against the Ultravisor's memory whitelist,
    /// which is empty in SVMKit, so every request is refused with `U_PERMISSION`
    /// (inference: the code a refused whitelist check gives is not in the reference).
    func accessMemoryWhitelist(_ call: inout FirmwareCall) {
        call.notes.append("not on the memory whitelist (empty in SVMKit)")
        call.finish(UltravisorStatus.permission)
    }

    /// `UV_SEND_SBE_COMMAND`: there is no Self-Boot Engine in the simulation; `U_UNSUPPORTED`.
    func sendSBECommand(_ call: inout FirmwareCall) {
        call.notes.append("no SBE in the simulation")
        call.finish(UltravisorStatus.unsupported)
    }
}
