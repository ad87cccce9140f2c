import SVMKit
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest
import SWIOTLB

/// Block I/O through the vCPU's virtual disk, checked by sector checksums.
extension SoakWorker {
    /// A transfer: half small (1–16 sectors), a third up to 256 KiB (one SWIOTLB
    /// segment), the rest up to the largest transfer; anywhere on the disk.
    private func pickRange(_ g: inout Xoshiro256StarStar) -> (sector: Int, count: Int) {
        let diskSectors = Int(configuration.diskBytes / UInt64(SectorChecksum.sectorSize))
        let most = configuration.maximumTransferBytes / SectorChecksum.sectorSize
        let r = Int.random(in: 0..<100, using: &g)
        let upper = r < 50 ? 16 : (r < 85 ? 512 : most)
        let count = Int.random(in: 1...max(1, min(upper, most, diskSectors)), using: &g)
        return (Int.random(in: 0...(diskSectors - count), using: &g), count)
    }

    /// Where this transfer's data starts: the private buffer plus one of
    /// ``SoakConfiguration/directIOOffsets`` (drawn only when there is a choice, so a
    /// virtio soak's operations are what they always were).
    private func transferBuffer(_ cycle: SoakCycle, _ g: inout Xoshiro256StarStar) -> UInt64 {
        let offsets = configuration.directIOOffsets
        guard offsets.count > 1 else { return cycle.buffer + UInt64(offsets.first ?? 0) }
        return cycle.buffer + UInt64(offsets[Int.random(in: 0..<offsets.count, using: &g)])
    }

    /// The failure of a block transfer: a hang when the driver's map spun for ever in
    /// 6.1's slot search (the kernel is stopped), a stall when Linux would requeue the
    /// request for ever (``BlockIOStall``), else a failed operation. (A map that finds the
    /// pool full is no failure: the driver requeues it, counted in the report's `requeues`.)
    private func transferFailure(_ what: String, _ error: BlockIOError) -> SoakCheckFailure {
        if case .dma(.swiotlb(.scanHung(let hang))) = error {
            return SoakCheckFailure(.hang, "\(what) hung the guest: \(hang)")
        }
        if case .stalled(let stall) = error {
            return SoakCheckFailure(.stall, "\(what) stalled: \(stall)")
        }
        return SoakCheckFailure(.operation, "\(what) failed: \(error)")
    }

    /// Writes random data from the private buffer to the disk, then checks that the
    /// device stored exactly it (the `DMA_TO_DEVICE` bounce arrived intact).
    func blockWrite(_ cycle: SoakCycle, _ s: inout State, _ g: inout Xoshiro256StarStar) throws(SoakCheckFailure) {
        let (sector, count) = pickRange(&g)
        let bytes = count * SectorChecksum.sectorSize
        let data = Self.randomBytes(bytes, &g)
        let buffer = transferBuffer(cycle, &g)
        try guestWrite(vcpu(cycle), buffer, data, "soak: fill write buffer")
        do {
            try cycle.driver.write(sector: UInt64(sector), from: GuestPhysicalAddress(buffer), byteCount: bytes, cpu: cpu)
        } catch {
            throw transferFailure("block write of \(bytes) bytes at sector \(sector) from \(hex(buffer))", error)
        }
        let sums = SectorChecksum.sectors(of: data)
        s.shadow.replaceSubrange(sector..<(sector + count), with: sums)
        s.writes += 1
        for case .corruptDiskAfterWrite(let v, let n) in configuration.injections where v == cpu && n == s.writes {
            var first = cycle.device.contents(sector: UInt64(sector), byteCount: SectorChecksum.sectorSize)
            first[0] ^= 0x01
            cycle.device.load(first, at: UInt64(sector))
        }
        tally.update { $0.bytesWritten += UInt64(bytes) }
        let stored = cycle.device.contents(sector: UInt64(sector), byteCount: bytes)
        try compare(
            stored, from: sector, against: s.shadow, what: "the disk stored after a write",
            afterIgnoredShareFailure: !cycle.kernel.ledger.failedShares.isEmpty)
    }

    /// Reads a range into the poisoned private buffer and checks every sector against
    /// the checksum of what was last written there (zero if never written).
    func blockRead(_ cycle: SoakCycle, _ s: inout State, _ g: inout Xoshiro256StarStar) throws(SoakCheckFailure) {
        let (sector, count) = pickRange(&g)
        let bytes = count * SectorChecksum.sectorSize
        let vcpu = vcpu(cycle)
        let buffer = transferBuffer(cycle, &g)
        try guestWrite(vcpu, buffer, [UInt8](repeating: 0xA5, count: bytes), "soak: poison read buffer")
        do {
            try cycle.driver.read(sector: UInt64(sector), into: GuestPhysicalAddress(buffer), byteCount: bytes, cpu: cpu)
        } catch {
            throw transferFailure("block read of \(bytes) bytes at sector \(sector) into \(hex(buffer))", error)
        }
        let got = try guestRead(vcpu, buffer, bytes, "soak: check read")
        tally.update { $0.bytesRead += UInt64(bytes) }
        try compare(
            got, from: sector, against: s.shadow, what: "the guest read",
            afterIgnoredShareFailure: !cycle.kernel.ledger.failedShares.isEmpty)
    }

    /// Compares the sectors in `bytes` (from disk sector `first`) with the shadow checksums.
    ///
    /// `afterIgnoredShareFailure`: the guest went on after a failed share, as Linux does
    /// (`svm.c: set_memory_decrypted`, 6.12, ignores the status), so a bounce page the
    /// hypervisor touches may be secure: it reads ciphertext (KVM's
    /// `kvmppc_uvmem_migrate_to_ram()`), and the disk gets it. A mismatch is then that
    /// status's consequence, a finding about Linux (``SoakReport/linuxFindings``), and
    /// is not counted as a checksum mismatch.
    private func compare(
        _ bytes: [UInt8], from first: Int, against shadow: [UInt64], what: String, afterIgnoredShareFailure: Bool
    ) throws(SoakCheckFailure) {
        let sums = SectorChecksum.sectors(of: bytes)
        let bad = sums.indices.filter { sums[$0] != shadow[first + $0] }
        tally.update {
            $0.sectorsChecked += sums.count
            if !afterIgnoredShareFailure { $0.checksumMismatches += bad.count }
        }
        guard let firstBad = bad.first else { return }
        throw SoakCheckFailure(
            afterIgnoredShareFailure ? .operation : .checksumMismatch,
            "\(bad.count) of \(sums.count) sector(s) \(what) differ from what was written, first at sector "
                + "\(first + firstBad) (checksum \(hex(sums[firstBad])), expected \(hex(shadow[first + firstBad])))"
                + (afterIgnoredShareFailure ? " after a share whose failure the guest ignored, as Linux does" : ""))
    }
}
