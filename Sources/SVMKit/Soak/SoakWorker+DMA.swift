import PEFMachine
import PowerABI
import SWIOTLB
import SecureGuest

/// A bidirectional streaming mapping driven by hand, checking every copy the
/// SWIOTLB pool makes (reference/linux-guest-facts.md §2.4).
extension SoakWorker {
    /// Map (original → bounce), the device reads and writes the bounce buffer,
    /// `dma_sync_single_for_cpu()` (bounce → original), the guest writes,
    /// `dma_sync_single_for_device()` (original → bounce), the device writes again,
    /// unmap (bounce → original). Any size up to 64 KiB, at any offset.
    func bidirectional(_ cycle: SoakCycle, _ g: inout Xoshiro256StarStar) throws(SoakCheckFailure) {
        let size = Int.random(in: 1...min(65536, configuration.maximumTransferBytes), using: &g)
        let offset = Int.random(in: 0...min(4095, configuration.maximumTransferBytes - size), using: &g)
        let original = cycle.buffer + UInt64(offset)
        let vcpu = vcpu(cycle)
        let kernel = cycle.kernel
        let d0 = Self.randomBytes(size, &g)
        try guestWrite(vcpu, original, d0, "soak: bidirectional buffer")
        let dma: UInt64
        do {
            dma = try kernel.dmaMapSingle(original, size: size, direction: .bidirectional, cpu: cpu)
        } catch {
            throw SoakCheckFailure(.operation, "dma_map_single(\(hex(original)), \(size), DMA_BIDIRECTIONAL) failed: \(error)")
        }
        var mapped = true
        defer { if mapped { try? kernel.dmaUnmapSingle(dma, size: size, direction: .bidirectional) } }
        if kernel.isSecureGuest, kernel.swiotlbPool?.contains(dma) != true {
            throw SoakCheckFailure(
                .invariant, "a secure guest's mapping of \(hex(original)) got DMA address \(hex(dma)), outside the bounce pool")
        }
        let what = "bidirectional mapping of \(size) bytes at \(hex(original)) (bounce \(hex(dma)))"
        if try hypervisorRead(dma, size, "soak: device reads bounce buffer") != d0 {
            throw SoakCheckFailure(.checksumMismatch, "map did not copy the original into the bounce buffer: \(what)")
        }
        let d1 = Self.randomBytes(size, &g)
        try deviceWrite(dma, d1)
        do {
            try kernel.dmaSyncSingleForCPU(dma, size: size, direction: .bidirectional)
        } catch {
            throw SoakCheckFailure(.operation, "dma_sync_single_for_cpu failed: \(what): \(error)")
        }
        if try guestRead(vcpu, original, size, "soak: after sync for cpu") != d1 {
            throw SoakCheckFailure(.checksumMismatch, "sync for CPU did not copy the device's data back: \(what)")
        }
        let d2 = Self.randomBytes(size, &g)
        try guestWrite(vcpu, original, d2, "soak: before sync for device")
        do {
            try kernel.dmaSyncSingleForDevice(dma, size: size, direction: .bidirectional)
        } catch {
            throw SoakCheckFailure(.operation, "dma_sync_single_for_device failed: \(what): \(error)")
        }
        if try hypervisorRead(dma, size, "soak: device reads after sync") != d2 {
            throw SoakCheckFailure(.checksumMismatch, "sync for device did not copy the guest's data out: \(what)")
        }
        let d3 = Self.randomBytes(size, &g)
        try deviceWrite(dma, d3)
        mapped = false
        do {
            try kernel.dmaUnmapSingle(dma, size: size, direction: .bidirectional)
        } catch {
            throw SoakCheckFailure(.operation, "dma_unmap_single failed: \(what): \(error)")
        }
        if try guestRead(vcpu, original, size, "soak: after unmap") != d3 {
            throw SoakCheckFailure(.checksumMismatch, "unmap did not copy the device's data back: \(what)")
        }
    }

    private func deviceWrite(_ address: UInt64, _ bytes: [UInt8]) throws(SoakCheckFailure) {
        do {
            try machine.memory.write(.hypervisor, at: GuestPhysicalAddress(address), bytes: bytes, purpose: "soak: device writes bounce buffer")
        } catch {
            throw SoakCheckFailure(.invariant, "the device cannot write the bounce buffer at \(hex(address)): \(error)")
        }
    }
}
