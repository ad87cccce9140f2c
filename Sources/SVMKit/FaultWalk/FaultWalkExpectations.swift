/// The outcomes Linux is expected to give under a fault, each with the real code that
/// makes it so: what makes a fault walk's row explained. A row these rules do not
/// explain is new, and fails the walk (`svmkit faults walk` exits 1): either SVMKit's
/// guest departs from Linux, or the walk found a behaviour nobody has looked at yet;
/// once it is understood, a rule citing the kernel goes here.
public enum FaultWalkExpectations {
    /// The rules for Linux 6.12 on the documented firmware.
    public static let linux: [FaultWalkExpectation] = [
        FaultWalkExpectation(
            "handled", outcome: .handled,
            linux: "the call's failure had no visible effect, or Linux's caller retried or tolerated it"),
        FaultWalkExpectation(
            "UV_ESM failed: os-term", outcome: .terminated, line: "os-term \"Switch to secure mode failed.\"",
            linux: "arch/powerpc/kernel/prom_init.c: setup_secure_guest (6.12): a non-zero UV_ESM return is printed "
                + "and prom_rtas_os_term(\"Switch to secure mode failed.\") ends the partition"),
        FaultWalkExpectation(
            "share status ignored: SWIOTLB pool", outcome: .damaged, line: "swiotlb_update_mem_attributes ignored",
            linux: "kernel/dma/swiotlb.c: swiotlb_update_mem_attributes (6.12) ignores set_memory_decrypted()'s return"),
        FaultWalkExpectation(
            "share status ignored: LPPACA", outcome: .damaged, line: "alloc_shared_lppaca ignored",
            linux: "arch/powerpc/kernel/paca.c: alloc_shared_lppaca (6.12) ignores uv_share_page()'s return"),
        FaultWalkExpectation(
            "share status ignored: DTL", outcome: .damaged, line: "dtl_cache_ctor ignored",
            linux: "arch/powerpc/platforms/pseries/svm.c: dtl_cache_ctor (6.12) ignores uv_share_page()'s return"),
        FaultWalkExpectation(
            "consequence of an ignored share status", outcome: .damaged, line: "", because: "as Linux does",
            linux: "the hypervisor then touches a page Linux believes shared: KVM pages it out "
                + "(arch/powerpc/kvm/book3s_hv_uvmem.c: kvmppc_uvmem_migrate_to_ram, 6.12) and reads ciphertext; "
                + "what follows (a refused registration, ciphertext on the disk) is that status's damage"),
        FaultWalkExpectation(
            "consequence of a share set_memory_decrypted() ignored", outcome: .damaged, line: "",
            because: "Linux finding: hypervisor touched a page Linux believes shared",
            linux: "arch/powerpc/platforms/pseries/svm.c: set_memory_decrypted (6.12) returns 0 whatever "
                + "uv_share_page() answered, so kernel/dma/direct.c: dma_direct_alloc (6.12) hands the device a page "
                + "the Ultravisor never shared; KVM pages it out when the device touches it and reads ciphertext"),
        FaultWalkExpectation(
            "registration refused: warned, boot goes on", outcome: .damaged, line: "registration failed at",
            linux: "arch/powerpc/platforms/pseries/lpar.c: vpa_init (6.12) prints \"WARNING: VPA registration for cpu "
                + "%d … failed\" and returns; arch/powerpc/platforms/pseries/setup.c: alloc_dispatch_logs (6.12) "
                + "registers the boot CPU's DTL anyway and warns when that fails (PAPR: no DTL without a VPA)"),
        FaultWalkExpectation(
            "start-cpu failed: the CPU stays down", outcome: .damaged, line: "is not running: the kernel could not start it",
            linux: "arch/powerpc/platforms/pseries/smp.c: smp_startup_cpu (6.12) prints \"start-cpu failed\" and "
                + "arch/powerpc/kernel/smp.c: __cpu_up (6.12) gives up with \"Processor %u is stuck.\"; boot goes on"),
        FaultWalkExpectation(
            "failed hypercall fails the block request", outcome: .damaged, line: "block round trip: failed: ",
            because: "failed with H_",
            linux: "arch/powerpc/include/asm/vio.h: vio_enable_interrupts (6.12) returns H_VIO_SIGNAL's status and the "
                + "driver fails the request with it: the I/O fails, reported, nothing is silently corrupted"),
    ]

    /// Which rules of `rules` explain `row`, by name (joined with `; `), or nil.
    public static func explain(_ row: FaultWalkRow, using rules: [FaultWalkExpectation]) -> String? {
        switch row.outcome {
        case .invariantBroken: return nil
        case .handled: return rules.first { $0.outcome == .handled }?.name
        case .terminated:
            guard let reason = row.diagnosis.first else { return nil }
            return rules.first { $0.explains(line: reason, of: row) }?.name
        case .damaged:
            var names: [String] = []
            for line in row.diagnosis {
                let text = stripKexecPrefix(line)
                guard let rule = rules.first(where: { $0.explains(line: text, of: row) }) else { return nil }
                if !names.contains(rule.name) { names.append(rule.name) }
            }
            return names.isEmpty ? nil : names.joined(separator: "; ")
        }
    }

    /// A fault the kernel before a kexec recorded is carried as
    /// `before kexec (normal): …`; the rule is about what follows.
    static func stripKexecPrefix(_ line: String) -> String {
        guard line.hasPrefix("before kexec ("), let end = line.range(of: "): ") else { return line }
        return String(line[end.upperBound...])
    }
}
