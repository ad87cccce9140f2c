import PowerABI
import Testing

@_spi(Firmware) @testable import PEFMachine

@Suite struct FaultPlanTests {
    @Test func parsesTheExampleSpec() throws {
        let rules = try FaultSpecParser.parse(
            "UV_SHARE_PAGE@2=U_P2, uv:H_SVM_PAGE_IN@*=H_BUSY,UV_SHARE_PAGE@1=U_BUSY:after=3,H_RTAS@2-4=-3,"
                + "guest:UV_UNSHARE_PAGE@5+=0x0,H_TPM_COMM@25%=H_RESOURCE")
        #expect(
            rules == [
                FaultRule(opcode: .ultracall(.sharePage), trigger: .nth(2), action: .status(-55)),
                FaultRule(opcode: .hypercall(.svmPageIn), caller: .ultravisor, trigger: .every, action: .status(1)),
                FaultRule(opcode: .ultracall(.sharePage), trigger: .nth(1), action: .partial(pages: 3, status: -2)),
                FaultRule(opcode: .hypercall(.rtas), trigger: .range(2, 4), action: .status(-3)),
                FaultRule(opcode: .ultracall(.unsharePage), caller: .guest, trigger: .from(5), action: .status(0)),
                FaultRule(opcode: .hypercall(.tpmComm), trigger: .probability(0.25), action: .status(-16)),
            ])
        // The description is the textual form again.
        for rule in rules { #expect(try FaultSpecParser.parseRule(rule.description) == rule) }
        #expect(try FaultSpecParser.parse("  ").isEmpty)
        #expect(try FaultSpecParser.parse("UV_0xF1FF@1=U_P2") == [
            FaultRule(opcode: .ultracall(Ultracall(rawValue: 0xF1FF)), trigger: .nth(1), action: .status(-55))
        ])
    }

    @Test(arguments: [
        ("UV_SHARE_PAGE@1=U_P2,", FaultSpecError.Problem.emptyRule),
        ("UV_SHARE_PAGE=U_P2", .missingTrigger),
        ("UV_SHARE_PAGE@1", .missingAction),
        ("kernel:UV_SHARE_PAGE@1=U_P2", .unknownCaller("kernel")),
        ("UV_SHARE@1=U_P2", .unknownOpcode("UV_SHARE")),
        ("UV_SHARE_PAGE@x=U_P2", .badTrigger("x")),
        ("UV_SHARE_PAGE@3-1=U_P2", .badTrigger("3-1")),
        ("UV_SHARE_PAGE@0=U_P2", .zeroOccurrence),
        ("UV_SHARE_PAGE@150%=U_P2", .badProbability("150%")),
        ("UV_SHARE_PAGE@1=U_NOPE", .unknownStatus("U_NOPE")),
        ("UV_SHARE_PAGE@1=U_P2:after=x", .badPartial("after=x")),
        ("UV_PAGE_IN@1=U_P2:after=2", .badPartial("after=2")),
    ])
    func rejectsBadSpecs(spec: String, problem: FaultSpecError.Problem) {
        #expect(throws: FaultSpecError.self) { _ = try FaultSpecParser.parse(spec) }
        do {
            _ = try FaultSpecParser.parse(spec)
        } catch {
            #expect(error.problem == problem)
            #expect(error.description.contains("fault rule"))
        }
    }

    @Test func triggersCountMatchingCallsOnly() {
        let plan = FaultPlan(rules: [
            FaultRule(opcode: .hypercall(.rtas), caller: .guest, trigger: .range(2, 3), action: .status(-1))
        ])
        let guest = Caller(kind: .guest, vcpu: 0, msr: .guestKernel)
        let rtas = Hypercall.rtas.rawValue
        // Another caller, another level, another opcode: not counted.
        #expect(plan.evaluate(level: .sc1, number: rtas, caller: .ultravisor(vcpu: 0)) == nil)
        #expect(plan.evaluate(level: .sc2, number: rtas, caller: guest) == nil)
        #expect(plan.evaluate(level: .sc1, number: 0xE0, caller: guest) == nil)
        let fired = (1...4).map { _ in plan.evaluate(level: .sc1, number: rtas, caller: guest) != nil }
        #expect(fired == [false, true, true, false])
    }

    @Test func probabilityIsSeeded() {
        func run(seed: UInt64) -> [Bool] {
            let plan = FaultPlan(
                rules: [FaultRule(opcode: .ultracall(.pageIn), trigger: .probability(0.5), action: .status(-55))],
                seed: seed)
            return (0..<64).map { _ in
                plan.evaluate(level: .sc2, number: Ultracall.pageIn.rawValue, caller: .hypervisor()) != nil
            }
        }
        #expect(run(seed: 1) == run(seed: 1))
        #expect(run(seed: 1) != run(seed: 2))
        let hits = run(seed: 3).filter { $0 }.count
        #expect(hits > 16 && hits < 48)
    }
}

@Suite struct TraceAndRandomTests {
    @Test func splitMixSeedingIsTheReferenceAlgorithm() {
        // SplitMix64's first outputs for seed 0 (Vigna's reference implementation).
        var x: UInt64 = 0
        #expect(Xoshiro256StarStar.splitMix64(&x) == 0xE220_A839_7B1D_CDAF)
        #expect(Xoshiro256StarStar.splitMix64(&x) == 0x6E78_9E6A_A1B9_65F4)
        var g = Xoshiro256StarStar(seed: 0)
        var h = Xoshiro256StarStar(seed: 0)
        #expect((0..<8).map { _ in g.next() } == (0..<8).map { _ in h.next() })
        var other = Xoshiro256StarStar(seed: 1)
        var again = Xoshiro256StarStar(seed: 0)
        #expect(other.next() != again.next())
        let r = DeterministicRandom(seed: 5)
        #expect(r.bytes(13).count == 13)
        #expect(r.next(below: 10) < 10)
        #expect(r.nextUnit() < 1)
    }

    @Test func jsonLinesAreOneObjectPerCall() throws {
        let (machine, _, _) = try makeMachine()
        let vcpu = machine.bootProcessor
        vcpu.hypercall(.putTermChar, [0, 2, 0x4142 << 48])
        vcpu.ultracall(.sharePage, [3, 1])
        machine.traceEvent("NOTE", caller: .hypervisor(), note: "a \"quoted\"\nline")
        let lines = machine.trace.jsonLines().split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["opcode"] != nil && object["start_ns"] != nil && object["S"] != nil)
        }
        #expect(lines[1].contains("\"opcode\":\"UV_SHARE_PAGE\""))
        #expect(lines[1].contains("\"status\":\"U_PERMISSION\""))
        #expect(lines[0].contains("\"args\":[\"0x0\",\"0x2\",\"0x4142000000000000\""))
        #expect(machine.trace.counts == ["H_PUT_TERM_CHAR": 1, "UV_SHARE_PAGE": 1])
    }

    @Test func countsSurviveWithoutDetail() throws {
        let machine = try Machine(
            configuration: MachineConfiguration(memoryBytes: page, processorCount: 1, traceRecordsDetail: false))
        for _ in 0..<10 { machine.bootProcessor.hypercall(.cede) }
        #expect(machine.trace.records.isEmpty)
        #expect(machine.trace.count(of: "H_CEDE") == 10)
        let limited = Trace(recordsDetail: true, recordLimit: 3)
        for i in 0..<5 {
            _ = limited.begin(level: .sc1, caller: .hypervisor(), depth: 0, number: 0xE0, arguments: [], time: UInt64(i))
        }
        #expect(limited.records.count == 3)
        #expect(limited.droppedRecords == 2)
        #expect(limited.totalCalls == 5)
    }

    @Test func aSinkSeesEveryRecordWithoutKeepingThem() throws {
        let machine = try Machine(
            configuration: MachineConfiguration(memoryBytes: page, processorCount: 1, traceRecordsDetail: false))
        let lines = Mutex<[String]>([])
        machine.trace.setSink { record in lines.withLock { $0.append(record.jsonLine) } }
        let hv = RecordingHypervisor()
        machine.attach(hypervisor: hv)
        for _ in 0..<5 { machine.bootProcessor.hypercall(.cede) }
        machine.traceEvent("NOTE", caller: .hypervisor(), note: "x")
        #expect(machine.trace.records.isEmpty)
        let streamed = lines.withLock { $0 }
        #expect(streamed.count == 6)
        #expect(streamed[0].contains("\"opcode\":\"H_CEDE\"") && streamed[0].contains("\"status\":\"H_SUCCESS\""))
        machine.trace.setSink(nil)
        machine.bootProcessor.hypercall(.cede)
        #expect(lines.withLock { $0.count } == 6)
    }

    @Test func clockAdvancesByTheCostModel() throws {
        let (machine, _, _) = try makeMachine()
        machine.bootProcessor.hypercall(.cede)
        #expect(machine.clock.now == machine.configuration.costs.hypercall)
        let record = try #require(machine.trace.records.first)
        #expect(record.endTime - record.startTime == machine.configuration.costs.hypercall)
    }
}

import Foundation
import Synchronization
