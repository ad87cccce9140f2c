public import PEFMachine
import PowerABI
public import SWIOTLB

/// The SWIOTLB pool's memory on a guest: every bounce copy is one
/// ``VirtualProcessor/copy(from:to:count:purpose:)`` made as the guest (the vCPU's privilege read at the time of
/// the copy), so page states are checked once per copy, and a copy the guest may not
/// make (the SVM was killed, a page is unavailable) is refused with the range named.
///
/// On a secure guest the original buffer is a secure page and the bounce buffer a
/// shared one; the secure vCPU may touch both, the hypervisor only the latter.
public final class GuestBounceMemory: BounceMemory {
    /// The vCPU whose privilege the copies use.
    public let vcpu: VirtualProcessor

    /// Copies in guest memory as `vcpu`.
    public init(vcpu: VirtualProcessor) {
        self.vcpu = vcpu
    }

    /// One checked copy inside guest memory (the pool calls this once per bounce).
    public func copy(from source: UInt64, to destination: UInt64, count: Int) throws(BounceMemoryError) {
        do {
            try vcpu.copy(
                from: GuestPhysicalAddress(source), to: GuestPhysicalAddress(destination), count: count,
                purpose: "swiotlb_bounce")
        } catch {
            let address: UInt64
            switch error {
            case .isolationViolation(let v): address = v.address.rawValue
            case .svmKilled(let k): address = k.address?.rawValue ?? source
            case .pageUnavailable(let a, _, _): address = a.rawValue
            case .outOfRange(let a, _, _): address = a.rawValue
            case .notContiguous(let a, _): address = a.rawValue
            }
            let inSource = address >= source && address &- source < UInt64(count)
            throw BounceMemoryError(
                address: inSource ? source : destination, count: count,
                reason: "\(inSource ? "source" : "destination"): \(error)")
        }
    }
}
