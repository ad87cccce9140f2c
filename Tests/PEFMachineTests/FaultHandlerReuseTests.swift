import Foundation
import PowerABI
import Synchronization
import Testing

@_spi(Firmware) @testable import PEFMachine

/// Regression (found by `svmkit soak`): the page-fault handler was stored directly as
/// a `Mutex`'s value, and every read of it (one per resolved fault) stored it back
/// wrapped in one more re-abstraction thunk, so the n-th fault ran through about 2n
/// nested thunks: a soak slowed down as it went. The call depth inside the handler
/// must not grow with the number of faults.
@Suite("Page-fault handler reuse")
struct FaultHandlerReuseTests {
    @Test("The handler runs at the same call depth on the 1st and the 300th fault")
    func constantDepth() throws {
        let page = PageSize.bytes
        let memory = try GuestMemory(byteCount: 2 * page)
        let depths = Mutex<[Int]>([])
        memory.setFaultHandler { [weak memory] fault in
            depths.withLock { $0.append(Thread.callStackReturnAddresses.count) }
            memory?.setState(.secure, frames: fault.frame.rawValue..<(fault.frame.rawValue + 1))
            return true
        }
        let secure = MemoryActor.guestState(vcpu: 0, msr: MachineStateRegister.guestKernel.union(.secure))
        for i in 0..<300 {
            memory.setState(.normal, frames: 1..<2)
            #expect(try memory.read(secure, at: GuestPhysicalAddress(page + UInt64(i)), count: 1) == [0])
        }
        let seen = depths.withLock { $0 }
        #expect(seen.count == 300, "one fault per read")
        let first = try #require(seen.first)
        let last = try #require(seen.last)
        #expect(last == first, "call depth grew from \(first) to \(last) frames over 300 faults")
    }
}
