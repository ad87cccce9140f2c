import PowerABI

#if canImport(Glibc)
    import Glibc
#endif

extension GuestMemory {
    /// Copies out of memory under the lock, page by page where a pseudo copy is involved.
    private func copyOut(
        _ t: inout PageTable, caller: Caller, address: UInt64, count: Int, allMapping: Bool,
        to destination: UnsafeMutableRawPointer
    ) {
        if allMapping { return ram.copyOut(offset: Int(address), count: count, to: destination) }
        Self.forEachPage(address: address, count: count) { a, frame, inPage, done, n in
            if Self.decide(t.states[Int(frame)], for: caller) == .pseudoCopy {
                if let copy = t.pseudoCopies[frame] {
                    copy.withUnsafeBytes { src in
                        if let base = src.baseAddress { (destination + done).copyMemory(from: base + inPage, byteCount: n) }
                    }
                } else {
                    memset(destination + done, 0, n)
                }
            } else {
                ram.copyOut(offset: Int(a), count: n, to: destination + done)
            }
        }
    }

    /// Copies into memory under the lock, page by page where a pseudo copy is involved.
    private func copyIn(
        _ t: inout PageTable, caller: Caller, address: UInt64, count: Int, allMapping: Bool,
        from source: UnsafeRawPointer
    ) {
        if allMapping { return ram.copyIn(offset: Int(address), from: source, count: count) }
        Self.forEachPage(address: address, count: count) { a, frame, inPage, done, n in
            if Self.decide(t.states[Int(frame)], for: caller) == .pseudoCopy {
                t.pseudoCopies[frame, default: [UInt8](repeating: 0, count: Self.pageSize)].withUnsafeMutableBytes {
                    dst in
                    if let base = dst.baseAddress { (base + inPage).copyMemory(from: source + done, byteCount: n) }
                }
            } else {
                ram.copyIn(offset: Int(a), from: source + done, count: n)
            }
        }
    }

    /// Walks `[address, address + count)` one page piece at a time (the slow path of the
    /// copies, where a pseudo copy is involved): `body(a, frame, inPage, done, n)` for the
    /// `n` bytes at `a`, in `frame` at offset `inPage`, `done` bytes into the range.
    @inline(__always)
    private static func forEachPage(
        address: UInt64, count: Int, _ body: (_ a: UInt64, _ frame: UInt64, _ inPage: Int, _ done: Int, _ n: Int) -> Void
    ) {
        var done = 0
        while done < count {
            let a = address + UInt64(done)
            let inPage = Int(a & PageSize.offsetMask)
            let n = min(count - done, pageSize - inPage)
            body(a, a >> PageSize.shift, inPage, done, n)
            done += n
        }
    }

    /// The one pseudo page a contiguous view of `count` bytes at `address` lies in, and
    /// the bytes' offsets inside it; `nil` when the range crosses a page boundary.
    private static func pseudoPageSpan(_ address: GuestPhysicalAddress, count: Int) -> (frame: UInt64, range: Range<Int>)? {
        let inPage = Int(address.pageOffset)
        guard inPage + count <= pageSize else { return nil }
        return (address.frame.rawValue, inPage..<(inPage + count))
    }

    // MARK: Public accessors

    /// Reads `count` bytes at `address` as `actor`.
    /// - Parameters:
    ///   - actor: who reads (a guest vCPU, or the firmware's actors).
    ///   - address: the first guest-physical address.
    ///   - count: how many bytes.
    ///   - purpose: what the access is for; it goes into a violation record.
    /// - Throws: ``MemoryAccessError`` when the range is outside memory or a page forbids
    ///   the access (violations and kills are recorded before the throw).
    public func read(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, count: Int, purpose: String? = nil
    ) throws(MemoryAccessError) -> [UInt8] {
        try perform(actor, address: address, count: count, access: .read, purpose: purpose) { t, caller, all in
            [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                if let base = buffer.baseAddress {
                    copyOut(&t, caller: caller, address: address.rawValue, count: count, allMapping: all, to: base)
                }
                initialized = count
            }
        }
    }

    /// Reads `destination.count` bytes at `address` into `destination` as `actor`.
    public func read(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, into destination: UnsafeMutableRawBufferPointer,
        purpose: String? = nil
    ) throws(MemoryAccessError) {
        try perform(actor, address: address, count: destination.count, access: .read, purpose: purpose) {
            t, caller, all in
            if let base = destination.baseAddress {
                copyOut(&t, caller: caller, address: address.rawValue, count: destination.count, allMapping: all, to: base)
            }
        }
    }

    /// Reads a big-endian integer (PAPR structures are big-endian) as `actor`.
    public func readBigEndian<T: FixedWidthInteger>(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, as type: T.Type, purpose: String? = nil
    ) throws(MemoryAccessError) -> T {
        let bytes = try read(actor, at: address, count: MemoryLayout<T>.size, purpose: purpose)
        return bytes.reduce(T.zero) { ($0 << 8) | T(truncatingIfNeeded: $1) }
    }

    /// Writes `bytes` at `address` as `actor`.
    public func write(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, bytes: [UInt8], purpose: String? = nil
    ) throws(MemoryAccessError) {
        try perform(actor, address: address, count: bytes.count, access: .write, purpose: purpose) {
            t, caller, all in
            bytes.withUnsafeBytes { src in
                if let base = src.baseAddress {
                    copyIn(&t, caller: caller, address: address.rawValue, count: bytes.count, allMapping: all, from: base)
                }
            }
        }
    }

    /// Writes the bytes of `source` at `address` as `actor`.
    public func write(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, from source: UnsafeRawBufferPointer,
        purpose: String? = nil
    ) throws(MemoryAccessError) {
        try perform(actor, address: address, count: source.count, access: .write, purpose: purpose) {
            t, caller, all in
            if let base = source.baseAddress {
                copyIn(&t, caller: caller, address: address.rawValue, count: source.count, allMapping: all, from: base)
            }
        }
    }

    /// Writes a big-endian integer as `actor`.
    public func writeBigEndian<T: FixedWidthInteger>(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, _ value: T, purpose: String? = nil
    ) throws(MemoryAccessError) {
        let size = MemoryLayout<T>.size
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * (size - 1 - $0))) }
        try write(actor, at: address, bytes: bytes, purpose: purpose)
    }

    /// Sets `count` bytes at `address` to zero as `actor`. Whole host pages in the main
    /// mapping are dropped with `madvise(MADV_DONTNEED)` rather than written.
    public func zero(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, count: Int, purpose: String? = nil
    ) throws(MemoryAccessError) {
        try perform(actor, address: address, count: count, access: .write, purpose: purpose) { t, caller, all in
            if all { return ram.zero(offset: Int(address.rawValue), count: count) }
            Self.forEachPage(address: address.rawValue, count: count) { a, frame, inPage, _, n in
                if Self.decide(t.states[Int(frame)], for: caller) == .pseudoCopy {
                    if t.pseudoCopies[frame] != nil {
                        t.pseudoCopies[frame]?.withUnsafeMutableBytes { dst in
                            if let base = dst.baseAddress { memset(base + inPage, 0, n) }
                        }
                    }
                } else {
                    ram.zero(offset: Int(a), count: n)
                }
            }
        }
    }

    /// Copies `count` bytes from `source` to `destination` inside guest memory as
    /// `actor`, with both ranges checked and the bytes moved under one lock (the
    /// SWIOTLB bounce path).
    public func copy(
        _ actor: MemoryActor, from source: GuestPhysicalAddress, to destination: GuestPhysicalAddress, count: Int,
        purpose: String? = nil
    ) throws(MemoryAccessError) {
        guard count >= 0, contains(source, count: UInt64(count)) else {
            throw .outOfRange(address: source, count: UInt64(max(count, 0)), memoryBytes: byteCount)
        }
        guard contains(destination, count: UInt64(count)) else {
            throw .outOfRange(address: destination, count: UInt64(count), memoryBytes: byteCount)
        }
        let caller = actor.caller
        let hypervisorHandler = caller.kind == .hypervisor ? currentHypervisorFaultHandler : nil
        let pageOut = hypervisorHandler != nil
        for attempt in 0..<4 {
            let outcome: Result<Void, MemoryAccessError>? = table.withLock { t in
                let p1 = plan(
                    &t, caller: caller, address: source.rawValue, count: count, access: .read, purpose: purpose,
                    pageOut: pageOut, record: attempt == 0)
                guard case .ready(let a1) = p1 else {
                    if case .failed(let e) = p1 { return .failure(e) }
                    return nil
                }
                let p2 = plan(
                    &t, caller: caller, address: destination.rawValue, count: count, access: .write, purpose: purpose,
                    pageOut: pageOut, record: attempt == 0)
                guard case .ready(let a2) = p2 else {
                    if case .failed(let e) = p2 { return .failure(e) }
                    return nil
                }
                if a1 && a2 {
                    ram.move(from: Int(source.rawValue), to: Int(destination.rawValue), count: count)
                } else {
                    var temp = [UInt8](repeating: 0, count: count)
                    temp.withUnsafeMutableBytes { buf in
                        guard let base = buf.baseAddress else { return }
                        copyOut(&t, caller: caller, address: source.rawValue, count: count, allMapping: a1, to: base)
                        copyIn(&t, caller: caller, address: destination.rawValue, count: count, allMapping: a2, from: base)
                    }
                }
                return .success(())
            }
            switch outcome {
            case .success: return
            case .failure(let e): throw e
            case nil:
                guard let handler = hypervisorHandler ?? currentFaultHandler else {
                    throw .pageUnavailable(address: source, state: state(of: source.frame) ?? .normal, caller: caller)
                }
                for fault in faultsToResolve(address: source, count: count, caller: caller, access: .read, pageOut: pageOut)
                    + faultsToResolve(
                        address: destination, count: count, caller: caller, access: .write, pageOut: pageOut)
                {
                    _ = handler(fault)
                }
            }
        }
        throw .pageUnavailable(address: source, state: state(of: source.frame) ?? .normal, caller: caller)
    }

    /// Reads a NUL-terminated string of at most `maxLength` bytes (NUL excluded) as
    /// `actor`, page by page, so it never touches a page past the terminator.
    /// Returns the bytes before the NUL, or `maxLength` bytes if none was found.
    public func readCString(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, maxLength: Int, purpose: String? = nil
    ) throws(MemoryAccessError) -> [UInt8] {
        var out: [UInt8] = []
        var cursor = address.rawValue
        while out.count < maxLength {
            let inPage = Int(cursor & PageSize.offsetMask)
            let n = min(maxLength - out.count, Self.pageSize - inPage)
            let chunk = try read(actor, at: GuestPhysicalAddress(rawValue: cursor), count: n, purpose: purpose)
            if let nul = chunk.firstIndex(of: 0) {
                out += chunk[..<nul]
                return out
            }
            out += chunk
            cursor += UInt64(n)
        }
        return out
    }

    /// Runs `body` on the bytes of the range as `actor`, checking page states once for
    /// the whole range (the hot path for bounce copies and hashing).
    ///
    /// `body` runs while the memory's mutex is held: it must not escape the pointer,
    /// touch this `GuestMemory` again, or make calls.
    /// - Throws: ``MemoryAccessError/notContiguous(address:count:)`` when part of the
    ///   range is a pseudo copy in another backing, plus the errors of ``read(_:at:count:purpose:)``.
    public func withUnsafeBytes<R>(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, count: Int, purpose: String? = nil,
        _ body: (UnsafeRawBufferPointer) -> R
    ) throws(MemoryAccessError) -> R {
        let r: R? = try perform(actor, address: address, count: count, access: .read, purpose: purpose) {
            t, caller, all in
            if all { return ram.withBytes(offset: Int(address.rawValue), count: count, body) }
            // A single pseudo page seen by the hypervisor: its copy is contiguous.
            guard let (frame, range) = Self.pseudoPageSpan(address, count: count) else { return nil }
            let copy = t.pseudoCopies[frame] ?? [UInt8](repeating: 0, count: Self.pageSize)
            return copy.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[range])) }
        }
        guard let r else { throw .notContiguous(address: address, count: UInt64(count)) }
        return r
    }

    /// Runs `body` on the bytes of the range for writing as `actor`; same rules as
    /// ``withUnsafeBytes(_:at:count:purpose:_:)``.
    public func withUnsafeMutableBytes<R>(
        _ actor: MemoryActor, at address: GuestPhysicalAddress, count: Int, purpose: String? = nil,
        _ body: (UnsafeMutableRawBufferPointer) -> R
    ) throws(MemoryAccessError) -> R {
        let r: R? = try perform(actor, address: address, count: count, access: .write, purpose: purpose) {
            t, caller, all in
            if all { return ram.withMutableBytes(offset: Int(address.rawValue), count: count, body) }
            guard let (frame, range) = Self.pseudoPageSpan(address, count: count) else { return nil }
            return t.pseudoCopies[frame, default: [UInt8](repeating: 0, count: Self.pageSize)].withUnsafeMutableBytes {
                body(UnsafeMutableRawBufferPointer(rebasing: $0[range]))
            }
        }
        guard let r else { throw .notContiguous(address: address, count: UInt64(count)) }
        return r
    }
}
