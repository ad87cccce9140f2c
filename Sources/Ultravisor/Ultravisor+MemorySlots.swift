@_spi(Firmware) import PEFMachine
import PowerABI

extension Ultravisor {
    /// `UV_REGISTER_MEM_SLOT` (r4 lpid, r5 start_gpa, r6 nbytes, r7 flags, r8 slotid used
    /// as a `u16`), with every check of reference/ultravisor-facts.md §6 rows 15–16:
    ///
    /// | check | status |
    /// |---|---|
    /// | no SVM for the LPID | `U_PARAMETER` (the real UV dereferences NULL: recorded as an anomaly) |
    /// | slotid ≥ 512 | `U_PARAMETER` |
    /// | start not 64 KiB aligned | `U_PARAMETER` |
    /// | nbytes = 0, or start + nbytes wraps | `U_PARAMETER` |
    /// | overlaps a slot with another id | `U_PARAMETER` |
    /// | secure memory cannot be reserved (the range runs past guest memory) | `U_PARAMETER` |
    ///
    /// Registering an id again replaces that slot.
    func registerMemorySlot(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = call[4]
        let start = call[5]
        let size = call[6]
        let flags = call[7]
        let rawSlot = UInt16(truncatingIfNeeded: call[8])
        let memoryBytes = machine.memory.byteCount
        let outcome: (UltravisorStatus, String?) = state.withLock { s in
            guard var svm = s.svms[lpid] else { return (.parameter, "no SVM") }
            guard Int(rawSlot) < MemorySlot.maximumCount else { return (.parameter, nil) }
            guard start & PageSize.offsetMask == 0 else { return (.parameter, nil) }
            let (end, wraps) = start.addingReportingOverflow(size)
            guard size > 0, !wraps else { return (.parameter, nil) }
            guard end <= memoryBytes else { return (.parameter, nil) }
            for other in svm.memorySlots.values where other.id != rawSlot && other.overlaps(start, size) {
                return (.parameter, nil)
            }
            svm.memorySlots[rawSlot] = MemorySlot(
                id: rawSlot, start: GuestPhysicalAddress(rawValue: start), size: size, flags: flags)
            s.svms[lpid] = svm
            return (.success, nil)
        }
        if outcome.1 != nil {
            recordAnomaly(
                "UV_REGISTER_MEM_SLOT(lpid \(lpid))",
                "the real Ultravisor does not check the LPID and dereferences a NULL SVM (core/svm_host.c)",
                on: machine, caller: call.caller)
            call.notes.append("no SVM for LPID \(lpid)")
        }
        call.finish(outcome.0)
    }

    /// `UV_UNREGISTER_MEM_SLOT` (r4 lpid, r5 slotid): always `U_SUCCESS`; the slot id is
    /// not range-checked (reference/ultravisor-facts.md §6 row 17). An unknown slot or
    /// LPID changes nothing.
    func unregisterMemorySlot(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = call[4]
        let slot = UInt16(truncatingIfNeeded: call[5])
        state.withLock { s in _ = s.svms[lpid]?.memorySlots.removeValue(forKey: slot) }
        call.finish(UltravisorStatus.success)
    }
}
