import Foundation
import Synchronization

/// A fixed team of threads that run the same phase together: the caller's thread is
/// member 0, the others are long-lived `Thread`s. Phases are separated by a spinning,
/// yielding barrier, so every member starts a phase at the same moment.
package final class SWIOTLBBenchTeam: Sendable {
    /// Members, the caller included.
    package let size: Int
    private let arrived = Atomic<Int>(0)
    private let generation = Atomic<Int>(0)
    private let job = Mutex<(@Sendable (Int) -> Void)?>(nil)
    private let finished = Atomic<Bool>(false)

    /// Starts `size - 1` worker threads.
    package init(size: Int) {
        self.size = size
        for member in 1..<max(size, 1) {
            let thread = Thread { [self] in self.workerLoop(member) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private func workerLoop(_ member: Int) {
        while true {
            barrier()
            if finished.load(ordering: .acquiring) { barrier(); return }
            let work = job.withLock { $0 }
            work?(member)
            barrier()
        }
    }

    /// Waits until every member arrives.
    private func barrier() {
        let myGeneration = generation.load(ordering: .acquiring)
        if arrived.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == size {
            arrived.store(0, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .releasing)
            return
        }
        var spins = 0
        while generation.load(ordering: .acquiring) == myGeneration {
            spins += 1
            if spins > 64 { sched_yield() }
        }
    }

    /// Runs `body(member)` on every member at once and returns when all are done.
    package func run(_ body: @escaping @Sendable (Int) -> Void) {
        if size == 1 {
            body(0)
            return
        }
        job.withLock { $0 = body }
        barrier()
        body(0)
        barrier()
    }

    /// Stops the workers.
    package func stop() {
        guard size > 1 else { return }
        finished.store(true, ordering: .releasing)
        barrier()
        barrier()
    }
}
