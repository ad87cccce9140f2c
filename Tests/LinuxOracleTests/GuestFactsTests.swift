@_spi(Firmware) import PEFMachine
import SVMKit
import SecureGuest
import Testing

/// Guest-side sizing against the real functions (Scripts/linux-oracle guest-facts).
@Suite("Guest facts against Linux 6.12 and 6.1")
struct GuestFactsTests {
    @Test(
        "alloc_shared_lppaca(): region size, one share call, every CPU's slot, for 1...2048 CPUs and 4 KiB / 64 KiB pages",
        arguments: ["6.12", "6.1"])
    func lppaca(version: String) async throws {
        let lines = try await LinuxOracle.run("guest-facts", ["lppaca"], version: version).split(separator: "\n")
        try #require(lines.count == 2 * 2048)
        var differences: [String] = []
        for line in lines {
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            guard f.count == 6 else {
                differences.append("Linux: \(line)")
                continue
            }
            let (cpus, page, calls, pages, total, lastOffset) = (Int(f[0]), f[1], f[2], f[3], f[4], f[5])
            var region = SharedLPPACARegion(base: GuestPhysicalAddress(0), cpuCount: cpus, pageSize: page)
            var last: UInt64 = 0
            var overflowed = false
            for _ in 0..<cpus {
                do { last = try region.next().rawValue } catch { overflowed = true }
            }
            let ours = "\(region.totalSize) \(region.totalSize / page) \(last) \(overflowed)"
            let theirs = "\(total) \(pages) \(lastOffset) false"
            if calls != 1 || ours != theirs { differences.append("\(cpus) CPUs, \(page)-byte pages: SVMKit \(ours), Linux \(theirs) (\(calls) share calls)") }
        }
        #expect(differences.isEmpty, "\(differences.count) differ:\n\(differences.prefix(10).joined(separator: "\n"))")
    }
}

/// kexec and DTL sharing of a booted guest against the real code.
@Suite("Guest kexec and DTL against Linux 6.12")
struct GuestKexecDTLTests {
    static func guest(secure: Bool) throws -> SecureVirtualMachine {
        var c = BootConfiguration()
        c.memoryBytes = 256 << 20
        c.cpuCount = 2
        c.commandLine = secure ? "svm=on console=hvc0" : "svm=off console=hvc0"
        let vm = try SecureVirtualMachine(configuration: c)
        _ = vm.boot()
        try #require(vm.kernel?.isSecureGuest == secure)
        return vm
    }

    @Test("default_machine_kexec(): UV_UNSHARE_ALL_PAGES exactly when Linux calls it", arguments: [true, false])
    func kexec(secure: Bool) async throws {
        let lines = try await LinuxOracle.run("guest-facts", ["kexec"]).split(separator: "\n").map(String.init)
        // KexecKind: normal (no preserve_context, not crash), crash, preserve-context.
        let kinds: [(KexecKind, preserve: Int, crash: Int)] = [(.normal, 0, 0), (.crash, 0, 1), (.preserveContext, 1, 0)]
        for (kind, preserve, crash) in kinds {
            let prefix = "secure=\(secure ? 1 : 0) preserve_context=\(preserve) crash=\(crash) unshare="
            let linux = try #require(lines.first { $0.hasPrefix(prefix) }).hasSuffix("=1")
            let vm = try Self.guest(secure: secure)
            let before = vm.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES")
            vm.kexec(kind)
            let ours = vm.machine.trace.count(of: "UV_UNSHARE_ALL_PAGES") > before
            #expect(ours == linux, "\(kind), secure \(secure): SVMKit \(ours), Linux \(linux)")
        }
    }

    @Test("dtl_cache_ctor(): one share per DTL page, the page store as Linux keeps it")
    func dtl() async throws {
        let vm = try Self.guest(secure: true)
        let frames = try #require(vm.kernel?.dispatchLogSharedPages).map(\.rawValue).sorted()
        try #require(!frames.isEmpty)
        // Every 4 KiB object of every slab page, as the slab allocator constructs them.
        let objects = frames.flatMap { f in (0..<16).map { "0x" + String(f << 16 + UInt64($0) << 12, radix: 16) } }
        let lines = try await LinuxOracle.run("guest-facts", ["dtl"] + objects).split(separator: "\n")
        let shared = lines.compactMap { l -> UInt64? in
            let f = l.split(separator: " ")
            return f.count == 3 && f[1] == "1" ? UInt64(f[0]) : nil
        }
        #expect(shared == frames, "Linux shared pages \(shared), SVMKit \(frames)")
    }
}
