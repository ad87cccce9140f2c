import Testing

/// `Examples/VirtioBlockOverSWIOTLB`: a guest driver and a hypervisor disk moving data
/// through the bounce pool.
@Suite("Example: VirtioBlockOverSWIOTLB")
struct VirtioBlockOverSWIOTLBExampleTests {
    @Test("On a secure guest every mapping bounces through the shared pool and the bytes arrive intact")
    func secure() async throws {
        let r = try await ExampleRunner.run("VirtioBlockOverSWIOTLB", ["--megabytes", "2", "--memory", "512"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("booted secure (MSR(S) = 1)"))
        // swiotlb=4096 (the example's default): 4096 slots of 2 KiB, shared (linux-guest-facts §1.3, §2.1).
        #expect(r.stdout.contains("4096 slots of 2048 bytes"), "\(r)")
        #expect(r.stdout.contains("(page SECURE)"), "the driver's buffers stay secure: \(r)")
        #expect(r.stdout.contains("queue at 0x") && r.stdout.contains("(page SHARED)"), "the dma-coherent queue is shared")
        #expect(r.stdout.contains("disk contents match"))
        #expect(r.stdout.contains("every byte matches"))
        // 2 MiB each way in 256 KiB transfers (one segment each): 16 mappings, all bounced.
        #expect(r.stdout.contains("dma_map_single: 16 mapping(s), 16 bounced, 4194304 bytes bounced"), "\(r)")
        #expect(r.stdout.contains("ledger clean; 0 isolation violation(s)"))
    }

    @Test("On a normal guest the device reaches the buffers directly: nothing bounces")
    func normal() async throws {
        let r = try await ExampleRunner.run(
            "VirtioBlockOverSWIOTLB", ["--megabytes", "1", "--memory", "512", "--cmdline", "svm=off console=hvc0"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("no SWIOTLB pool"), "\(r)")
        #expect(r.stdout.contains("0 bounced, 0 bytes bounced"), "\(r)")
        #expect(r.stdout.contains("moved directly"))
    }

    @Test("Out-of-range sizes are refused with a usage message")
    func badSize() async throws {
        let r = try await ExampleRunner.run("VirtioBlockOverSWIOTLB", ["--megabytes", "0"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--megabytes must be 1 to 64"), "\(r)")
    }
}
