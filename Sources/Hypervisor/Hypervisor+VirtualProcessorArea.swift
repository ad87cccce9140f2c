@_spi(Firmware) import PEFMachine
import PowerABI

/// Why a vCPU was (re)dispatched, for the DTL.
public enum DispatchReason: Sendable, Hashable {
    /// The vCPU ceded (`H_CEDE`) and was woken.
    case cede
    /// The hypervisor preempted it for `stolen` simulated nanoseconds.
    case preempted(stolenNanoseconds: UInt64)
}

/// `H_REGISTER_VPA` and the Dispatch Trace Log (KVM's `do_h_register_vpa` and
/// `kvmppc_create_dtl_entry`; reference/linux-guest-facts.md §1.4–1.5).
extension Hypervisor {
    /// `H_VPA_FUNC_SHIFT`: the sub-function is in bits 45–47 of r4 (`63 - 18`).
    static let subFunctionShift: UInt64 = 45
    /// The POWER timebase: 512 MHz.
    static let timebaseHz: UInt64 = 512_000_000
    /// KVM requires a cache-line-aligned area (L1_CACHE_BYTES = 128).
    static let areaAlignment: UInt64 = 128

    /// `H_REGISTER_VPA` (r4 flags with the sub-function in bits 45–47, r5 vCPU, r6 address):
    ///
    /// | sub-function | meaning |
    /// |---|---|
    /// | 1 / 5 | register / deregister the VPA |
    /// | 2 / 6 | register / deregister the DTL (a VPA must be registered first: `H_RESOURCE`) |
    /// | 3 / 7 | register / deregister the SLB shadow |
    ///
    /// Registering reads the area's length at offset 4 through the hypervisor's accessor
    /// (be16 for a VPA, be32 otherwise), so an area that is not shared fails: the call
    /// returns `H_PARAMETER` and the isolation violation is recorded, naming the vCPU
    /// and the area. Other checks, as KVM: an unknown vCPU, an address not 128-byte
    /// aligned, a length under 8 or past the end of the page → `H_PARAMETER`; a VPA
    /// shorter than 640 bytes or a DTL shorter than one 48-byte entry → `H_PARAMETER`;
    /// deregistering a VPA while a DTL or SLB shadow is registered → `H_RESOURCE`.
    /// A newly registered VPA gets `yield_count` = 1 written by the hypervisor (KVM's
    /// `init_vpa`), which also proves it can write there.
    func registerVPA(_ call: inout FirmwareCall, on machine: Machine) {
        let subFunction = (call[4] >> Self.subFunctionShift) & 7
        let target = call[5]
        let address = call[6]
        guard target < UInt64(machine.processors.count) else { return call.finish(HypervisorStatus.parameter) }
        let vcpu = Int(target)
        let memory = machine.memory
        let area: String
        switch subFunction {
        case 1, 5: area = "VPA"
        case 2, 6: area = "DTL"
        case 3, 7: area = "SLB shadow"
        default: return call.finish(HypervisorStatus.parameter)
        }
        let purpose = "H_REGISTER_VPA: \(area) of vcpu \(vcpu)"

        if subFunction >= 5 {
            let status: HypervisorStatus = withState(machine) { s in
                var r = s.vpas[vcpu] ?? VPARegistration()
                switch subFunction {
                case 5:
                    guard r.dtl == nil, r.slbShadow == nil else { return .resource }
                    r.vpa = nil
                case 6: r.dtl = nil
                default: r.slbShadow = nil
                }
                s.vpas[vcpu] = r
                return .success
            }
            return call.finish(status)
        }

        guard address != 0, address & (Self.areaAlignment - 1) == 0 else {
            return call.finish(HypervisorStatus.parameter)
        }
        let gpa = GuestPhysicalAddress(rawValue: address)
        let length: UInt64
        do {
            length =
                subFunction == 1
                ? UInt64(try memory.readBigEndian(
                    .hypervisor, at: GuestPhysicalAddress(rawValue: address &+ 4), as: UInt16.self, purpose: purpose))
                : UInt64(try memory.readBigEndian(
                    .hypervisor, at: GuestPhysicalAddress(rawValue: address &+ 4), as: UInt32.self, purpose: purpose))
        } catch {
            call.notes.append("\(purpose): \(error)")
            return call.finish(HypervisorStatus.parameter)
        }
        let toPageEnd = PageSize.bytes - gpa.pageOffset
        guard length >= 8, length <= toPageEnd else {
            call.notes.append("\(area) length \(length) is invalid")
            return call.finish(HypervisorStatus.parameter)
        }
        switch subFunction {
        case 1:
            guard length >= UInt64(LPPACALayout.minimumSize) else { return call.finish(HypervisorStatus.parameter) }
            do {
                try memory.writeBigEndian(
                    .hypervisor, at: GuestPhysicalAddress(rawValue: address + UInt64(LPPACALayout.yieldCount)),
                    UInt32(1), purpose: purpose)
            } catch {
                call.notes.append("\(purpose): \(error)")
                return call.finish(HypervisorStatus.parameter)
            }
            withState(machine) { s in
                var r = s.vpas[vcpu] ?? VPARegistration()
                r.vpa = gpa
                r.yieldCount = 1
                s.vpas[vcpu] = r
            }
        case 2:
            guard length >= UInt64(DispatchTraceLogEntry.byteCount) else {
                return call.finish(HypervisorStatus.parameter)
            }
            let usable = UInt32(length - length % UInt64(DispatchTraceLogEntry.byteCount))
            let status: HypervisorStatus = withState(machine) { s in
                guard s.vpas[vcpu]?.vpa != nil else { return .resource }
                s.vpas[vcpu]?.dtl = DTLRegistration(address: gpa, length: usable)
                s.vpas[vcpu]?.dtlIndex = 0
                return .success
            }
            return call.finish(status)
        default:
            let status: HypervisorStatus = withState(machine) { s in
                guard s.vpas[vcpu]?.vpa != nil else { return .resource }
                s.vpas[vcpu]?.slbShadow = gpa
                return .success
            }
            return call.finish(status)
        }
        call.finish(HypervisorStatus.success)
    }

    /// A dispatch of `vcpu` after it was preempted (or ceded): what KVM's vcore does
    /// around running a vCPU. The VPA's `yield_count` goes up by two (odd while
    /// preempted, even again now), the stolen time is added to `enqueue_dispatch_tb`,
    /// and, if a DTL is registered, a ``/PowerABI/DispatchTraceLogEntry`` is written at the next
    /// slot (wrapping) and `dtl_idx` is updated. Everything goes through the hypervisor's
    /// accessor: a VPA or DTL that is not shared gives the violation as the error.
    /// Returns the entry written (if a DTL is registered).
    @discardableResult
    public func dispatch(vcpu: Int, on machine: Machine, reason: DispatchReason = .preempted(stolenNanoseconds: 10_000))
        throws(MemoryAccessError) -> DispatchTraceLogEntry?
    {
        guard let registration = registration(of: vcpu), let vpa = registration.vpa,
            let processor = machine.processor(vcpu)
        else { return nil }
        let memory = machine.memory
        let purpose = "dispatch of vcpu \(vcpu)"
        let stolenNanoseconds: UInt64
        switch reason {
        case .cede: stolenNanoseconds = 0
        case .preempted(let ns): stolenNanoseconds = ns
        }
        machine.clock.advance(by: stolenNanoseconds)
        let stolenTicks = stolenNanoseconds * Self.timebaseHz / 1_000_000_000
        let timebase = machine.clock.now * Self.timebaseHz / 1_000_000_000
        let yieldCount = registration.yieldCount &+ 2
        let totalStolen = registration.stolenTicks &+ stolenTicks
        try memory.writeBigEndian(
            .hypervisor, at: GuestPhysicalAddress(rawValue: vpa.rawValue + UInt64(LPPACALayout.yieldCount)), yieldCount,
            purpose: purpose)
        try memory.writeBigEndian(
            .hypervisor, at: GuestPhysicalAddress(rawValue: vpa.rawValue + UInt64(LPPACALayout.enqueueDispatchTB)),
            totalStolen, purpose: purpose)
        var written: DispatchTraceLogEntry?
        var index = registration.dtlIndex
        if let dtl = registration.dtl, dtl.length >= UInt32(DispatchTraceLogEntry.byteCount) {
            let slots = UInt64(dtl.length) / UInt64(DispatchTraceLogEntry.byteCount)
            let snapshot = processor.snapshot
            let entry = DispatchTraceLogEntry(
                dispatchReason: 7, preemptReason: reason == .cede ? 0 : 1, processorID: UInt16(truncatingIfNeeded: vcpu),
                enqueueToDispatchTime: UInt32(truncatingIfNeeded: stolenTicks), timebase: timebase,
                srr0: snapshot.pc, srr1: snapshot.msr.rawValue)
            let slot = GuestPhysicalAddress(
                rawValue: dtl.address.rawValue + (index % slots) * UInt64(DispatchTraceLogEntry.byteCount))
            try memory.write(.hypervisor, at: slot, bytes: entry.encoded, purpose: "DTL of vcpu \(vcpu)")
            index += 1
            try memory.writeBigEndian(
                .hypervisor, at: GuestPhysicalAddress(rawValue: vpa.rawValue + UInt64(LPPACALayout.dtlIndex)), index,
                purpose: purpose)
            written = entry
        }
        withState(machine) { s in
            s.vpas[vcpu]?.yieldCount = yieldCount
            s.vpas[vcpu]?.stolenTicks = totalStolen
            s.vpas[vcpu]?.dtlIndex = index
        }
        return written
    }
}
