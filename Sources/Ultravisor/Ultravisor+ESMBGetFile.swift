import PEFMachine
import PowerABI

extension Ultravisor {
    /// `UV_ESMB_GET_FILE` (0xF14C): r4 = offset, r5–r12 = file name; r3 = bytes, r4–r11 =
    /// data (reference/ultravisor-facts.md §4). Admitted from any context by the router.
    ///
    /// Not implemented yet: answers `U_FUNCTION`. The secure-boot issue replaces this file.
    func getESMFile(_ call: inout FirmwareCall, on machine: Machine) {
        call.notes.append("UV_ESMB_GET_FILE is not implemented yet")
        call.finish(UltravisorStatus.function)
    }
}
