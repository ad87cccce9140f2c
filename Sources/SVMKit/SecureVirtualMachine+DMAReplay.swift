import PowerABI
import SecureGuest

extension SecureVirtualMachine {
    /// Replays a recorded request stream (the `--swiotlb-trace` / `svmkit swiotlb
    /// replay` format) through the running guest kernel's streaming DMA API, as a
    /// driver would: each map is `dma_map_single(orig_addr, size, DMA_TO_DEVICE)` on
    /// CPU `cpu` for a device with the op's `min_align_mask` and segment boundary, each
    /// unmap its `dma_unmap_single()`. The trace's pool description is not used: the
    /// kernel's own pool (`LinuxVersion.swiotlbAllocator`) serves the
    /// maps, copies included. Stops when the kernel stops running (6.1's endless slot
    /// search hangs it: the next ``report(wallSeconds:)`` has `hang`).
    ///
    /// A map with a non-zero `alloc_align_mask` cannot come through `dma_map_single()`;
    /// callers refuse such traces first (``DMAReplayResult/unreachableOp(in:)``).
    @discardableResult
    public func replayDMA(_ scenario: SWIOTLBReplayScenario) -> DMAReplayResult {
        var result = DMAReplayResult()
        guard let kernel else { return result }
        var live: [UInt64: (address: UInt64, size: Int)] = [:]
        for (index, op) in scenario.ops.enumerated() {
            guard kernel.phase == .running else {
                result.stoppedAt = index
                result.stopReason = kernel.phase.description
                break
            }
            switch op {
            case .map(let m):
                do {
                    live[m.id] = (
                        try kernel.dmaMapSingle(
                            GuestPhysicalAddress(m.origAddr), size: m.size, direction: .toDevice, device: m.device,
                            cpu: m.cpu), m.size
                    )
                    result.mapped += 1
                } catch {
                    result.failed += 1
                }
            case .unmap(let id):
                guard let entry = live.removeValue(forKey: id) else { continue }
                try? kernel.dmaUnmapSingle(entry.address, size: entry.size, direction: .toDevice)
                result.unmapped += 1
            }
        }
        if result.stoppedAt == nil, kernel.phase != .running {
            result.stoppedAt = scenario.ops.count - 1
            result.stopReason = kernel.phase.description
        }
        return result
    }
}

/// What ``SecureVirtualMachine/replayDMA(_:)`` did.
public struct DMAReplayResult: Hashable, Sendable, CustomStringConvertible {
    /// Maps that returned a DMA address.
    public var mapped = 0
    /// Maps the kernel refused (no room, bad input, or the one that hung).
    public var failed = 0
    /// Unmaps of successful maps.
    public var unmapped = 0
    /// The op after which the kernel stopped running, if it did.
    public var stoppedAt: Int?
    /// The kernel's phase then (e.g. `hung: …`).
    public var stopReason: String?

    /// Makes an empty result.
    public init() {}

    /// The index of the first op `dma_map_single()` cannot express (a non-zero
    /// `alloc_align_mask`), or `nil`.
    public static func unreachableOp(in scenario: SWIOTLBReplayScenario) -> Int? {
        scenario.ops.firstIndex { op in
            if case .map(let m) = op { return m.allocAlignMask != 0 }
            return false
        }
    }

    /// The index and map of the first op whose buffer `[orig_addr, orig_addr + size)`
    /// is not inside the guest's `ramBytes` of RAM, or `nil`. `dma_map_single()` of such
    /// an address would map memory the guest does not have, so the replay's "failed"
    /// count would hide a trace recorded on a larger guest: callers refuse it first.
    public static func opOutsideRAM(in scenario: SWIOTLBReplayScenario, ramBytes: UInt64) -> (index: Int, map: SWIOTLBReplayMap)? {
        for (index, op) in scenario.ops.enumerated() {
            guard case .map(let m) = op else { continue }
            let (end, overflow) = m.origAddr.addingReportingOverflow(UInt64(max(m.size, 0)))
            if overflow || end > ramBytes { return (index, m) }
        }
        return nil
    }

    /// e.g. `126 mapped, 1 failed, 62 unmapped; the kernel stopped at op 188: hung: …`.
    public var description: String {
        "\(mapped) mapped, \(failed) failed, \(unmapped) unmapped"
            + (stoppedAt.map { "; the kernel stopped at op \($0): \(stopReason ?? "?")" } ?? "")
    }
}
