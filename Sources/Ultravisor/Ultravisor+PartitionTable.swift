@_spi(Firmware) import PEFMachine
import PowerABI

extension Ultravisor {
    /// `UV_WRITE_PATE` (r4 lpid, r5 dw0, r6 dw1): always `U_SUCCESS`. For an LPID that
    /// has an SVM only dw1 (the process table) changes; the Ultravisor keeps dw0, the
    /// partition-scoped tree it built (reference/ultravisor-facts.md §6 row 18).
    func writePartitionTableEntry(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = call[4]
        let dw0 = call[5]
        let dw1 = call[6]
        let kept: Bool = state.withLock { s in
            if s.svms[lpid] != nil {
                var entry = s.partitionTable[lpid] ?? PartitionTableEntry(doubleword0: 0, doubleword1: 0)
                entry.doubleword1 = dw1
                s.partitionTable[lpid] = entry
                return true
            }
            s.partitionTable[lpid] = PartitionTableEntry(doubleword0: dw0, doubleword1: dw1)
            return false
        }
        if kept { call.notes.append("LPID \(lpid) is an SVM: dw0 kept") }
        call.finish(UltravisorStatus.success)
    }

    /// `UV_SVM_TERMINATE` (r4 lpid): destroys the SVM and always returns `U_SUCCESS`
    /// (reference/ultravisor-facts.md §7; the documentation's `U_INVALID` exists nowhere).
    /// See ``terminate(lpid:on:caller:)``.
    func terminateSVM(_ call: inout FirmwareCall, on machine: Machine) {
        if !terminate(lpid: call[4], on: machine, caller: call.caller) {
            call.notes.append("no SVM for LPID \(call[4])")
        }
        call.finish(UltravisorStatus.success)
    }

    /// Destroys the SVM of `lpid`: its record goes, and every page of the partition
    /// returns to the hypervisor as normal memory. Secure, paged-out and half-shared
    /// pages are zeroed (secure memory is scrubbed); shared pages keep their bytes (they
    /// were the hypervisor's normal pages); a pseudo-shared page keeps the SVM's copy.
    /// Terminating a secure SVM stops the partition. Returns whether there was an SVM.
    @discardableResult
    func terminate(lpid: UInt64, on machine: Machine, caller: Caller) -> Bool {
        let removed: SVMState? = state.withLock { s in
            guard let svm = s.svms.removeValue(forKey: lpid) else { return nil }
            s.terminatedLPIDs.append(lpid)
            s.startCPURequests = s.startCPURequests.filter { $0.value.lpid != lpid }
            return svm
        }
        guard let removed else { return false }
        guard lpid == machine.lpid else { return true }
        machine.memory.editPages { e in
            var scrub: [UInt64] = []
            for f in 0..<UInt64(e.pageCount) {
                switch e.state(f) {
                case .normal: continue
                case .secure, .pagedOut, .hypervisorSharing, .hypervisorUnshared: scrub.append(f)
                default: break
                }
                e.setState(.normal, frame: f)
            }
            for run in Self.runs(scrub) { e.zero(frames: run) }
        }
        if removed.lifecycle == .secure {
            machine.stop(.terminated(reason: "UV_SVM_TERMINATE of the secure SVM with LPID \(lpid)"))
        }
        return true
    }
}
