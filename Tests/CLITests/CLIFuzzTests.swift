import Foundation
import Testing

/// Issue 19: a seeded fuzz pass over the command line. Valid invocations of every
/// subcommand are mutated (values replaced by odd ones, arguments dropped, duplicated or
/// added, input files flipped, truncated or extended) and run as subprocesses. No run may
/// end by a signal, and every exit is 0, 1, 2 or 64.
///
/// `SVMKIT_CLI_FUZZ_RUNS` sets the number of runs (default 1,500, about a minute);
/// `SVMKIT_CLI_FUZZ_SEED` the seed.
@Suite("svmkit: CLI fuzz pass")
struct CLIFuzzTests {
    /// A small deterministic generator (SplitMix64), so a failure names its seed and run.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Values that have broken command lines before, or might.
    static let oddValues = [
        "", "-", "0", "-1", "1", "4096", "100000", "0x0", "0xFFFFFFFFFFFF0000", "0xFFFFFFFFFFFFFFFF", "18446744073709551616",
        "1Q", "3X", "1.5G", "64KiB", "256M", "1T", "16E", "nan", "inf", "-0", " 4G ", "/dev/null", "/dev/full", "/", ".",
        // In a directory that does not exist: a bare "/nonexistent" given to -o was created
        // (as root, by fdt pseries), and every later run then read it as an existing file.
        "/nonexistent/none", "esmb.dtb", "guest.dtb", "keys/owner-seckey.pem", "keys/owner-pubkey.pem", "initrd-esm.img",
        String(repeating: "A", count: 5000), "svm=on", "svm=off", "svm=on console=hvc0", "é", "--help", "-o",
        "rootd", "rootd=pass.txt", "=x", "x=", "swtpm:127.0.0.1:1", "swtpm:[::1]:99999", "enforce", "warn", "normal", "crash",
        "UV_SHARE_PAGE@2=U_P2", "@*=", "double-unmap", "to-device", "both", "dts", "dtb",
        // The kernel-profile options, SWIOTLB traces and swiotlb= lines (issue fuzz2).
        "5.4", "5.10", "6.1", "6.12", "4.19", "virtio", "nvme", "ddw", "tce", "reference", "linux61", "fast", "trace.json",
        "svm=on swiotlb=1,force", "svm=on swiotlb=0", "svm=on swiotlb=99999999999,force", "svm=on swiotlb=noforce",
        "svm=on swiotlb=1024,4096,force", "svm=on swiotlb=128,3,force", "svm=on swiotlb=8388608,force", "4095", "3",
    ]

    /// Options that may be added anywhere.
    static let extraOptions = [
        "--json", "--force", "--help", "-o", "--memory", "--cpus", "--key", "--name", "--cmdline", "--kbase", "--fdt",
        "--sizes", "--threads", "--seconds", "--header", "--format", "--initrd", "--kernel", "--blob", "--pubkey", "--origin",
        "--linux", "--disk", "--dma-path", "--dma-replay", "--swiotlb-trace", "--allocator", "--areas", "--swiotlb-dynamic",
        "--no-io-check",
    ]

    /// Valid, quick invocations in the prepared directory (see ``prepare(_:)``).
    static let seeds: [[String]] = [
        ["fdt", "dump", "guest.dtb"],
        ["fdt", "dump", "--header", "guest.dtb"],
        ["fdt", "get", "guest.dtb", "/chosen", "bootargs", "--json"],
        ["fdt", "get", "guest.dtb", "/memory@0"],
        ["fdt", "pseries", "--memory", "1G", "--cpus", "2", "--initrd-start", "0x2000000", "--initrd-end", "0x2400000", "-o", "out.dtb"],
        ["fdt", "pseries", "--memory", "512M", "--kernel-size", "1M", "--rtas-base", "0x1000000", "--format", "dts"],
        ["esm", "inspect", "esmb.dtb"],
        ["esm", "inspect", "initrd-esm.img", "--key", "keys/owner-seckey.pem", "--json"],
        ["esm", "extract", "esmb.dtb", "--key", "keys/tpm-seckey.pem", "--name", "rootd"],
        ["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd-esm.img", "--cmdline", "svm=on console=hvc0", "--key", "keys/tpm-seckey.pem"],
        ["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd.img", "--blob", "esmb.dtb", "--cmdline", "svm=on console=hvc0", "--key", "keys/owner-seckey.pem", "--json"],
        ["esm", "create", "--origin", "keys/owner-pubkey.pem", "--recipient", "keys/tpm-pubkey.pem", "-o", "out.dtb"],
        ["esm", "authorize", "esmb.dtb", "--pubkey", "keys/tpm-pubkey.pem", "--key", "keys/owner-seckey.pem", "-o", "out.dtb"],
        ["esm", "detach", "esmb.dtb", "--name", "rootd", "-o", "out.dtb"],
        ["esm", "revoke", "esmb.dtb", "--pubkey", "keys/tpm-pubkey.pem", "-o", "out.dtb"],
        ["esm", "attach", "esmb.dtb", "extra=pass.txt", "--key", "keys/owner-seckey.pem", "-o", "out.dtb"],
        ["esm", "add-to-initrd", "esmb.dtb", "initrd.img", "-o", "out.img"],
        ["esm", "verify", "--kernel", "vmlinux.bin", "--initrd", "initrd-esm.img", "--cmdline", "svm=on console=hvc0", "--key", "keys/tpm-seckey.pem", "--linux", "6.1", "--linux", "5.4"],
        ["swiotlb", "replay", "trace.json", "--allocator", "linux61", "--json"],
        ["swiotlb", "replay", "trace.json"],
        ["swiotlb", "advise", "trace.json", "--areas", "1", "--json"],
        ["boot", "--memory", "256M", "--cpus", "1", "--json"],
        ["boot", "--fdt", "guest.dtb", "--kernel", "vmlinux.bin", "--initrd", "initrd-esm.img", "--tpm-key", "keys/tpm-seckey.pem"],
        ["bench", "swiotlb", "--sizes", "4K", "--threads", "1", "--direction", "to-device", "--seconds", "0.02", "--skip-allocation-cost"],
        ["soak", "--operations", "32", "--cpus", "1", "--memory", "256M"],
        ["boot", "--linux", "6.1", "--disk", "nvme", "--cmdline", "svm=on swiotlb=128,1,force", "--dma-replay", "trace.json", "--memory", "256M", "--cpus", "1"],
        ["boot", "--linux", "5.4", "--dma-path", "tce", "--no-io-check", "--memory", "256M", "--cpus", "2", "--json"],
        ["boot", "--swiotlb-dynamic", "--swiotlb-trace", "out.json", "--cmdline", "svm=on swiotlb=128,force", "--memory", "256M", "--cpus", "1"],
        ["soak", "--operations", "16", "--cpus", "2", "--memory", "256M", "--linux", "5.10", "--disk", "nvme", "--cmdline", "svm=on swiotlb=1024,force"],
    ]

    /// Seeds that boot a guest: picked a tenth as often as the others.
    static let slowCommands: Set<String> = ["boot", "bench", "soak"]

    /// The quick seeds.
    static let fastSeeds = seeds.filter { !slowCommands.contains($0[0]) }

    /// Input files the mutated runs may damage (fresh copies are made for each run).
    static let mutableInputs = ["guest.dtb", "esmb.dtb", "initrd-esm.img", "keys/tpm-seckey.pem", "keys/owner-pubkey.pem", "trace.json"]

    /// A small SWIOTLB replay trace (the `--swiotlb-trace` format): NVMe-like maps with
    /// min_align_mask 0xfff on two CPUs, some unmapped.
    static let trace = """
        {"pool": {"start": "0x720000", "nslabs": 256, "nareas": 2, "page_size": 65536}, "ops": [
         {"op": "map", "id": 1, "orig_addr": "0x4000a00", "size": 4096, "min_align_mask": "0xfff", "cpu": 0},
         {"op": "map", "id": 2, "orig_addr": "0x4020000", "size": 65536, "seg_boundary_mask": "0xffffffff", "cpu": 1},
         {"op": "unmap", "id": 1},
         {"op": "map", "id": 3, "orig_addr": 67239936, "size": 2048, "alloc_align_mask": 0, "cpu": 3},
         {"op": "unmap", "id": 2}]}
        """

    /// JSON values that replace a number in trace.json: wrong types, signs, sizes.
    static let oddJSONValues = [
        "-1", "0", "1.5", "1e300", "4611686018427387904", "18446744073709551615", "18446744073709551616", "\"0x\"",
        "\"0xffffffffffffffff\"", "null", "true", "[]", "{}", "\"x\"", "3", "4095", "1073741825",
    ]

    /// Keys, a kernel, an initrd, a tree and a blob, made with the CLI itself.
    static func prepare(_ dir: URL) async throws {
        let r = try await CLIShell.run(
            """
            set -e
            "$SVMKIT" esm keygen -o keys --name owner >/dev/null
            "$SVMKIT" esm keygen -o keys --name tpm >/dev/null
            head -c 4096 /dev/urandom > vmlinux.bin
            head -c 4096 /dev/urandom > initrd.img
            printf 'secret\\n' > pass.txt
            "$SVMKIT" fdt pseries --memory 1G --cpus 2 --cmdline "svm=on console=hvc0" -o guest.dtb
            "$SVMKIT" esm create --origin keys/owner-pubkey.pem --recipient keys/tpm-pubkey.pem --kernel vmlinux.bin \\
                --initrd initrd.img --cmdline "svm=on console=hvc0" --attach rootd=pass.txt -o esmb.dtb >/dev/null 2>&1
            "$SVMKIT" esm add-to-initrd esmb.dtb initrd.img -o initrd-esm.img >/dev/null
            """, in: dir)
        try Data(trace.utf8).write(to: dir.appendingPathComponent("trace.json"))
        guard r.status == 0 else { throw PrepareError(stderr: r.stderr) }
    }

    struct PrepareError: Error { var stderr: String }

    /// One mutated command line (and the files it damaged, already written into `dir`).
    static func mutate(_ seed: [String], _ g: inout Generator, in dir: URL, originals: [String: [UInt8]]) throws -> [String] {
        var args = seed
        for _ in 0..<Int.random(in: 1...3, using: &g) {
            switch Int.random(in: 0..<12, using: &g) {
            case 0...4 where args.count > 1:
                args[Int.random(in: 1..<args.count, using: &g)] = oddValues.randomElement(using: &g) ?? ""
            case 5 where args.count > 2:
                args.remove(at: Int.random(in: 2..<args.count, using: &g))
            case 6:
                let at = Int.random(in: min(2, args.count)...args.count, using: &g)
                args.insert(contentsOf: [extraOptions.randomElement(using: &g) ?? "--json", oddValues.randomElement(using: &g) ?? ""], at: at)
            case 7 where args.count > 2:
                let i = Int.random(in: 2..<args.count, using: &g)
                args.insert(args[i], at: i)
            default:
                // Damage an input file: flip bytes, truncate or extend.
                let name = mutableInputs.randomElement(using: &g) ?? "guest.dtb"
                var bytes = originals[name] ?? []
                switch Int.random(in: 0..<(name.hasSuffix(".json") ? 4 : 3), using: &g) {
                case 3:
                    // A well-formed trace with one number replaced by an odd JSON value.
                    var text = String(decoding: bytes, as: UTF8.self)
                    let numbers = text.ranges(of: /[0-9]+/)
                    if let range = numbers.randomElement(using: &g) {
                        text.replaceSubrange(range, with: oddJSONValues.randomElement(using: &g) ?? "-1")
                    }
                    bytes = Array(text.utf8)
                case 0 where !bytes.isEmpty:
                    for _ in 0..<Int.random(in: 1...8, using: &g) {
                        bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
                    }
                case 1:
                    bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &g)))
                default:
                    bytes += (0..<Int.random(in: 1...256, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
                }
                try Data(bytes).write(to: dir.appendingPathComponent(name))
            }
        }
        return args
    }

    @Test("No signal exits; every failure exit is 1, 2 or 64")
    func fuzz() async throws {
        let env = ProcessInfo.processInfo.environment
        let runs = env["SVMKIT_CLI_FUZZ_RUNS"].flatMap(Int.init) ?? 1500
        let seed = env["SVMKIT_CLI_FUZZ_SEED"].flatMap(UInt64.init) ?? 19
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await Self.prepare(dir)
        var originals: [String: [UInt8]] = [:]
        for name in Self.mutableInputs { originals[name] = Array(try Data(contentsOf: dir.appendingPathComponent(name))) }
        var g = Generator(state: seed)
        var seen: [String: Int] = [:]
        let started = Date()
        for run in 0..<runs {
            // Slow seeds (boot, bench, soak) are picked a tenth as often as the others.
            var seedLine = Self.seeds.randomElement(using: &g) ?? Self.seeds[0]
            if Self.slowCommands.contains(seedLine[0]), Int.random(in: 0..<10, using: &g) != 0 {
                seedLine = Self.fastSeeds.randomElement(using: &g) ?? Self.seeds[0]
            }
            let args = try Self.mutate(seedLine, &g, in: dir, originals: originals)
            let r = try await CLIShell.run("exec \"$SVMKIT\" \"$@\" >/dev/null", in: dir, arguments: args)
            seen[r.summary, default: 0] += 1
            #expect(!r.signalled && [0, 1, 2, 64].contains(r.status), "seed \(seed) run \(run): svmkit \(args) ended with \(r.summary)\n\(r.stderr)")
            for (name, bytes) in originals { try Data(bytes).write(to: dir.appendingPathComponent(name)) }
        }
        let summary = seen.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        print("CLI fuzz: \(runs) runs in \(Int(Date().timeIntervalSince(started))) s, seed \(seed): \(summary)")
    }
}
