import PowerABI
import Testing

@_spi(Firmware) @testable import PEFMachine

/// The fault walk's building blocks: the catalogue of documented failures and the
/// call sites read from a trace (issue 8 item 2).
@Suite("Fault catalogue and call sites")
struct FaultCallSiteTests {
    @Test("Each opcode's failures are the documented statuses, then BUSY; UV_RETURN has none")
    func catalogue() {
        let share = FaultCatalog.failures(of: .ultracall(.sharePage)).map(\.status)
        // reference/ultravisor-facts.md §5.2 (U_P2), §1.1 (U_PERMISSION, U_RETRY); U_BUSY = -2.
        #expect(share == [-55, -11, -5, -2])
        let pageIn = FaultCatalog.failures(of: .ultracall(.pageIn)).map(\.status)
        for s in [UltravisorStatus.p2, .p3, .p4, .p5, .parameter, .state, .badMode] { #expect(pageIn.contains(s.rawValue)) }
        let esm = FaultCatalog.failures(of: .ultracall(.enterSecureMode)).map(\.status)
        #expect(esm == [-55, -56, -11, -5, -4, -2])
        #expect(FaultCatalog.failures(of: .ultracall(.return)).isEmpty)
        let svmPageIn = FaultCatalog.failures(of: .hypercall(.svmPageIn)).map(\.status)
        // §1.5: H_PARAMETER (bad gpa), H_P2 (flags), H_P3 (order); H_BUSY = 1.
        #expect(svmPageIn == [-4, -55, -56, -67, 1])
        #expect(FaultCatalog.failures(of: .hypercall(.tpmComm)).map(\.status).contains(3), "H_NOT_AVAILABLE")
        for h in Hypercall.allKnown {
            #expect(FaultCatalog.failures(of: .hypercall(h)).last == .status(HypervisorStatus.busy.rawValue))
        }
    }

    @Test("Part-way progress stops after 0, 1, half and all but one page, with U_P2 and U_BUSY")
    func partial() {
        #expect(FaultCatalog.partialProgress(pageCount: 1024).count == 8)
        #expect(FaultCatalog.partialProgress(pageCount: 1024).contains(.partial(pages: 1023, status: -55)))
        #expect(FaultCatalog.partialProgress(pageCount: 1) == [.partial(pages: 0, status: -55), .partial(pages: 0, status: -2)])
        #expect(FaultCatalog.partialProgress(pageCount: 0).isEmpty)
        #expect(FaultCatalog.takesPartialProgress(.ultracall(.unsharePage)))
        #expect(!FaultCatalog.takesPartialProgress(.ultracall(.unshareAllPages)))
    }

    @Test("Sites are numbered per caller and opcode as the fault plan counts, and a site's rule hits exactly it")
    func numbering() throws {
        let machine = try Machine(configuration: MachineConfiguration(memoryBytes: 1 << 24, processorCount: 1))
        let hv = Caller.hypervisor()
        let uv = Caller.ultravisor(vcpu: 0)
        _ = machine.ultracall(.pageIn, [1], from: hv, depth: 0)
        _ = machine.hypercall(.svmPageIn, [2], from: uv, depth: 0)
        _ = machine.ultracall(.pageIn, [3], from: hv, depth: 1)
        _ = machine.hypercall(.svmPageIn, [4], from: .hypervisor(), depth: 0)
        _ = machine.ultracall(.pageIn, [5], from: hv, depth: 0)
        let sites = FaultCallSite.sites(in: machine.trace.records)
        #expect(sites.map(\.description) == [
            "hv:UV_PAGE_IN#1", "uv:H_SVM_PAGE_IN#1", "hv:UV_PAGE_IN#2 (H_SVM_PAGE_IN#1)", "hv:H_SVM_PAGE_IN#1",
            "hv:UV_PAGE_IN#3",
        ])
        #expect(sites[2].stratum == "hypervisor: H_SVM_PAGE_IN#1 > UV_PAGE_IN")
        #expect(sites[2].arguments.first == 3)

        let replay = try Machine(
            configuration: MachineConfiguration(memoryBytes: 1 << 24, processorCount: 1, faults: [sites[4].rule(.status(-55))]))
        for (i, args) in [[1], [3], [5]].enumerated() {
            let r = replay.ultracall(.pageIn, args.map(UInt64.init), from: hv, depth: 0)
            #expect((Int64(bitPattern: r.registers.r3) == -55) == (i == 2))
        }
        #expect(replay.faults.injections.map(\.occurrence) == [3])
    }

    @Test("The sample keeps small strata whole and takes first, last and a seeded draw from large ones")
    func sample() {
        let big = (1...100).map {
            FaultCallSite(caller: .hypervisor, opcode: .ultracall(.pageIn), occurrence: $0, context: ["UV_ESM#1"], arguments: [])
        }
        let small = (1...3).map {
            FaultCallSite(caller: .guest, opcode: .ultracall(.sharePage), occurrence: $0, context: [], arguments: [])
        }
        let a = FaultCallSite.sample(big + small, perStratum: 8, seed: 1)
        #expect(a.count == 11)
        #expect(a.contains(big[0]) && a.contains(big[99]))
        #expect(small.allSatisfy(a.contains))
        #expect(FaultCallSite.sample(big + small, perStratum: 8, seed: 1) == a)
        #expect(FaultCallSite.sample(big + small, perStratum: 8, seed: 2) != a)
    }
}
