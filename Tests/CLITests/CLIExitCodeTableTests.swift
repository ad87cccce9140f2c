import Foundation
import Testing

/// Issue 19 item 3: one exit-code contract for every subcommand: 0 success, 1 the job
/// found a failure, 2 bad input (the message names the option), 64 command-line syntax.
///
/// One row per subcommand × option with a bad value. A new subcommand or option adds
/// its rows to ``rows`` (keep them grouped by subcommand); every row must fail before
/// any long work starts.
@Suite("svmkit: exit codes, one row per subcommand and option")
struct CLIExitCodeTableTests {
    /// `svmkit arguments…` must exit `status` with `names` in its standard error.
    struct Row: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var status: Int32
        var names: String
        init(_ arguments: [String], _ status: Int32, _ names: String) {
            self.arguments = arguments
            self.status = status
            self.names = names
        }
        var testDescription: String {
            arguments.map { $0.count > 40 ? String($0.prefix(20)) + "…(\($0.count))" : $0 }.joined(separator: " ") + " → \(status)"
        }
    }

    static let missing = "/nonexistent/svmkit-missing"

    static let rows: [Row] = [
        // syntax (64)
        Row(["no-such-command"], 64, "no-such-command"),
        Row(["boot", "--no-such-option"], 64, "--no-such-option"),
        Row(["boot", "--cmdline"], 64, "--cmdline"),
        Row(["boot", "--cpus", "abc"], 64, "--cpus"),
        Row(["boot", "--seed", "x"], 64, "--seed"),
        Row(["fdt", "pseries", "--format", "xml"], 64, "--format"),
        Row(["bench", "swiotlb", "--seconds", "abc"], 64, "--seconds"),
        Row(["soak", "--cpus", "many"], 64, "--cpus"),

        // boot (2)
        Row(["boot", "--memory", "3X"], 2, "--memory"),
        Row(["boot", "--memory", "100M"], 2, "--memory"),
        Row(["boot", "--cpus", "0"], 2, "--cpus"),
        Row(["boot", "--cpus", "100000"], 2, "--cpus"),
        Row(["boot", "--kbase", "0x1234"], 2, "--kbase"),
        Row(["boot", "--kbase", "zz"], 2, "--kbase"),
        Row(["boot", "--kbase", "0xFFFFFFFFFFFF0000"], 2, "--kbase"),
        Row(["boot", "--fdt", missing], 2, "--fdt"),
        Row(["boot", "--kernel", missing], 2, "--kernel"),
        Row(["boot", "--initrd", missing], 2, "--initrd"),
        Row(["boot", "--esm", missing], 2, "--esm"),
        Row(["boot", "--esm", "/dev/null"], 2, "--esm"),
        Row(["boot", "--tpm-key", missing], 2, "--tpm-key"),
        Row(["boot", "--tpm", "bogus"], 2, "--tpm"),
        Row(["boot", "--tpm-dir", "/tmp"], 2, "--tpm-dir"),
        Row(["boot", "--tpm", "swtpm:127.0.0.1:2321", "--tpm-dir", missing], 2, "--tpm-dir"),
        Row(["boot", "--tpm", "swtpm:127.0.0.1:2321", "--tpm-dir", "/tmp", "--tpm-timeout", "0"], 2, "--tpm-timeout"),
        Row(["boot", "--esm-check", "maybe"], 2, "--esm-check"),
        Row(["boot", "--trace", missing], 2, "--trace"),
        Row(["boot", "--timeline", missing], 2, "--timeline"),
        Row(["boot", "--memory-map", missing], 2, "--memory-map"),
        Row(["boot", "--swiotlb-trace", missing], 2, "--swiotlb-trace"),
        Row(["boot", "--kexec", "sideways"], 2, "--kexec"),
        Row(["boot", "--faults", "garbage"], 2, "--faults"),
        Row(["boot", "--bug", "no-such-bug"], 2, "--bug"),

        // fdt (2)
        Row(["fdt", "dump", missing], 2, missing),
        Row(["fdt", "dump", "/dev/null"], 2, "/dev/null"),
        Row(["fdt", "get", missing, "/"], 2, missing),
        Row(["fdt", "pseries", "--memory", "3X"], 2, "--memory"),
        Row(["fdt", "pseries", "--cpus", "0"], 2, "--cpus"),
        Row(["fdt", "pseries", "--threads", "3"], 2, "--threads"),
        Row(["fdt", "pseries", "--initrd-start", "0x1000"], 2, "--initrd-start"),
        Row(["fdt", "pseries", "--initrd-start", "0x1000", "--initrd-end", "1Q"], 2, "--initrd-end"),
        Row(["fdt", "pseries", "--memory", "1G", "--initrd-start", "0x80000000", "--initrd-end", "0x80001000"], 2, "--initrd-start"),
        Row(["fdt", "pseries", "--memory", "1G", "--kernel-size", "2G"], 2, "--kernel-size"),
        Row(["fdt", "pseries", "--memory", "1G", "--kernel-size", "1M", "--kernel-address", "0xFFFFFFFFFFFF0000"], 2, "--kernel-address"),
        Row(["fdt", "pseries", "--memory", "1G", "--rtas-base", "0x7FFFFFF0"], 2, "--rtas-base"),
        Row(["fdt", "pseries", "-o", missing + "/g.dtb"], 2, "-o"),

        // esm (2)
        Row(["esm", "create", "--origin", missing, "-o", "/tmp/svmkit-unused.dtb"], 2, "--origin"),
        Row(["esm", "create", "--origin", "/dev/null", "-o", "/tmp/svmkit-unused.dtb"], 2, "--origin"),
        Row(["esm", "create", "--origin", missing, "-o", missing + "/b.dtb"], 2, "-o"),
        Row(["esm", "inspect", missing], 2, missing),
        Row(["esm", "inspect", "/dev/null"], 2, "/dev/null"),
        Row(["esm", "extract", missing, "--key", missing, "--name", "rootd"], 2, missing),
        Row(["esm", "verify", "--kernel", missing, "--initrd", missing, "--cmdline", "svm=on", "--key", missing], 2, "--kernel"),
        Row(["esm", "authorize", missing, "--pubkey", missing, "--key", missing], 2, missing),
        Row(["esm", "revoke", missing, "--pubkey", missing], 2, missing),
        Row(["esm", "detach", missing, "--name", "rootd"], 2, missing),
        Row(["esm", "add-to-initrd", missing, missing, "-o", "/tmp/svmkit-unused.img"], 2, missing),
        Row(["esm", "keygen", "-o", "/dev/null"], 2, "/dev/null"),

        // bench (2)
        Row(["bench", "swiotlb", "--sizes", "3Q"], 2, "--sizes"),
        Row(["bench", "swiotlb", "--sizes", "1M"], 2, "--sizes"),
        Row(["bench", "swiotlb", "--sizes", Array(repeating: "4K", count: 100).joined(separator: ",")], 2, "--sizes"),
        Row(["bench", "swiotlb", "--threads", "0"], 2, "--threads"),
        Row(["bench", "swiotlb", "--direction", "up"], 2, "--direction"),
        Row(["bench", "swiotlb", "--allocator", "x"], 2, "--allocator"),
        Row(["bench", "swiotlb", "--seconds", "0"], 2, "--seconds"),
        Row(["bench", "swiotlb", "--pool-size", "3Q"], 2, "--pool-size"),
        Row(["bench", "swiotlb", "--areas", "99999"], 2, "--areas"),
        Row(["bench", "swiotlb", "--output", missing + "/b.json"], 2, "--output"),
        Row(["bench", "swiotlb", "--svg", missing + "/b.svg"], 2, "--svg"),
        Row(["bench", "boot", "--memory", "3X"], 2, "--memory"),
        Row(["bench", "boot", "--cpus", "0"], 2, "--cpus"),
        Row(["bench", "boot", "--repeat", "0"], 2, "--repeat"),
        Row(["bench", "boot", "--repeat", "100000"], 2, "--repeat"),

        // soak (2)
        Row(["soak", "--memory", "3X"], 2, "--memory"),
        Row(["soak", "--swiotlb-trace", missing], 2, "--swiotlb-trace"),
        Row(["soak", "--memory", "100M"], 2, "--memory"),
        Row(["soak", "--memory", "1P"], 2, "--memory"),
        Row(["boot", "--memory", "1P"], 2, "--memory"),
        Row(["soak", "--cpus", "0"], 2, "--cpus"),
        Row(["soak", "--seconds=-1"], 2, "--seconds"),
        Row(["soak", "--operations=-5"], 2, "--operations"),
        Row(["soak", "--ops-per-cycle", "0"], 2, "--ops-per-cycle"),
        Row(["soak", "--crash-fraction", "2"], 2, "--crash-fraction"),
        Row(["soak", "--progress-interval", "0"], 2, "--progress-interval"),
    ]

    @Test("Exit code and the option named", arguments: rows)
    func row(_ row: Row) async throws {
        let r = try await FDTCLIRunner.run(row.arguments)
        #expect(r.status == row.status, "\(r.stderr)")
        #expect(r.stderr.contains(row.names), "\(r.stderr)")
    }
}
