@_spi(Firmware) import PEFMachine
import PowerABI

/// The hvc console (`hvc_vio` over `H_PUT_TERM_CHAR`/`H_GET_TERM_CHAR`): the guest's
/// kernel log ends up in ``Hypervisor/consoleOutput``.
extension Hypervisor {
    /// `H_PUT_TERM_CHAR` (r4 terminal, r5 count ≤ 16, r6–r7 the bytes, big-endian):
    /// the bytes go to the console; a count over 16 → `H_PARAMETER`.
    func putTermChar(_ call: inout FirmwareCall, on machine: Machine) {
        let count = call[5]
        guard count <= 16 else { return call.finish(HypervisorStatus.parameter) }
        let words = [call[6], call[7]]
        let bytes = (0..<Int(count)).map { i in UInt8(truncatingIfNeeded: words[i / 8] >> (8 * (7 - UInt64(i % 8)))) }
        withState(machine) { $0.console += bytes }
        call.finish(HypervisorStatus.success)
    }

    /// `H_GET_TERM_CHAR` (r4 terminal): r4 = count (≤ 16) of queued input bytes, r5–r6 =
    /// the bytes, big-endian.
    func getTermChar(_ call: inout FirmwareCall, on machine: Machine) {
        let bytes: [UInt8] = withState(machine) { s in
            let n = min(16, s.consoleInput.count)
            let out = Array(s.consoleInput.prefix(n))
            s.consoleInput.removeFirst(n)
            return out
        }
        var words: [UInt64] = [0, 0]
        for (i, b) in bytes.enumerated() { words[i / 8] |= UInt64(b) << (8 * (7 - UInt64(i % 8))) }
        call[4] = UInt64(bytes.count)
        call[5] = words[0]
        call[6] = words[1]
        call.finish(HypervisorStatus.success)
    }
}
