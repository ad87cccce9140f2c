import DeviceTree
import ESM
@_spi(Firmware) import PEFMachine
import PowerABI

extension Ultravisor {
    /// `UV_ESM` (0xF110): r4 = kbase, r5 = FDT address; the whole flow of
    /// reference/ultravisor-facts.md §2 (`syscall_ultracall_esm_svm()` and
    /// `uv_esm_svm()` in `open-power/ultravisor core/uvcall.c`):
    ///
    /// 1. Entry checks, answered at once in r3 (§2.1): kbase = 0 → `U_P2`, fdt = 0 →
    ///    `U_P3`, LPIDR = 0 or a caller with MSR(HV) or MSR(PR) → `U_PERMISSION`, an SVM
    ///    that already exists for the LPID → `U_RETRY` (so a second `UV_ESM` gets
    ///    `U_RETRY`).
    /// 2. `H_SVM_INIT_START`; the hypervisor registers the memory slots (§2.3).
    /// 3. `svm_fdt_init` (``esmInitializeDeviceTree(_:)``): FDT page-in, header, 1 MiB
    ///    limit, RMO top, and the reservations of `svm_esmb`, `svm_rtas` and `svm_tss`
    ///    with their implicit shares (§2.5).
    /// 4. `svm_esm_blob_chk` (``esmCheckBlob(_:)``): RTAS area, initrd, bootargs, blob,
    ///    attachments, `lockbox-1` through the TPM, digests (§2.6). With the `warn`
    ///    policy a failure here pages every memory slot in and logs "CONTINUING INSPITE
    ///    OF ESM CHECK FAILURE." as the firmware does (§0); with `enforce` it aborts.
    /// 5. `H_SVM_INIT_DONE`, then `find_boot_vcpu`: vcpus.max ≠ 0 and the FDT's
    ///    `boot_cpuid_phys` < vcpus.max (§2.8).
    /// 6. Commit: MSR = the caller's | S, HV and EE cleared; PC = kbase; r3 = fdt, r4 =
    ///    kbase, r5 = 0. Then `svm_fdt_finalize`: the working copy is packed and written
    ///    over the guest's FDT, which now carries the new reserve entries; if that
    ///    fails the secure VM is terminated with `ibm,os-term` (§2.9).
    ///
    /// Any failure from step 2 to 5 takes the abort path (§2.9): `H_SVM_INIT_ABORT`;
    /// the hypervisor pages everything back and calls `UV_SVM_TERMINATE`; the guest
    /// finds `H_PARAMETER` in r3, resumes after its `sc 2` as a normal VM with nothing
    /// shared, and its FDT untouched.
    ///
    /// Unlike the firmware, every outcome carries its exact cause: in the call's trace
    /// notes and in the ``ESMReport`` that ``esmReport(lpid:)`` returns afterwards.
    /// Pages the Ultravisor does not touch are never copied: the hypervisor's
    /// `H_SVM_INIT_DONE` hands them over by a state change only.
    func enterSecureMode(_ call: inout FirmwareCall, on machine: Machine) {
        let started = ContinuousClock.now
        let simulatedStart = machine.clock.now
        let kbase = call[4]
        let fdt = call[5]
        let lpid = lpid(of: call, on: machine)
        let policy = configuration.esmCheckPolicy

        func report(
            _ outcome: ESMReport.Outcome, status: Int64, run: ESMRun?, failure: ESMFailure?, pagedIn: Int = 0
        ) -> ESMReport {
            ESMReport(
                lpid: lpid, kernelBase: kbase, fdtAddress: fdt, policy: policy, outcome: outcome, status: status,
                failedStep: failure?.step, cause: failure?.cause, checks: run?.checks ?? [],
                reservedRegions: run?.regions ?? [], pseudoShared: run?.pseudoShared ?? [], blobSource: run?.blobSource,
                attachments: run?.attachments ?? [],
                log: run?.log ?? failure.map { ["UV_ESM refused at \($0.step): \($0.cause)"] } ?? [],
                pagesPagedIn: pagedIn, simulatedNanoseconds: machine.clock.now &- simulatedStart,
                wallSeconds: Self.seconds(ContinuousClock.now - started))
        }
        func refuse(_ status: UltravisorStatus, _ step: ESMStep, _ cause: String) {
            call.notes.append("UV_ESM refused (\(status.name)) at \(step): \(cause)")
            call.finish(status)
            store(report(.refused, status: status.rawValue, run: nil, failure: ESMFailure(step, cause)))
        }

        // §2.1 entry checks.
        guard kbase != 0 else { return refuse(.p2, .entryChecks, "kbase (r4) is 0") }
        guard fdt != 0 else { return refuse(.p3, .entryChecks, "the FDT address (r5) is 0") }
        guard lpid != 0 else { return refuse(.permission, .entryChecks, "UV_ESM called by an unauthorized LPID 0") }
        let privilege = call.caller.privilege
        guard !privilege.isHypervisor, !privilege.isProblem else {
            return refuse(.permission, .entryChecks, "UV_ESM called in non-supervisor mode (\(call.caller))")
        }
        let existing = lifecycle(of: lpid)
        guard createSVM(lpid: lpid, on: machine) == .success else {
            return refuse(
                .retry, .createSVM,
                "an SVM for LPID \(lpid) already exists (\(existing?.rawValue ?? "being created")): create_svm gives U_BUSY, the caller sees U_RETRY")
        }

        let context = UltravisorContext(call: call, machine: machine, lpid: lpid)
        var run = ESMRun(context: context, kernelBase: kbase, fdtAddress: fdt, policy: policy)
        run.note("UV_ESM(kbase \(ESMRun.hex(kbase)), fdt \(ESMRun.hex(fdt))), policy \(policy.rawValue)")
        var continuedPast: ESMFailure?
        var pagedIn = 0
        do throws(ESMFailure) {
            let start = startInitialization(context)
            guard start == .success else { throw ESMFailure(.initStart, "H_SVM_INIT_START answered \(start.name)") }
            run.note("H_SVM_INIT_START: \(memorySlots(of: lpid).count) memory slot(s) registered")
            try esmInitializeDeviceTree(&run)
            do throws(ESMFailure) {
                try esmCheckBlob(&run)
                run.note("ESM blob checks passed")
            } catch {
                guard policy == .warn else { throw error }
                run.note("svm_esm_blob_chk failed at \(error.step): \(error.cause)")
                try esmPopulate(&run)
                run.note("CONTINUING INSPITE OF ESM CHECK FAILURE.")
                run.note("MAKE SURE THIS IS NOT RUNNING ON A PRODUCTION SYSTEM")
                continuedPast = error
            }
            pagedIn = trackedPageIns(of: lpid)
            let done = finishInitialization(context)
            guard done == .success else { throw ESMFailure(.initDone, "H_SVM_INIT_DONE answered \(done.name)") }
            let boot = run.working.bootCPUIDPhys
            guard run.maximumProcessors != 0, boot < run.maximumProcessors else {
                throw ESMFailure(
                    .bootVCPU,
                    "find_boot_vcpu: the FDT's boot_cpuid_phys \(boot) is not below vcpus.max \(run.maximumProcessors)")
            }
        } catch {
            if pagedIn == 0 { pagedIn = trackedPageIns(of: lpid) }
            run.note("UV_ESM failed at \(error.step): \(error.cause)")
            call.notes += run.log
            abortInitialization(context, call: &call)
            run.note("H_SVM_INIT_ABORT: the guest's UV_ESM returns \(HypervisorStatus(register: call.registers.r3).name)")
            store(report(.aborted, status: Int64(bitPattern: call.registers.r3), run: run, failure: error, pagedIn: pagedIn))
            return
        }

        commit(context, call: &call, entry: kbase, registers: [3: fdt, 4: kbase, 5: 0])
        run.note("committed: the vCPU enters \(ESMRun.hex(kbase)) in secure mode, r3 = \(ESMRun.hex(fdt)), r4 = \(ESMRun.hex(kbase)), r5 = 0")
        do {
            try run.working.pack()
            try machine.memory.write(.ultravisor, at: GuestPhysicalAddress(rawValue: fdt), bytes: run.working.bytes, purpose: "FDT write-back")
            run.note("svm_fdt_finalize: \(run.working.bytes.count)-byte FDT written back with \(run.working.reserveMap.count) reserve entries")
        } catch {
            let failure = ESMFailure(.fdtWriteBack, "svm_fdt_finalize: the FDT could not be written back: \(error) (U_RETRY; the VM is secure, so it is terminated)")
            run.note(failure.cause)
            call.notes += run.log
            call.finish(UltravisorStatus.retry)
            initiateKill(context, reason: failure.cause)
            store(report(.terminated, status: UltravisorStatus.retry.rawValue, run: run, failure: failure, pagedIn: pagedIn))
            return
        }
        call.notes += run.log
        store(
            report(
                continuedPast == nil ? .secure : .secureDespiteFailedCheck, status: 0, run: run, failure: continuedPast,
                pagedIn: pagedIn))
    }

    /// `svm_populate_kernel()` → `page_in_from_hv()` (§0): with the `warn` policy after
    /// a failed check, every page of every memory slot is paged in before going on.
    func esmPopulate(_ run: inout ESMRun) throws(ESMFailure) {
        var notes: [String] = []
        for slot in memorySlots(of: run.context.lpid) {
            guard pageIn(run.context, address: slot.start, length: slot.size, notes: &notes) else {
                throw ESMFailure(.populate, "page_in_from_hv: \(slot) could not be paged in: " + notes.joined(separator: "; "))
            }
        }
        run.note("svm_populate_kernel: every memory slot paged in")
    }

    private func store(_ report: ESMReport) {
        state.withLock { $0.esmReports[report.lpid, default: []].append(report) }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
