import PowerABI
import Locking

/// The hypervisor's own normal memory outside guest RAM, addressed by host real
/// address: the pages it hands the Ultravisor in `UV_PAGE_OUT` (to receive
/// ciphertext) and `UV_PAGE_IN` (to give it back).
///
/// Real addresses in SVMKit:
/// - guest RAM is backed at ``guestRAMBase`` + GPA (that is the `hv_page` KVM passes
///   when it pages a normal guest page in);
/// - pool pages start at ``pagePoolBase``;
/// - no address has ``secureMemoryBit`` set: on POWER9 that bit marks secure memory,
///   and `UV_PAGE_IN`/`UV_PAGE_OUT` refuse such an `hv_page` with `U_P2`
///   (reference/ultravisor-facts.md §6 row 5).
public final class HostMemory: Sendable {
    /// Host real address of guest physical address 0.
    public static let guestRAMBase: UInt64 = 1 << 44
    /// First address of the hypervisor's page pool.
    public static let pagePoolBase: UInt64 = 2 << 44
    /// `PPC_BIT(15)` = 0x0001000000000000: the secure-memory bit on POWER9.
    public static let secureMemoryBit: UInt64 = 1 << 48

    private struct State: Sendable {
        var pages: [UInt64: [UInt8]] = [:]
        var next: UInt64 = 0
        var free: [UInt64] = []
    }

    private let state = Lock(State())

    /// An empty pool.
    public init() {}

    /// The host real address backing `gpa`.
    public static func hostAddress(of gpa: GuestPhysicalAddress) -> UInt64 { guestRAMBase &+ gpa.rawValue }

    /// The GPA a host real address backs, if it lies in the guest-RAM window of a
    /// guest of `memoryBytes` bytes.
    public static func guestAddress(ofHostAddress address: UInt64, memoryBytes: UInt64) -> GuestPhysicalAddress? {
        guard address >= guestRAMBase, address - guestRAMBase < memoryBytes else { return nil }
        return GuestPhysicalAddress(rawValue: address - guestRAMBase)
    }

    /// Allocates one zeroed 64 KiB page and returns its address (deterministic: the
    /// most recently freed address first, then the next unused one).
    public func allocatePage() -> UInt64 {
        state.withLock { s in
            let address: UInt64
            if let reused = s.free.popLast() {
                address = reused
            } else {
                address = Self.pagePoolBase + (s.next << PageSize.shift)
                s.next += 1
            }
            s.pages[address] = [UInt8](repeating: 0, count: GuestMemory.pageSize)
            return address
        }
    }

    /// Frees a page; unknown addresses are ignored.
    public func freePage(_ address: UInt64) {
        state.withLock { s in
            if s.pages.removeValue(forKey: address) != nil { s.free.append(address) }
        }
    }

    /// The contents of the pool page at `address`, or `nil` if none is allocated there.
    public func page(at address: UInt64) -> [UInt8]? { state.withLock { $0.pages[address] } }

    /// Replaces the contents of an allocated page (at most 64 KiB are kept, shorter
    /// input is zero-padded); returns `false` if no page is allocated there.
    @discardableResult
    public func setPage(at address: UInt64, _ bytes: [UInt8]) -> Bool {
        state.withLock { s in
            guard s.pages[address] != nil else { return false }
            var page = Array(bytes.prefix(GuestMemory.pageSize))
            if page.count < GuestMemory.pageSize {
                page += [UInt8](repeating: 0, count: GuestMemory.pageSize - page.count)
            }
            s.pages[address] = page
            return true
        }
    }

    /// Flips bits in an allocated page (tests of tamper detection); `false` if none.
    @discardableResult
    public func corrupt(at address: UInt64, byteOffset: Int, mask: UInt8 = 0x01) -> Bool {
        state.withLock { s in
            guard s.pages[address] != nil, byteOffset >= 0, byteOffset < GuestMemory.pageSize else { return false }
            s.pages[address]?[byteOffset] ^= mask
            return true
        }
    }

    /// Number of pages allocated now.
    public var allocatedPageCount: Int { state.withLock { $0.pages.count } }
}
