@_spi(Firmware) import PEFMachine
import PowerABI

/// The hypervisor's side of the move to secure mode (KVM's `book3s_hv_uvmem.c`;
/// reference/ultravisor-facts.md §1.3, §1.5, §2.3, §2.9).
///
/// KVM accepts the `H_SVM_*` calls only when SRR1 has MSR(S) set, i.e. when the
/// Ultravisor synthesized them; anything else gets `H_UNSUPPORTED`.
extension Hypervisor {
    private func secureCaller(_ call: inout FirmwareCall) -> Bool {
        guard call.caller.msr.contains(.secure) else {
            call.notes.append("not from the Ultravisor (MSR(S) clear)")
            call.finish(HypervisorStatus.unsupported)
            return false
        }
        return true
    }

    /// The memory slots the hypervisor registers: one over all of guest memory, or
    /// slots of ``HypervisorConfiguration/memorySlotBytes``.
    public func memorySlotLayout(for machine: Machine) -> [(id: UInt16, start: UInt64, size: UInt64)] {
        let total = machine.memory.byteCount
        guard let size = configuration.memorySlotBytes, size > 0, size < total else { return [(0, 0, total)] }
        var out: [(UInt16, UInt64, UInt64)] = []
        var start: UInt64 = 0
        while start < total, out.count < 512 {
            out.append((UInt16(out.count), start, min(size, total - start)))
            start += size
        }
        return out
    }

    /// `H_SVM_INIT_START`, as `kvmppc_h_svm_init_start()` (`book3s_hv_uvmem.c`, 6.12)
    /// does it: the phase becomes "init started" **first**, then the checks:
    /// `H_UNSUPPORTED` on a host without PEF or for a hash-MMU guest, `H_AUTHORITY`
    /// when QEMU did not enable secure mode for this VM (`!svm_enabled`), and
    /// `H_PARAMETER` if registering a memory slot with `UV_REGISTER_MEM_SLOT` fails
    /// (the slots registered so far are unregistered). A start after a start is not
    /// refused (KVM has no `H_STATE` here). So after any failure the following
    /// `H_SVM_INIT_ABORT` finds the start recorded and answers `H_PARAMETER`. An
    /// injected failure of this call takes the same path: the phase is set, then the
    /// injected status is returned.
    func initStart(_ call: inout FirmwareCall, on machine: Machine) {
        guard secureCaller(&call) else { return }
        withState(machine) { $0.phase = .initializing }
        if let injected = call.injectedFault {
            call.notes.append("fault injected after KVMPPC_SECURE_INIT_START was set")
            return call.finish(HypervisorStatus(rawValue: injected.status))
        }
        guard machine.configuration.pefEnabled, configuration.radix else {
            call.notes.append(machine.configuration.pefEnabled ? "hash-MMU guest" : "host without PEF (no uvmem bitmap)")
            return call.finish(HypervisorStatus.unsupported)
        }
        guard configuration.secureModeEnabled else {
            call.notes.append("QEMU did not enable secure mode for this VM (svm_enabled = 0)")
            return call.finish(HypervisorStatus.authority)
        }
        var registered: [UInt16] = []
        for slot in memorySlotLayout(for: machine) {
            let answer = machine.ultracall(
                .registerMemorySlot, [machine.lpid, slot.start, slot.size, 0, UInt64(slot.id)],
                from: .hypervisor(vcpu: call.caller.vcpu), depth: call.depth + 1)
            guard answer.ultravisorStatus == .success else {
                for id in registered {
                    _ = machine.ultracall(
                        .unregisterMemorySlot, [machine.lpid, UInt64(id)], from: .hypervisor(vcpu: call.caller.vcpu),
                        depth: call.depth + 1)
                }
                call.notes.append("UV_REGISTER_MEM_SLOT \(slot.id) failed: \(answer.ultravisorStatus.name)")
                return call.finish(HypervisorStatus.parameter)
            }
            registered.append(slot.id)
        }
        withState(machine) { s in
            s.registeredSlots = registered
            s.securePages.removeAll()
            s.sharedPages.removeAll()
        }
        call.finish(HypervisorStatus.success)
    }

    /// `H_SVM_PAGE_IN` (r4 gpa, r5 flags, r6 order): hands the Ultravisor the page for
    /// `gpa` with `UV_PAGE_IN`: the ciphertext page if the hypervisor paged it out, else
    /// the normal page backing the GPA. Checks as documented: order ≠ 16 → `H_P3`, flags
    /// other than `H_PAGE_IN_SHARED` → `H_P2`, a GPA outside guest memory → `H_PARAMETER`;
    /// a refused `UV_PAGE_IN` → `H_PARAMETER`.
    func svmPageIn(_ call: inout FirmwareCall, on machine: Machine) {
        guard secureCaller(&call) else { return }
        guard withState(machine, { $0.phase }) != .normal else { return call.finish(HypervisorStatus.unsupported) }
        let gpa = call[4]
        let flags = call[5]
        guard call[6] == PageSize.shift else { return call.finish(HypervisorStatus.p3) }
        guard flags & ~Hypercall.pageInShared == 0 else { return call.finish(HypervisorStatus.p2) }
        let frame = gpa >> PageSize.shift
        guard frame < UInt64(machine.memory.pageCount) else { return call.finish(HypervisorStatus.parameter) }
        let status = pageIn(frame: frame, flags: flags, for: call.caller.vcpu, depth: call.depth, on: machine)
        if status != .success { call.notes.append("UV_PAGE_IN answered \(status.name)") }
        call.finish(status == .success ? HypervisorStatus.success : HypervisorStatus.parameter)
    }

    /// Gives the Ultravisor one page with `UV_PAGE_IN` and updates the hypervisor's view.
    /// `flags` is the `H_SVM_PAGE_IN` request; KVM passes 0 to `UV_PAGE_IN` on every
    /// path, shares included (`kvmppc_share_page`, `kvmppc_svm_page_in`, 6.12).
    func pageIn(frame: UInt64, flags: UInt64, for vcpu: Int?, depth: Int, on machine: Machine) -> UltravisorStatus {
        let gpa = frame << PageSize.shift
        let stored = withState(machine) { $0.pagedOut[frame] }
        let hvPage = stored ?? HostMemory.hostAddress(of: GuestPhysicalAddress(rawValue: gpa))
        let answer = machine.ultracall(
            .pageIn, [machine.lpid, hvPage, gpa, 0, PageSize.shift], from: .hypervisor(vcpu: vcpu),
            depth: depth + 1)
        let status = answer.ultravisorStatus
        guard status == .success else { return status }
        withState(machine) { s in
            if flags == Hypercall.pageInShared {
                s.sharedPages.insert(frame)
                s.securePages.remove(frame)
            } else {
                s.securePages.insert(frame)
                s.sharedPages.remove(frame)
            }
            s.pagedOut[frame] = nil
        }
        if let stored { machine.hostMemory.freePage(stored) }
        return status
    }

    /// `H_SVM_PAGE_OUT` (r4 gpa, r5 flags, r6 order): pages a secure page out into the
    /// hypervisor's pool (see ``pageOut(frame:on:)``). order ≠ 16 → `H_P3`, flags ≠ 0 →
    /// `H_P2`, GPA outside memory → `H_PARAMETER`, a refused `UV_PAGE_OUT` → `H_PARAMETER`.
    func svmPageOut(_ call: inout FirmwareCall, on machine: Machine) {
        guard secureCaller(&call) else { return }
        guard withState(machine, { $0.phase }) != .normal else { return call.finish(HypervisorStatus.unsupported) }
        guard call[6] == PageSize.shift else { return call.finish(HypervisorStatus.p3) }
        guard call[5] == 0 else { return call.finish(HypervisorStatus.p2) }
        let frame = call[4] >> PageSize.shift
        guard frame < UInt64(machine.memory.pageCount) else { return call.finish(HypervisorStatus.parameter) }
        let status = pageOut(frame: frame, vcpu: call.caller.vcpu, depth: call.depth, on: machine)
        if status != .success { call.notes.append("UV_PAGE_OUT answered \(status.name)") }
        call.finish(status == .success ? HypervisorStatus.success : HypervisorStatus.parameter)
    }

    /// Pages one secure page out (what KVM does under memory pressure): allocates a pool
    /// page, `UV_PAGE_OUT(lpid, page, gpa, 0, 16)`, and keeps the ciphertext until the
    /// Ultravisor asks for the page back. Returns the Ultravisor's status.
    @discardableResult
    public func pageOut(frame: UInt64, vcpu: Int? = nil, depth: Int = 0, on machine: Machine) -> UltravisorStatus {
        let page = machine.hostMemory.allocatePage()
        let answer = machine.ultracall(
            .pageOut, [machine.lpid, page, frame << PageSize.shift, 0, PageSize.shift], from: .hypervisor(vcpu: vcpu),
            depth: depth + 1)
        guard answer.ultravisorStatus == .success else {
            machine.hostMemory.freePage(page)
            return answer.ultravisorStatus
        }
        withState(machine) { s in
            s.securePages.remove(frame)
            if let old = s.pagedOut[frame] { machine.hostMemory.freePage(old) }
            s.pagedOut[frame] = page
        }
        return .success
    }

    /// The ciphertext the hypervisor holds for a paged-out frame (for invariant checks:
    /// everything it got from `UV_PAGE_OUT` must be ciphertext).
    /// A page taken back on touch (``migrateToRAM(_:on:)``) is held in the frame's own
    /// backing: its address is then the GPA's host address.
    public func pagedOutPage(frame: UInt64, on machine: Machine) -> (address: UInt64, bytes: [UInt8])? {
        let gfn = GuestFrameNumber(rawValue: frame)
        if machine.memory.state(of: gfn) == .pagedOut, machine.memory.isHypervisorHeld(gfn) {
            let bytes = machine.memory.editPages { $0.pageBytes(frame: frame) }
            return (HostMemory.hostAddress(of: GuestPhysicalAddress(rawValue: frame << PageSize.shift)), bytes)
        }
        guard let address = withState(machine, { $0.pagedOut[frame] }),
            let bytes = machine.hostMemory.page(at: address)
        else { return nil }
        return (address, bytes)
    }

    /// `H_SVM_INIT_DONE`, as `kvmppc_h_svm_init_done()` does it (`book3s_hv_uvmem.c`,
    /// 5.9+, 6.12): `H_UNSUPPORTED` unless a start was recorded; then
    /// `kvmppc_uv_migrate_mem_slot()` moves every page of the slots it has not handed
    /// over yet to device-private memory with `kvmppc_svm_page_in(…, pagein=false)`:
    /// **no `UV_PAGE_IN`**, since the Ultravisor already backed those pages at
    /// `UV_REGISTER_MEM_SLOT`. The hypervisor only updates its own view.
    func initDone(_ call: inout FirmwareCall, on machine: Machine) {
        guard secureCaller(&call) else { return }
        guard withState(machine, { $0.phase }) != .normal else {
            return call.finish(HypervisorStatus.unsupported)
        }
        let layout = memorySlotLayout(for: machine)
        withState(machine) { s in
            for slot in layout {
                let first = slot.start >> PageSize.shift
                let end = (slot.start + slot.size) >> PageSize.shift
                for frame in first..<end
                where !s.securePages.contains(frame) && !s.sharedPages.contains(frame) && s.pagedOut[frame] == nil {
                    s.securePages.insert(frame)
                }
            }
            s.phase = .secure
        }
        call.finish(HypervisorStatus.success)
    }

    /// The hypervisor touched a secure page: `kvmppc_uvmem_migrate_to_ram()`
    /// (`book3s_hv_uvmem.c`, 6.12) gives the GPA a new normal page and fills it with
    /// `UV_PAGE_OUT(lpid, page, gpa, 0, 16)`, so the access goes on and sees the
    /// page's ciphertext. In SVMKit the new normal page is the frame's own backing. A
    /// frame this hypervisor paged out into its pool is moved into its own backing the
    /// same way (the pool page stands for the normal page KVM maps at that GPA). A
    /// refused `UV_PAGE_OUT` is KVM's `VM_FAULT_SIGBUS`: the access fails.
    public func migrateToRAM(_ fault: PageFault, on machine: Machine) -> Bool {
        let frame = fault.frame.rawValue
        if fault.state == .pagedOut {
            guard let pool = withState(machine, { $0.pagedOut[frame] }), let bytes = machine.hostMemory.page(at: pool)
            else { return false }
            machine.memory.editPages { e in
                e.setPageBytes(frame: frame, bytes)
                e.markHypervisorHeld(frame: frame)
            }
            withState(machine) { $0.pagedOut[frame] = nil }
            machine.hostMemory.freePage(pool)
            return true
        }
        let gpa = frame << PageSize.shift
        let answer = machine.ultracall(
            .pageOut, [machine.lpid, HostMemory.hostAddress(of: GuestPhysicalAddress(rawValue: gpa)), gpa, 0, PageSize.shift],
            from: .hypervisor(vcpu: nil), depth: 0)
        guard answer.ultravisorStatus == .success else { return false }
        _ = withState(machine) { $0.securePages.remove(frame) }
        return machine.memory.isHypervisorHeld(fault.frame)
    }

    /// `H_SVM_INIT_ABORT`, as `kvmppc_h_svm_init_abort()` does it (`book3s_hv_uvmem.c`,
    /// 6.12): `H_UNSUPPORTED` unless a start was recorded (even a failed one: the start
    /// flag is set first), `H_STATE` after `H_SVM_INIT_DONE`; otherwise the hypervisor
    /// pages every page it handed over back out (`kvmppc_uvmem_drop_pages`; the
    /// Ultravisor, in its abort state, answers without copying), forgets the shared
    /// pages, calls `UV_SVM_TERMINATE` and returns `H_PARAMETER`, the value the guest
    /// finds as its `UV_ESM` result.
    func initAbort(_ call: inout FirmwareCall, on machine: Machine) {
        guard secureCaller(&call) else { return }
        let phase = withState(machine) { $0.phase }
        guard phase != .secure else { return call.finish(HypervisorStatus.state) }
        guard phase == .initializing else { return call.finish(HypervisorStatus.unsupported) }
        let secure = withState(machine) { $0.securePages.members }
        let scratch = machine.hostMemory.allocatePage()
        for frame in secure {
            let answer = machine.ultracall(
                .pageOut, [machine.lpid, scratch, frame << PageSize.shift, 0, PageSize.shift],
                from: .hypervisor(vcpu: call.caller.vcpu), depth: call.depth + 1)
            if answer.ultravisorStatus != .success {
                call.notes.append("UV_PAGE_OUT of \(GuestPhysicalAddress(rawValue: frame << 16)): \(answer.ultravisorStatus.name)")
            }
        }
        machine.hostMemory.freePage(scratch)
        _ = machine.ultracall(
            .terminateSVM, [machine.lpid], from: .hypervisor(vcpu: call.caller.vcpu), depth: call.depth + 1)
        let stored: [UInt64] = withState(machine) { s in
            let pages = Array(s.pagedOut.values)
            s.pagedOut.removeAll()
            s.securePages.removeAll()
            s.sharedPages.removeAll()
            s.registeredSlots.removeAll()
            s.phase = .normal
            return pages
        }
        for page in stored { machine.hostMemory.freePage(page) }
        call.finish(HypervisorStatus.parameter)
    }
}
