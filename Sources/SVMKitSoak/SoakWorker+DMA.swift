import SVMKit
@_spi(Firmware) import PEFMachine
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
        let dma = try mapRetrying(kernel, original, size)
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
        // The device writes, sync for CPU brings it to the original.
        let d1 = Self.randomBytes(size, &g)
        try hypervisorWrite(dma, d1, "soak: device writes bounce buffer")
        try step("dma_sync_single_for_cpu", what) { () throws(DMAError) in
            try kernel.dmaSyncSingleForCPU(dma, size: size, direction: .bidirectional)
        }
        try expectGuest(vcpu, original, d1, "sync for CPU did not copy the device's data back: \(what)")
        // The guest writes, sync for device brings it to the bounce buffer.
        let d2 = Self.randomBytes(size, &g)
        try guestWrite(vcpu, original, d2, "soak: before sync for device")
        try step("dma_sync_single_for_device", what) { () throws(DMAError) in
            try kernel.dmaSyncSingleForDevice(dma, size: size, direction: .bidirectional)
        }
        if try hypervisorRead(dma, size, "soak: device reads after sync") != d2 {
            throw SoakCheckFailure(.checksumMismatch, "sync for device did not copy the guest's data out: \(what)")
        }
        // The device writes again; unmap copies it back.
        let d3 = Self.randomBytes(size, &g)
        try hypervisorWrite(dma, d3, "soak: device writes bounce buffer")
        mapped = false
        try step("dma_unmap_single", what) { () throws(DMAError) in
            try kernel.dmaUnmapSingle(dma, size: size, direction: .bidirectional)
        }
        try expectGuest(vcpu, original, d3, "unmap did not copy the device's data back: \(what)")
    }

    /// `dma_map_single(DMA_BIDIRECTIONAL)`. A map that finds the pool full
    /// (`DMAError.releaseMayCure`) is retried once another mapping is released, as the block driver's requeued
    /// request is (``SoakReport/requeues``): the DMA API reports the failure and leaves
    /// the retry to its caller; the soak, as a driver, waits. Nothing released within
    /// `VirtualBlockDriver.defaultRequeueTimeout` is a stall; any other error a failed
    /// operation.
    private func mapRetrying(_ kernel: GuestKernel, _ original: UInt64, _ size: Int) throws(SoakCheckFailure) -> UInt64 {
        let call = "dma_map_single(\(hex(original)), \(size), DMA_BIDIRECTIONAL)"
        while true {
            let released = kernel.bounceReleaseCount
            do {
                return try kernel.dmaMapSingle(GuestPhysicalAddress(original), size: size, direction: .bidirectional, cpu: cpu)
            } catch {
                guard error.releaseMayCure else {
                    throw SoakCheckFailure(.operation, "\(call) failed: \(error)")
                }
                tally.update { $0.requeues += 1 }
                let timeout = VirtualBlockDriver.defaultRequeueTimeout
                guard kernel.waitForBounceRelease(since: released, timeout: timeout) else {
                    throw SoakCheckFailure(.stall, "\(call) found the pool full and no mapping was released in \(timeout): \(error)")
                }
            }
        }
    }

    /// One DMA API call; its error becomes an operation failure naming the call.
    private func step(_ call: String, _ what: String, _ body: () throws(DMAError) -> Void) throws(SoakCheckFailure) {
        do {
            try body()
        } catch {
            throw SoakCheckFailure(.operation, "\(call) failed: \(what): \(error)")
        }
    }

    /// The guest must read `bytes` at `address`.
    private func expectGuest(_ vcpu: VirtualProcessor, _ address: UInt64, _ bytes: [UInt8], _ message: String)
        throws(SoakCheckFailure)
    {
        if try guestRead(vcpu, address, bytes.count, "soak: check bidirectional buffer") != bytes {
            throw SoakCheckFailure(.checksumMismatch, message)
        }
    }
}
