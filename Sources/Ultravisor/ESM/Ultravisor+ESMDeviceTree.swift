import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI

/// `svm_fdt_init()` and `svm_fdt_mem_rsv()` (`open-power/ultravisor svm/svm-fdt.c`;
/// reference/ultravisor-facts.md §2.5).
extension Ultravisor {
    /// The Ultravisor's FDT workspace: one 2 MiB page holding the original and the
    /// working copy, so ALIGN_UP(totalsize, 64 KiB) × 2 must fit (totalsize ≤ 1 MiB).
    static let fdtWorkspaceBytes: UInt64 = 2 << 20
    /// The RMO cap (`svm_fdt_get_rmo_top`, after prom_init's 768 MiB).
    static let rmoCap: UInt64 = 768 << 20

    /// `svm_fdt_init(fdt)`: every failure here aborts `UV_ESM` whatever the check
    /// policy (§2.5, §0).
    ///
    /// 1. Page in 64 KiB from the FDT address, `fdt_check_header`, page in the rest
    ///    (totalsize − 64 KiB).
    /// 2. ALIGN_UP(totalsize, 64 KiB) × 2 ≤ 2 MiB; the working copy is opened in
    ///    ALIGN_UP(totalsize, 64 KiB) bytes, so the reserve entries added later must fit
    ///    in that slack.
    /// 3. RMO top from `/memory@0` `reg` (≥ 16 bytes, base 0), capped at 768 MiB.
    /// 4. The `svm_ops` handlers in link order: `svm_esmb`, `svm_rtas`, `svm_tss`.
    ///
    /// SVMKit parses the whole tree with `fdt_check_full` where the firmware's
    /// `fdt_open_into` checks less: a tree libfdt would only half read fails here.
    func esmInitializeDeviceTree(_ run: inout ESMRun) throws(ESMFailure) {
        let fdt = GuestPhysicalAddress(rawValue: run.fdtAddress)
        var notes: [String] = []
        guard pageIn(run.context, address: fdt, length: PageSize.bytes, notes: &notes) else {
            throw ESMFailure(
                .fdtPageIn, "the FDT's first 64 KiB at \(fdt) could not be paged in: " + notes.joined(separator: "; "))
        }
        let header: [UInt8]
        do {
            header = try run.machine.memory.read(.ultravisor, at: fdt, count: DeviceTree.headerSize, purpose: "FDT header")
        } catch {
            throw ESMFailure(.fdtHeader, "the FDT header at \(fdt) cannot be read: \(error)")
        }
        if let problem = FDTHeaderCheck.problem(header) {
            throw ESMFailure(.fdtHeader, "fdt_check_header on the FDT at \(fdt): \(problem)")
        }
        let total = UInt64(BigEndianCells.u32(header, at: 4))
        if total > PageSize.bytes {
            let rest = GuestPhysicalAddress(rawValue: run.fdtAddress &+ PageSize.bytes)
            guard pageIn(run.context, address: rest, length: total - PageSize.bytes, notes: &notes) else {
                throw ESMFailure(
                    .fdtPageIn,
                    "the rest of the \(total)-byte FDT at \(rest) could not be paged in: " + notes.joined(separator: "; "))
            }
        }
        let capacity = Self.alignUp(total)
        guard capacity * 2 <= Self.fdtWorkspaceBytes else {
            throw ESMFailure(
                .fdtSize,
                "the FDT's totalsize is \(total) bytes: ALIGN_UP(totalsize, 64 KiB) × 2 = \(capacity * 2) bytes does not fit the Ultravisor's 2 MiB workspace (totalsize must be at most 1 MiB; svm_fdt_fetch: -FDT_ERR_NOSPACE)")
        }
        do {
            let bytes = try run.machine.memory.read(.ultravisor, at: fdt, count: Int(total), purpose: "FDT")
            var tree = try DeviceTree(bytes: bytes)
            try tree.grow(by: Int(capacity) - tree.bytes.count)
            run.working = tree
            run.workingCapacity = Int(capacity)
        } catch {
            throw ESMFailure(.fdtOpen, "fdt_open_into of the \(total)-byte FDT at \(fdt): \(error)")
        }
        run.note("svm_fdt_init: FDT at \(fdt), totalsize \(total), working copy of \(capacity) bytes")
        try esmFindRMOTop(&run)
        try esmReserveESMBPages(&run)
        try esmReserveRTASPages(&run)
        try esmReserveTSSPages(&run)
    }

    /// `svm_fdt_get_rmo_top()`: `/memory@0` `reg` read as 2 address and 2 size cells
    /// whatever `#address-cells` says; the base must be 0; rmo_top = min(size, 768 MiB).
    func esmFindRMOTop(_ run: inout ESMRun) throws(ESMFailure) {
        let reg = try run.property("reg", at: "/memory@0", step: .rmoTop)
        guard reg.count >= 16 else {
            throw ESMFailure(
                .rmoTop,
                "/memory@0/reg is \(reg.count) bytes; the Ultravisor reads a 2-cell base and a 2-cell size and needs at least 16")
        }
        let base = BigEndianCells.u64(reg, at: 0)
        guard base == 0 else {
            throw ESMFailure(.rmoTop, "/memory@0/reg starts at \(ESMRun.hex(base)), not 0: it is not the RMO")
        }
        let size = BigEndianCells.u64(reg, at: 8)
        run.rmoTop = min(size, Self.rmoCap)
        run.note("RMO top \(ESMRun.hex(run.rmoTop)) (/memory@0 size \(ESMRun.hex(size)), capped at 768 MiB)")
    }

    /// `svm_fdt_mem_rsv()`: reserves `size` bytes just below the RMO top and adds a
    /// reserve-map entry to the working copy (§2.5 step 4):
    ///
    /// - start at rmo_top − size; while the range overlaps an entry of the reserve map
    ///   (the guest's own and those added before), move it to just below that entry
    ///   and check every entry again (`svm_overlaps_fdt_rsv_addr`);
    /// - an address of 0, or a range not inside the memory slots, fails (`U_PERMISSION`,
    ///   "SVM is very low on memory");
    /// - the address is then rounded up to 64 KiB (after the checks, as in the firmware);
    /// - `fdt_add_mem_rsv` must fit the working copy's slack (`-FDT_ERR_NOSPACE`).
    func esmReserve(_ run: inout ESMRun, bytes size: UInt64, for owner: String, step: ESMStep) throws(ESMFailure)
        -> UInt64
    {
        let entries = run.working.reserveMap
        var address = run.rmoTop &- size
        var index = entries.count - 1
        var rounds = 0
        while index >= 0 {
            let r = entries[index]
            if address &+ size > r.address && address < r.address &+ r.size {
                address = r.address &- size
                index = entries.count - 1
                rounds += 1
                guard rounds <= entries.count * entries.count + 1 else { break }
                continue
            }
            index -= 1
        }
        let covered = state.withLock { $0.svms[run.context.lpid]?.slotsCover(address, size) ?? false }
        guard address != 0, rounds <= entries.count * entries.count + 1, covered else {
            throw ESMFailure(
                step,
                "\(owner): no room for \(size / PageSize.bytes) page(s) below the RMO top \(ESMRun.hex(run.rmoTop)) outside the reserve map (candidate \(ESMRun.hex(address)) not inside the memory slots): U_PERMISSION, SVM is very low on memory")
        }
        address = Self.alignUp(address)
        let region = DeviceTreeRegion(address: address, size: size)
        do {
            try run.working.addReserveEntry(region)
        } catch {
            throw ESMFailure(step, "\(owner): fdt_add_mem_rsv(\(region)): \(error)")
        }
        guard run.working.totalSize <= run.workingCapacity else {
            throw ESMFailure(
                step,
                "\(owner): fdt_add_mem_rsv(\(region)): -FDT_ERR_NOSPACE, the working copy was opened in ALIGN_UP(totalsize, 64 KiB) = \(run.workingCapacity) bytes and has no room for another reserve entry")
        }
        return address
    }

    /// The firmware's `ALIGN_UP(value, SVM_PAGESIZE)`: C arithmetic wraps, so a value in
    /// the last page of the address space rounds to 0 (``PageSize/alignUp(_:)`` says `nil`).
    static func alignUp(_ value: UInt64) -> UInt64 { PageSize.alignUp(value) ?? 0 }
}

/// libfdt's `fdt_check_header()` (1.6), on the 40 header bytes.
enum FDTHeaderCheck {
    /// `FDT_FIRST_SUPPORTED_VERSION`.
    static let firstSupportedVersion: UInt32 = 0x02
    /// `FDT_LAST_SUPPORTED_VERSION`.
    static let lastSupportedVersion: UInt32 = 0x11

    /// What is wrong with the header, or `nil` if libfdt accepts it.
    static func problem(_ h: [UInt8]) -> String? {
        guard h.count >= DeviceTree.headerSize else { return "only \(h.count) header bytes" }
        func cell(_ i: Int) -> UInt32 { BigEndianCells.u32(h, at: 4 * i) }
        let magic = cell(0), total = UInt64(cell(1)), structOffset = UInt64(cell(2)), stringsOffset = UInt64(cell(3))
        let rsvOffset = UInt64(cell(4)), version = cell(5), lastCompatible = cell(6)
        let stringsSize = UInt64(cell(8)), structSize = UInt64(cell(9))
        guard magic == DeviceTree.magic else {
            return "-FDT_ERR_BADMAGIC: magic 0x\(String(magic, radix: 16)), expected 0xd00dfeed"
        }
        guard version >= firstSupportedVersion, lastCompatible <= lastSupportedVersion, version >= lastCompatible else {
            return "-FDT_ERR_BADVERSION: version \(version), last compatible version \(lastCompatible)"
        }
        let headerSize: UInt64 = version <= 1 ? 28 : version == 2 ? 32 : version < 17 ? 36 : 40
        guard total >= headerSize, total <= UInt64(Int32.max) else {
            return "-FDT_ERR_TRUNCATED: totalsize \(total)"
        }
        func offsetOK(_ o: UInt64) -> Bool { o >= headerSize && o <= total }
        func blockOK(_ o: UInt64, _ n: UInt64) -> Bool { offsetOK(o) && o + n >= o && offsetOK(o + n) }
        guard offsetOK(rsvOffset) else { return "-FDT_ERR_TRUNCATED: reserve map offset \(rsvOffset) of \(total)" }
        if version >= 17, !blockOK(structOffset, structSize) {
            return "-FDT_ERR_TRUNCATED: structure block \(structOffset) + \(structSize) of \(total)"
        }
        guard blockOK(stringsOffset, stringsSize) else {
            return "-FDT_ERR_TRUNCATED: strings block \(stringsOffset) + \(stringsSize) of \(total)"
        }
        return nil
    }
}
