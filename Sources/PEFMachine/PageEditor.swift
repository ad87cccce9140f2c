import PowerABI

/// The firmware's handle on the page table: read and change page states, zero pages
/// and reach page contents regardless of state, all under one lock.
///
/// Only the Ultravisor (and, for its own bookkeeping, the machine) should use this;
/// the hypervisor and the guest go through the checked accessors of `GuestMemory`.
/// It exists only inside ``GuestMemory/editPages(_:)``.
public struct PageEditor: ~Copyable {
    var table: PageTable
    let ram: GuestRAM

    /// Number of pages in guest memory.
    public var pageCount: Int { table.states.count }

    /// The state of `frame` (frames outside memory read as ``PageState/normal``).
    public func state(_ frame: UInt64) -> PageState {
        frame < UInt64(table.states.count) ? table.states[Int(frame)] : .normal
    }

    /// Sets the state of `frame`; frames outside memory are ignored. Leaving a
    /// pseudo-shared state drops the hypervisor's copy.
    public mutating func setState(_ state: PageState, frame: UInt64) {
        guard frame < UInt64(table.states.count) else { return }
        table.set(Int(frame), state)
    }

    /// Sets the state of every frame in `frames` (clipped to memory).
    public mutating func setState(_ state: PageState, frames: Range<UInt64>) {
        let upper = min(frames.upperBound, UInt64(table.states.count))
        guard frames.lowerBound < upper else { return }
        for f in Int(frames.lowerBound)..<Int(upper) { table.set(f, state) }
    }

    /// Zeroes the pages in the main mapping with `madvise(MADV_DONTNEED)`: nothing is
    /// written, and a page never touched stays free.
    public mutating func zero(frames: Range<UInt64>) {
        let upper = min(frames.upperBound, UInt64(table.states.count))
        guard frames.lowerBound < upper else { return }
        ram.zero(
            offset: Int(frames.lowerBound << PageSize.shift),
            count: Int((upper - frames.lowerBound) << PageSize.shift))
    }

    /// Records that the ciphertext of paged-out `frame` is in the frame's own backing,
    /// the normal page the hypervisor now holds at that GPA (the page-out of
    /// `kvmppc_uvmem_migrate_to_ram()`): the hypervisor may read and write it. Dropped
    /// when the frame leaves ``PageState/pagedOut``.
    public mutating func markHypervisorHeld(frame: UInt64) {
        guard state(frame) == .pagedOut else { return }
        table.hypervisorHeld.insert(frame)
        table.hypervisorWritten.remove(frame)
    }

    /// Whether paged-out `frame`'s ciphertext is in its own backing (``markHypervisorHeld(frame:)``).
    public func isHypervisorHeld(frame: UInt64) -> Bool { table.hypervisorHeld.contains(frame) }

    /// Gives `frame` a fresh, zeroed hypervisor copy (a new pseudo share).
    public mutating func resetHypervisorCopy(frame: UInt64) {
        table.pseudoCopies[frame] = nil
    }

    /// The hypervisor's copy of a pseudo-shared page (all zero if never written), or
    /// `nil` if the page is not pseudo-shared.
    public func hypervisorCopy(frame: UInt64) -> [UInt8]? {
        let s = state(frame)
        guard s == .pseudoShared || s == .pseudoSharedInvalid else { return nil }
        return table.pseudoCopies[frame] ?? [UInt8](repeating: 0, count: GuestMemory.pageSize)
    }

    /// The bytes of `frame` in the main mapping, whatever its state.
    public func pageBytes(frame: UInt64) -> [UInt8] {
        guard frame < UInt64(table.states.count) else { return [] }
        return [UInt8](unsafeUninitializedCapacity: GuestMemory.pageSize) { buffer, n in
            if let base = buffer.baseAddress {
                ram.copyOut(offset: Int(frame << PageSize.shift), count: GuestMemory.pageSize, to: base)
            }
            n = GuestMemory.pageSize
        }
    }

    /// Overwrites `frame` in the main mapping with `bytes` (at most one page; a
    /// shorter array leaves the rest of the page as it was).
    public mutating func setPageBytes(frame: UInt64, _ bytes: [UInt8]) {
        guard frame < UInt64(table.states.count) else { return }
        let n = min(bytes.count, GuestMemory.pageSize)
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { ram.copyIn(offset: Int(frame << PageSize.shift), from: base, count: n) }
        }
    }

    /// Copies one whole page to another in the main mapping.
    public mutating func copyPage(from source: UInt64, to destination: UInt64) {
        let count = UInt64(table.states.count)
        guard source < count, destination < count, source != destination else { return }
        ram.move(
            from: Int(source << PageSize.shift), to: Int(destination << PageSize.shift), count: GuestMemory.pageSize)
    }

    /// Runs `body` on the bytes of a range of the main mapping, whatever the states.
    /// The pointer must not escape.
    public func withMappingBytes<R>(
        at address: GuestPhysicalAddress, count: Int, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        ram.withBytes(offset: Int(address.rawValue), count: count, body)
    }
}

extension GuestMemory {
    /// Runs `body` with exclusive access to the page table (see ``PageEditor``).
    /// `body` must not touch this `GuestMemory` through any other method or make
    /// calls: it runs under the memory's mutex.
    public func editPages<R>(_ body: (inout PageEditor) -> R) -> R {
        table.withLock { t in
            var editor = PageEditor(table: .empty, ram: ram)
            swap(&editor.table, &t)
            let r = body(&editor)
            swap(&editor.table, &t)
            return r
        }
    }

    /// Sets the state of every frame in `frames` at once.
    public func setState(_ state: PageState, frames: Range<UInt64>) {
        editPages { $0.setState(state, frames: frames) }
    }
}
