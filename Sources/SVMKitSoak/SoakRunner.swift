import SVMKit
import Dispatch
import Foundation
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import SecureGuest

/// Runs a soak (issue 8 item 5): one secure guest, several vCPU threads doing DMA
/// through the SWIOTLB pool, share/unshare churn, hypervisor page-outs and
/// dma-coherent allocations, with kexec cycles in between and every invariant
/// checked throughout.
///
/// ```swift
/// var c = SoakConfiguration()
/// c.seconds = 60
/// c.seed = 7
/// let report = try SoakRunner(configuration: c).run()
/// print(report.summary)        // operations by kind, bytes, kexecs, violations
/// ```
///
/// A cycle: the runner probes each vCPU's virtual disk on the current kernel and gives
/// each vCPU a private buffer and a set of churn pages (checking they are private);
/// one thread per vCPU runs its seeded operations (``SoakOperationKind``), checking each
/// as it goes; the runner then checks the machine (`checkCycle`), kexecs — normal, or
/// for a seeded share of cycles a crash kexec — and checks the next kernel's boot. The
/// disks keep their data across kexecs, so a read may check data written several kernels
/// earlier. The first failure stops the run.
public final class SoakRunner: Sendable {
    /// At most this many failures are kept in a report.
    public static let failureLimit = 100

    /// What to run.
    public let configuration: SoakConfiguration

    /// A runner for `configuration`.
    /// - Throws: ``SoakConfigurationError`` naming the option that cannot work.
    public init(configuration: SoakConfiguration) throws(SoakConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// The bugs the configuration injects into every kernel.
    var bugs: Set<GuestBug> {
        var b = Set<GuestBug>()
        for case .guestBugs(let more) in configuration.injections { b = more }
        return b
    }

    /// Runs the soak to its limit or its first failure.
    /// - Parameters:
    ///   - progressInterval: seconds between two calls of `progress` (0.1 s to a day).
    ///   - progress: called with the running totals (`svmkit soak --progress` prints
    ///     ``SoakReport/progressLine``).
    public func run(progressInterval: Double = 5, progress: (@Sendable (SoakReport) -> Void)? = nil) -> SoakReport {
        let started = ContinuousClock.now
        let progressInterval = progressInterval.isFinite ? min(max(progressInterval, 0.1), 86400) : 5
        let tally = SoakTally()
        var boot = BootConfiguration()
        boot.memoryBytes = configuration.memoryBytes
        boot.cpuCount = configuration.cpuCount
        boot.commandLine = configuration.commandLine
        boot.linux = configuration.linux
        boot.dmaPath = configuration.dmaPath
        boot.disk = configuration.disk
        boot.seed = configuration.seed
        boot.tpmKeyPEM = configuration.tpmKeyPEM
        boot.firmware = configuration.firmware.firmware
        boot.hypervisorTouch = configuration.firmware.hypervisorTouch
        boot.esmCheckPolicy = configuration.firmware.esmCheckPolicy
        let vm: SecureVirtualMachine
        do {
            vm = try SecureVirtualMachine(configuration: boot, faults: configuration.faults, traceDetail: false)
        } catch {
            tally.fail(failure(.machine, cycle: 0, "cannot build the machine: \(error)"))
            return report(tally, vm: nil, started: started)
        }
        let sectors = configuration.diskBytes / UInt64(SectorChecksum.sectorSize)
        let devices = (0..<configuration.cpuCount).map {
            vm.hypervisor.attachBlockDevice(
                unitAddress: VirtualBlockDevice.defaultUnitAddress + UInt32($0), sectorCount: sectors)
        }
        let workers = (0..<configuration.cpuCount).map {
            SoakWorker(cpu: $0, configuration: configuration, machine: vm.machine, hypervisor: vm.hypervisor, tally: tally)
        }
        let first = vm.boot(
            kernelOptions: GuestKernelOptions(
                bugs: bugs, swiotlbDynamic: configuration.swiotlbDynamic, swiotlbTrace: configuration.swiotlbTrace))
        guard first.secure, let firstKernel = vm.kernel, firstKernel.phase == .running else {
            let why = first.esmFailure ?? first.stopReason ?? first.invariantFailures.first ?? "kernel \(vm.kernel?.phase.description ?? "missing")"
            tally.fail(failure(.machine, cycle: 0, "the guest did not boot secure: \(why)"))
            return report(tally, vm: vm, started: started)
        }
        checkBoot(vm, kernel: firstKernel, cycle: 0, inherited: nil, tally: tally)
        // The time limit counts from the first secure boot, so a short soak on a slow or
        // busy machine still runs operations (building and booting the machine can take
        // longer than the limit itself); the first cycle runs at least one operation per vCPU.
        let booted = ContinuousClock.now
        let deadline = configuration.seconds.map { booted + .milliseconds(Int64(($0 * 1000).rounded())) }
        var nextProgress = started + .milliseconds(Int64(progressInterval * 1000))
        var cycle = 0
        var inherited: Set<GuestFrameNumber>?
        while !tally.isStopped {
            let done = tally.snapshot.operations.values.reduce(0, +)
            if let limit = configuration.operations, done >= limit { break }
            if let deadline, cycle > 0, ContinuousClock.now >= deadline { break }
            guard let kernel = vm.kernel else { break }
            guard let cycles = prepare(cycle, kernel: kernel, devices: devices, done: done, deadline: deadline, tally: tally)
            else { break }
            let group = DispatchGroup()
            for w in workers {
                group.enter()
                let work = cycles[w.cpu]
                let thread = Thread {
                    w.run(work)
                    group.leave()
                }
                thread.stackSize = 4 << 20
                thread.start()
            }
            while group.wait(timeout: .now() + 0.2) == .timedOut {
                if let progress, ContinuousClock.now >= nextProgress {
                    progress(report(tally, vm: vm, started: started, live: kernel))
                    nextProgress = ContinuousClock.now + .milliseconds(Int64(progressInterval * 1000))
                }
            }
            let requeued = cycles.reduce(0) { $0 + $1.driver.statistics.requeues }
            tally.update {
                $0.bytesBounced += kernel.dmaStatistics.bouncedBytes
                $0.requeues += requeued
            }
            // A hung kernel (6.1's endless slot search) is the finding: its pool and
            // ledger stay as the spinning CPU left them, so there is nothing more to check.
            if kernel.swiotlbHang == nil {
                checkCycle(vm, kernel: kernel, workers: workers, cycle: cycle, inherited: inherited, tally: tally)
            }
            if tally.isStopped { break }
            if let limit = configuration.operations, tally.snapshot.operations.values.reduce(0, +) >= limit { break }
            if let deadline, ContinuousClock.now >= deadline { break }
            guard let next = kexec(vm, from: kernel, cycle: cycle, tally: tally) else { break }
            inherited = next.inherited
            cycle += 1
            if let progress, ContinuousClock.now >= nextProgress {
                progress(report(tally, vm: vm, started: started))
                nextProgress = ContinuousClock.now + .milliseconds(Int64(progressInterval * 1000))
            }
        }
        finalCheck(vm, cycle: cycle, tally: tally)
        return report(tally, vm: vm, started: started)
    }

    /// Sets up a cycle on `kernel`: each vCPU's driver, buffer and churn pages, and how
    /// many operations each runs. `nil` (with a failure recorded) if that failed.
    private func prepare(
        _ cycle: Int, kernel: GuestKernel, devices: [VirtualBlockDevice], done: Int, deadline: ContinuousClock.Instant?,
        tally: SoakTally
    ) -> [SoakCycle]? {
        let cpus = configuration.cpuCount
        var shares = [Int](repeating: configuration.operationsPerCycle, count: cpus)
        if let limit = configuration.operations, limit - done < configuration.operationsPerCycle * cpus {
            let left = max(0, limit - done)
            shares = (0..<cpus).map { left / cpus + ($0 < left % cpus ? 1 : 0) }
        }
        var out: [SoakCycle] = []
        for cpu in 0..<cpus {
            let driver: VirtualBlockDriver
            let buffer: UInt64
            let churn: UInt64
            do {
                driver = try kernel.probeVirtualBlockDevice(
                    unitAddress: devices[cpu].unitAddress, kind: configuration.disk, cpu: cpu)
            } catch {
                let message = "probing the virtual disk failed: \(error)"
                if !kernel.ledger.failedShares.isEmpty {
                    // Linux went on after a failed share (its queue, say): the disk is
                    // unusable, as it would be on hardware. Reported; the run ends here.
                    tally.noteConsequence("cycle \(cycle), vCPU \(cpu): \(message)")
                    return nil
                }
                tally.fail(failure(.operation, cycle: cycle, vcpu: cpu, message))
                return nil
            }
            let bufferBytes = UInt64(configuration.maximumTransferBytes + (configuration.directIOOffsets.max() ?? 0))
            do {
                buffer = try kernel.allocateMemory(bytes: bufferBytes, purpose: "soak buffer (vCPU \(cpu))").rawValue
                churn = try kernel.allocateMemory(
                    bytes: UInt64(configuration.churnPages) * PageSize.bytes, purpose: "soak churn pages (vCPU \(cpu))").rawValue
            } catch {
                tally.fail(failure(.operation, cycle: cycle, vcpu: cpu, "allocating the soak's memory failed: \(error)"))
                return nil
            }
            for (base, bytes) in [(buffer, bufferBytes), (churn, UInt64(configuration.churnPages) * PageSize.bytes)] {
                let frames = (base >> PageSize.shift)..<((base + bytes + PageSize.offsetMask) >> PageSize.shift)
                let states = kernel.machine.memory.states(of: frames)
                let ignored = kernel.ledger.ignoredStatuses
                let notPrivate = states.indices.filter { states[$0] != .secure }
                let explained = notPrivate.filter { ignored[GuestFrameNumber(rawValue: frames.lowerBound + UInt64($0))] != nil }
                if !explained.isEmpty {
                    // Freed after an unshare whose failure Linux ignored: still shared.
                    tally.noteFindings(explained.map { GuestFrameNumber(rawValue: frames.lowerBound + UInt64($0)) })
                }
                if let i = notPrivate.first(where: { !explained.contains($0) }) {
                    tally.fail(
                        failure(
                            .invariant, cycle: cycle, vcpu: cpu,
                            "the kernel handed out memory that is not private: the page at "
                                + "\(hex((frames.lowerBound + UInt64(i)) << PageSize.shift)) is \(states[i])"))
                    return nil
                }
            }
            out.append(
                SoakCycle(
                    cycle: cycle, kernel: kernel, driver: driver, device: devices[cpu], buffer: buffer, churnBase: churn,
                    operations: shares[cpu], deadline: deadline))
        }
        return out
    }

    /// A failure found between operations.
    func failure(_ kind: SoakFailure.Kind, cycle: Int, vcpu: Int? = nil, _ message: String) -> SoakFailure {
        SoakFailure(
            kind: kind, cycle: cycle, vcpu: vcpu, operation: nil, operationKind: nil, message: message,
            seed: configuration.seed, reproduce: configuration.reproduction(throughCycle: cycle))
    }

    /// The report of the run so far; `live` is the kernel whose bounce counters are not
    /// in the tally yet.
    private func report(_ tally: SoakTally, vm: SecureVirtualMachine?, started: ContinuousClock.Instant, live: GuestKernel? = nil)
        -> SoakReport
    {
        let c = tally.snapshot
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        var operations: [String: Int] = [:]
        for k in SoakOperationKind.allCases { operations[k.rawValue] = c.operations[k] ?? 0 }
        return SoakReport(
            seed: configuration.seed, cpus: configuration.cpuCount, memoryBytes: configuration.memoryBytes,
            operations: operations, totalOperations: c.operations.values.reduce(0, +), bytesWritten: c.bytesWritten,
            bytesRead: c.bytesRead, bytesBounced: c.bytesBounced + (live?.dmaStatistics.bouncedBytes ?? 0),
            kexecCycles: c.normalKexecs + c.crashKexecs, normalKexecs: c.normalKexecs, crashKexecs: c.crashKexecs,
            sectorsChecked: c.sectorsChecked, checksumMismatches: c.checksumMismatches, invariantChecks: c.invariantChecks,
            invariantFailures: c.invariantFailures,
            isolationViolations: max(0, (vm?.machine.memory.violationCount ?? 0) - c.explainedViolations),
            linuxFindings: c.findingFrames.count + c.explainedViolations + c.consequences,
            linuxFindingSamples: c.consequenceSamples,
            operationErrors: c.operationErrors, requeues: c.requeues, calls: vm?.machine.trace.counts ?? [:], wallSeconds: seconds,
            failures: c.failures, linux: configuration.linux.rawValue, disk: configuration.disk.rawValue,
            hang: vm?.kernel?.swiotlbHang)
    }
}
