import PowerABI
import Testing

@_spi(Firmware) @testable import PEFMachine

/// Several vCPUs calling firmware and touching memory at once: counts add up, nothing
/// is lost, and the thread sanitizer has something to look at
/// (`swift test --sanitize=thread --filter PEFMachineTests`).
@Suite struct ConcurrencyTests {
    @Test func vcpusCallAndCopyConcurrently() async throws {
        let uv = RecordingUltravisor()
        let hv = RecordingHypervisor()
        let many = try Machine(configuration: MachineConfiguration(memoryBytes: 64 * page, processorCount: 4, seed: 3))
        many.attach(ultravisor: uv)
        many.attach(hypervisor: hv)
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<4 {
                group.addTask {
                    let vcpu = many.processors[index]
                    if index % 2 == 1 { vcpu.update { $0.msr = $0.msr.union(.secure) } }
                    for i in 0..<200 {
                        vcpu.hypercall(.cede, [UInt64(i)])
                        let base = UInt64(index) * 8 * page
                        try? many.memory.write(.hypervisor, at: .gpa(base + UInt64(i % 64) * 64), bytes: [UInt8(i & 0xFF)])
                        try? many.memory.copy(.hypervisor, from: .gpa(base), to: .gpa(base + 4 * page), count: 4096)
                        _ = many.random.next()
                        if i % 50 == 0 { many.memory.setState(.shared, frames: (UInt64(index) * 8 + 7)..<(UInt64(index) * 8 + 8)) }
                    }
                }
            }
        }
        #expect(many.trace.count(of: "H_CEDE") == 800)
        #expect(many.trace.records.count == 800)
        #expect(Set(many.trace.records.map(\.sequence)).count == 800)
        #expect(hv.calls.withLock { $0.count } == 400)
        #expect(uv.secureHypercalls.withLock { $0.count } == 400)
        #expect(many.clock.now == 800 * many.configuration.costs.hypercall)
    }
}
