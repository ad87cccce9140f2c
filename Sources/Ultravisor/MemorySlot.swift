import PowerABI

/// A memory slot the hypervisor registered with `UV_REGISTER_MEM_SLOT`: a range of the
/// SVM's guest physical addresses the Ultravisor may page in and share.
public struct MemorySlot: Hashable, Sendable, CustomStringConvertible {
    /// The most slots, and the bound on slot ids (reference/ultravisor-facts.md §6 row 15).
    public static let maximumCount = 512

    /// The slot id (the firmware uses r8 as a `u16`).
    public let id: UInt16
    /// First GPA (64 KiB aligned).
    public let start: GuestPhysicalAddress
    /// Length in bytes.
    public let size: UInt64
    /// The flags the hypervisor passed (not interpreted).
    public let flags: UInt64

    /// Makes a slot.
    public init(id: UInt16, start: GuestPhysicalAddress, size: UInt64, flags: UInt64 = 0) {
        self.id = id
        self.start = start
        self.size = size
        self.flags = flags
    }

    /// One past the last GPA (the registration check guarantees no wrap).
    public var end: UInt64 { start.rawValue &+ size }

    /// Whether `[address, address + length)` overlaps this slot.
    public func overlaps(_ address: UInt64, _ length: UInt64) -> Bool {
        address < end && start.rawValue < address &+ length
    }

    /// e.g. `slot 0: 0x0 + 0x100000000`.
    public var description: String { "slot \(id): \(start) + 0x\(String(size, radix: 16))" }
}

/// A partition-table entry as the hypervisor wrote it with `UV_WRITE_PATE` (or the
/// Ultravisor at commit).
public struct PartitionTableEntry: Hashable, Sendable {
    /// Doubleword 0: the partition-scoped radix tree (kept by the Ultravisor for an SVM).
    public var doubleword0: UInt64
    /// Doubleword 1: the process table.
    public var doubleword1: UInt64

    /// Makes an entry.
    public init(doubleword0: UInt64, doubleword1: UInt64) {
        self.doubleword0 = doubleword0
        self.doubleword1 = doubleword1
    }
}

/// Something the simulated Ultravisor survived where the real one would not: an
/// `_abort`, an assertion or a NULL dereference (reference/ultravisor-facts.md §1.4,
/// §6 row 16, §7). SVMKit answers with a defined status instead and records this.
public struct UltravisorAnomaly: Hashable, Sendable, CustomStringConvertible {
    /// The call that caused it.
    public let call: String
    /// What the real firmware would do.
    public let realFirmware: String

    /// Makes a record.
    public init(call: String, realFirmware: String) {
        self.call = call
        self.realFirmware = realFirmware
    }

    /// e.g. `H_0x1234: the real Ultravisor aborts …`.
    public var description: String { "\(call): \(realFirmware)" }
}
