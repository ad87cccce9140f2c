import Testing

/// `Examples/BootSecureGuest`: the library API end to end, run as a program.
@Suite("Example: BootSecureGuest")
struct BootSecureGuestExampleTests {
    @Test("The default boot goes secure (UV_ESM 0, MSR(S) = 1) and a normal kexec unshares every guest share")
    func secureBootAndKexec() async throws {
        let r = try await ExampleRunner.run("BootSecureGuest", ["--memory", "512", "--cpus", "2"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("Switching to secure mode."), "prom_init's line (linux-guest-facts §1.1)")
        #expect(r.stdout.contains("secure          yes (asked: yes), /sys/devices/system/cpu/svm = 1"), "\(r)")
        #expect(r.stdout.contains("UV_ESM result   0"))
        for check in ["lockbox-1", "rtas", "kernel", "initrd", "bootargs"] {
            #expect(r.stdout.contains("[pass] \(check):"), "ESM check \(check) (ultravisor-facts §2.6)")
        }
        #expect(!r.stdout.contains("[FAIL]"))
        // linux-guest-facts §1.7: a normal kexec of a secure guest calls UV_UNSHARE_ALL_PAGES, which
        // leaves the Ultravisor's own implicit and pseudo shares (ultravisor-facts §5.3).
        #expect(r.stdout.contains("kexec: Unshared all shared pages."), "\(r)")
        #expect(r.stdout.contains("UV_UNSHARE_ALL_PAGES → U_SUCCESS (0); after kexec (normal): 0 explicit, 7 implicit, 1 pseudo"), "\(r)")
        #expect(r.stdout.contains("OK: the guest booted secure"))
    }

    @Test("A crash kexec skips UV_UNSHARE_ALL_PAGES, as kdump does")
    func crashKexec() async throws {
        let r = try await ExampleRunner.run("BootSecureGuest", ["--memory", "512", "--cpus", "1", "--kexec", "crash"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("kexec crash: UV_UNSHARE_ALL_PAGES skipped"), "\(r)")
        #expect(!r.stdout.contains("kexec: Unshared all shared pages."))
    }

    @Test("svm=off boots a normal guest that never makes an ultracall")
    func normalGuest() async throws {
        let r = try await ExampleRunner.run(
            "BootSecureGuest", ["--memory", "512", "--cpus", "1", "--cmdline", "svm=off console=hvc0", "--kexec", "none"])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("secure          no (asked: no)"), "\(r)")
        #expect(r.stdout.contains("UV_ESM result   not called"))
        #expect(!r.stdout.contains("Switching to secure mode."))
        let calls = try #require(r.stdout.split(separator: "\n").first { $0.contains("ultracalls and hypercalls") })
        #expect(!calls.contains("UV_"), "no ultracall at all: \(calls)")
        #expect(calls.contains("H_REGISTER_VPA"), "\(calls)")
    }

    @Test("Bad inputs exit 2 naming the input; bad options exit non-zero with a usage line; --help works")
    func badInputs() async throws {
        let small = try await ExampleRunner.run("BootSecureGuest", ["--memory", "128"])
        #expect(small.status == 2, "\(small)")
        #expect(small.stderr.contains("--memory"), "\(small)")
        let kexec = try await ExampleRunner.run("BootSecureGuest", ["--kexec", "sideways"])
        #expect(kexec.status != 0)
        #expect(kexec.stderr.contains("--kexec must be"), "\(kexec)")
        let help = try await ExampleRunner.run("BootSecureGuest", ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: BootSecureGuest"), "\(help)")
    }
}
