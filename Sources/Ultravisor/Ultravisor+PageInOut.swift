@_spi(Firmware) import PEFMachine
import PowerABI

extension Ultravisor {
    /// What the page calls need to know about an SVM, read under the lock.
    fileprivate struct PageCallContext {
        let lifecycle: SVMLifecycle
        let covered: Bool
    }

    /// The page-out key and what was kept of a paged-out frame (read only when needed).
    private func sealing(lpid: UInt64, frame: UInt64) -> (key: [UInt8], sealed: SealedPageRecord?)? {
        state.withLock { s in s.svms.access(lpid) { ($0.pageKey, $0.sealedPages[frame]) } }
    }

    /// Read in place (``SVMTable/access(_:_:)``), so the SVM record is not copied: this
    /// runs once per `UV_PAGE_IN`, a million times for a 64 GiB guest's
    /// `H_SVM_INIT_DONE`.
    private func pageCallContext(lpid: UInt64, frame: UInt64) -> PageCallContext? {
        state.withLock { s in s.svms.access(lpid) { $0.pageCallContext(frame: frame) } }
    }

    /// Where the `hv_page` of a page-in points.
    private enum HostPage {
        /// The normal page that backs this very GPA: nothing to copy.
        case sameFrame
        /// The normal page of another guest frame.
        case guestFrame(UInt64)
        /// A page of the hypervisor's pool, with its contents.
        case pool([UInt8])
    }

    private func hostPage(_ address: UInt64, for frame: UInt64, on machine: Machine) -> HostPage? {
        if let gpa = HostMemory.guestAddress(ofHostAddress: address, memoryBytes: machine.memory.byteCount) {
            guard gpa.isPageAligned else { return nil }
            return gpa.frame.rawValue == frame ? .sameFrame : .guestFrame(gpa.frame.rawValue)
        }
        return machine.hostMemory.page(at: address).map(HostPage.pool)
    }

    /// `UV_PAGE_IN` (r4 lpid, r5 hv_page, r6 gpa, r7 flags, r8 order): the hypervisor
    /// gives the Ultravisor a page (`core/svm_host.c: handle_page_in`,
    /// open-power/ultravisor; reference/ultravisor-facts.md §6 rows 3, 5–8, 10–11).
    ///
    /// | check (in this order) | status |
    /// |---|---|
    /// | order ≠ 16 | `U_P5` |
    /// | hv_page = 0, has the secure-memory bit, or is no page SVMKit knows | `U_P2` |
    /// | no SVM for the LPID | `U_PARAMETER` |
    /// | SVM aborted | `U_STATE` |
    /// | gpa outside the memory slots | `U_P3` |
    /// | after secure: the page is `SECURE` or `HV_UNSHARED` | `U_P2` |
    /// | the page is `PAGEDOUT` and AES-GCM authentication fails ("tampering") | `U_P3` |
    ///
    /// The flags are not checked (the firmware ORs them into the PTE of a shared page;
    /// KVM always passes 0). Then, by the page's state: before the SVM is secure a
    /// secure (or not yet paged-in) page gets the normal page's contents
    /// (`__handle_page_in`; in SVMKit the normal page backing a GPA *is* the same
    /// bytes, so nothing is copied); a paged-out page is decrypted back to `SECURE`;
    /// a shared page, valid or invalidated, explicit or implicit, is remapped to the
    /// new page and becomes valid (`handle_shared_page`); a pseudo-shared page gets
    /// the new page as its hypervisor copy (`handle_pseudoshared_page`); a share in
    /// progress (`HV_SHARING`, `HV_SHARED`, `HV_SHARED_INV`) becomes `HV_SHARED`
    /// (`svm_hv_shared_gfn`); an unshare in progress stays `HV_UNSHARING`
    /// (`svm_hv_unsharing_gfn`; `unshare_gfn()` marks it `HV_UNSHARED` when the hcall
    /// returns). The GPA is rounded down to its page, as the firmware shifts it.
    func pageIn(_ call: inout FirmwareCall, on machine: Machine) {
        let status = pageIn(
            lpid: call[4], hvPage: call[5], gpa: call[6], flags: call[7], order: call[8], on: machine,
            notes: &call.notes)
        call.finish(status)
    }

    func pageIn(
        lpid: UInt64, hvPage: UInt64, gpa: UInt64, flags: UInt64, order: UInt64, on machine: Machine,
        notes: inout [String]
    ) -> UltravisorStatus {
        guard order == PageSize.shift else { return .p5 }
        guard hvPage != 0, hvPage & HostMemory.secureMemoryBit == 0 else { return .p2 }
        let frame = gpa >> PageSize.shift
        guard let context = pageCallContext(lpid: lpid, frame: frame) else { return .parameter }
        guard context.lifecycle != .aborted else { return .state }
        guard context.covered, frame < UInt64(machine.memory.pageCount) else { return .p3 }
        guard let source = hostPage(hvPage, for: frame, on: machine) else {
            notes.append("hv_page 0x\(String(hvPage, radix: 16)) is not a page the hypervisor owns")
            return .p2
        }
        let costs = machine.configuration.costs
        let secure = context.lifecycle == .secure
        // Every state but PAGEDOUT is handled under one lock; PAGEDOUT needs decryption first.
        var found = PageState.normal
        var copied = false
        let result: UltravisorStatus? = machine.memory.editPages { e in
            let now = e.state(frame)
            found = now
            func copyIn() {
                switch source {
                case .sameFrame: break
                case .guestFrame(let f):
                    e.copyPage(from: f, to: frame)
                    copied = true
                case .pool(let bytes):
                    e.setPageBytes(frame: frame, bytes)
                    copied = true
                }
            }
            switch now {
            case .pagedOut:
                return nil
            case .normal:
                // SVMKit's "not yet paged in": the firmware's default SECURE entry over
                // memory the memslot registration populated. Taken in (copied before
                // the SVM is secure), whatever the phase.
                copyIn()
                e.setState(.secure, frame: frame)
                return .success
            case .secure, .hypervisorUnshared:
                guard !secure else { return .p2 }
                copyIn()
                e.setState(.secure, frame: frame)
                return .success
            case .shared, .sharedInvalid, .sharedImplicit, .sharedImplicitInvalid:
                copyIn()
                e.setState(now.revalidated, frame: frame)
                return .success
            case .pseudoShared, .pseudoSharedInvalid:
                e.setState(.pseudoShared, frame: frame)
                return .success
            case .hypervisorSharing, .hypervisorShared, .hypervisorSharedInvalid:
                e.setState(.hypervisorShared, frame: frame)
                return .success
            case .hypervisorUnsharing, .hypervisorUnsharingInvalid:
                e.setState(.hypervisorUnsharing, frame: frame)
                return .success
            }
        }
        if let result {
            if result == .success {
                machine.clock.advance(by: copied ? costs.pageCopy : costs.pageStateChange)
            } else if result == .p2 {
                notes.append("page \(gpaText(frame)) is \(found): PAGIN called on a non pagedout GPF")
            }
            return result
        }

        // PAGEDOUT: authenticate and decrypt the hypervisor's ciphertext.
        let ciphertext: [UInt8]
        switch source {
        case .pool(let bytes): ciphertext = bytes
        case .sameFrame: ciphertext = machine.memory.editPages { $0.pageBytes(frame: frame) }
        case .guestFrame(let f): ciphertext = machine.memory.editPages { $0.pageBytes(frame: f) }
        }
        machine.clock.advance(by: costs.pageCrypt)
        guard let (key, sealed) = sealing(lpid: lpid, frame: frame), let record = sealed,
            let plaintext = PageCipher.open(ciphertext: ciphertext, tag: record.tag, key: key, iv: record.iv)
        else {
            notes.append("Hypervisor tampering detected: page \(gpaText(frame)) failed authentication")
            return .p3
        }
        let done = machine.memory.editPages { e -> Bool in
            guard e.state(frame) == .pagedOut else { return false }
            e.setPageBytes(frame: frame, plaintext)
            e.setState(.secure, frame: frame)
            return true
        }
        guard done else { return .retry }
        state.withLock { _ = $0.svms[lpid]?.sealedPages.removeValue(forKey: frame) }
        return .success
    }

    /// `UV_PAGE_OUT` (r4 lpid, r5 hv_page, r6 gpa, r7 flags, r8 order): the hypervisor
    /// takes a secure page back; it gets only ciphertext (`core/svm_host.c:
    /// handle_page_out`, `__handle_page_out`, open-power/ultravisor;
    /// reference/ultravisor-facts.md §6 rows 3, 5–7, 9, 12–13).
    ///
    /// | check (in this order) | status |
    /// |---|---|
    /// | order ≠ 16 | `U_P5` |
    /// | hv_page = 0 or has the secure-memory bit | `U_P2` |
    /// | no SVM for the LPID | `U_PARAMETER` |
    /// | gpa outside the memory slots | `U_P3` |
    /// | the page is `HV_UNSHARED` | `U_RETRY` |
    /// | the page is not `SECURE` (a page never paged in counts as `SECURE`, the firmware's default entry) | `U_PARAMETER` |
    /// | SVM aborted | `U_SUCCESS` without copying |
    /// | hv_page is neither a page of the hypervisor's pool nor the frame's own backing | `U_P2` |
    ///
    /// The page is encrypted with AES-128-GCM under the SVM's key and the next IV into
    /// the hypervisor's page; the IV and tag stay here; the secure page is freed
    /// (zeroed with `madvise`) and the state becomes `PAGEDOUT`. When hv_page is the
    /// frame's own backing (KVM's `kvmppc_uvmem_migrate_to_ram()`, which gives the GPA
    /// a new normal page), the ciphertext lands there and the hypervisor holds it.
    ///
    /// In the aborted state the firmware returns success without copying and KVM maps
    /// a freshly allocated page (`kvmppc_uvmem_drop_pages` → `__kvmppc_svm_page_out`,
    /// 6.12): its contents are undefined. Under `open-power` SVMKit fills the page with
    /// a pattern from the machine's generator; under `documented` it returns the page
    /// as it is (``PageState/normal``, bytes kept) so that the guest can print its
    /// `UV_ESM` result and os-term cleanly (a deliberate divergence).
    func pageOut(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = call[4]
        let hvPage = call[5]
        let frame = call[6] >> PageSize.shift
        guard call[8] == PageSize.shift else { return call.finish(UltravisorStatus.p5) }
        guard hvPage != 0, hvPage & HostMemory.secureMemoryBit == 0 else { return call.finish(UltravisorStatus.p2) }
        guard let context = pageCallContext(lpid: lpid, frame: frame) else {
            return call.finish(UltravisorStatus.parameter)
        }
        guard context.covered, frame < UInt64(machine.memory.pageCount) else {
            return call.finish(UltravisorStatus.p3)
        }
        let current = machine.memory.state(of: GuestFrameNumber(rawValue: frame)) ?? .normal
        guard current != .hypervisorUnshared else { return call.finish(UltravisorStatus.retry) }
        guard current == .secure || current == .normal else { return call.finish(UltravisorStatus.parameter) }
        if context.lifecycle == .aborted {
            let poison: UInt64? = configuration.firmware == .openPower ? machine.random.next() : nil
            machine.memory.editPages { e in
                guard e.state(frame) == .secure || e.state(frame) == .normal else { return }
                if let poison {
                    let bytes = (0..<GuestMemory.pageSize).map { UInt8(truncatingIfNeeded: poison >> (8 * ($0 & 7))) }
                    e.setPageBytes(frame: frame, bytes)
                }
                e.setState(.normal, frame: frame)
            }
            call.notes.append(
                "SVM aborted: success without copying" + (poison == nil ? "" : "; the page's contents are undefined"))
            return call.finish(UltravisorStatus.success)
        }
        let ownFrame = HostMemory.guestAddress(ofHostAddress: hvPage, memoryBytes: machine.memory.byteCount)
            .map { $0.isPageAligned && $0.frame.rawValue == frame } ?? false
        guard ownFrame || machine.hostMemory.page(at: hvPage) != nil else {
            call.notes.append("hv_page 0x\(String(hvPage, radix: 16)) is not a hypervisor pool page")
            return call.finish(UltravisorStatus.p2)
        }
        let (iv, key): ([UInt8], [UInt8]) = state.withLock { s in
            let counter = s.svms[lpid]?.ivCounter ?? 0
            s.svms[lpid]?.ivCounter = counter &+ 1
            return (
                PageCipher.iv(prefix: s.svms[lpid]?.ivPrefix ?? [0, 0, 0, 0], counter: counter),
                s.svms.access(lpid) { $0.pageKey } ?? []
            )
        }
        let plaintext = machine.memory.editPages { $0.pageBytes(frame: frame) }
        machine.clock.advance(by: machine.configuration.costs.pageCrypt)
        guard let sealed = PageCipher.seal(plaintext, key: key, iv: iv) else {
            return call.finish(UltravisorStatus.hardware)
        }
        let done = machine.memory.editPages { e -> Bool in
            let s = e.state(frame)
            guard s == .secure || s == .normal else { return false }
            if ownFrame {
                e.setPageBytes(frame: frame, sealed.ciphertext)
            } else {
                e.zero(frames: frame..<(frame + 1))
            }
            e.setState(.pagedOut, frame: frame)
            if ownFrame { e.markHypervisorHeld(frame: frame) }
            return true
        }
        guard done else { return call.finish(UltravisorStatus.retry) }
        if !ownFrame { machine.hostMemory.setPage(at: hvPage, sealed.ciphertext) }
        state.withLock { $0.svms[lpid]?.sealedPages[frame] = SealedPageRecord(iv: iv, tag: sealed.tag) }
        call.finish(UltravisorStatus.success)
    }

    /// `UV_PAGE_INVAL` (r4 lpid, r5 gpa, r6 order): the hypervisor invalidates its
    /// mapping of a shared page (reference/ultravisor-facts.md §6 rows 4, 6–8, 14).
    ///
    /// | check (in this order) | status |
    /// |---|---|
    /// | order ≠ 16 | `U_P3` |
    /// | no SVM for the LPID | `U_PARAMETER` |
    /// | SVM aborted | `U_STATE` |
    /// | gpa outside the memory slots | `U_P3` |
    /// | page `SECURE`, `PAGEDOUT`, `HV_SHARING`, `HV_UNSHARED` (or normal) | `U_P2` |
    ///
    /// `SHARED`, `SHARED_IMPLICIT`, `PSEUDO_SHARED`, `HV_SHARED` and `HV_UNSHARING` move
    /// to their `…_INV` state; a page already invalid gives `U_SUCCESS`.
    func pageInvalidate(_ call: inout FirmwareCall, on machine: Machine) {
        let lpid = call[4]
        let frame = call[5] >> PageSize.shift
        guard call[6] == PageSize.shift else { return call.finish(UltravisorStatus.p3) }
        guard let context = pageCallContext(lpid: lpid, frame: frame) else {
            return call.finish(UltravisorStatus.parameter)
        }
        guard context.lifecycle != .aborted else { return call.finish(UltravisorStatus.state) }
        guard context.covered, frame < UInt64(machine.memory.pageCount) else {
            return call.finish(UltravisorStatus.p3)
        }
        let status: UltravisorStatus = machine.memory.editPages { e in
            guard let next = e.state(frame).invalidated else { return .p2 }
            e.setState(next, frame: frame)
            return .success
        }
        call.finish(status)
    }
}

extension SVMState {
    fileprivate func pageCallContext(frame: UInt64) -> Ultravisor.PageCallContext {
        Ultravisor.PageCallContext(lifecycle: lifecycle, covered: slotsCover(frames: frame..<(frame + 1)))
    }
}
