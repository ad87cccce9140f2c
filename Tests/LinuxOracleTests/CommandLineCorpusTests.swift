import SWIOTLB
import SecureGuest
import Testing

/// `swiotlb=` and `svm=` over a corpus of command lines, through Linux's own code
/// (`setup_io_tlb_npages`, `swiotlb_adjust_nareas`, `next_arg`; prom_init's
/// `early_cmdline_parse` with `prom_strstr` and `prom_strtobool`; 6.12) and through
/// SVMKit's `SWIOTLBOption`/`SWIOTLBConfiguration` and `SVMOption.enabled`.
@Suite("Command lines against Linux 6.12 (and 6.1)")
struct CommandLineCorpusTests {
    static let oddSWIOTLB = [
        "swiotlb=noforce swiotlb=force", "swiotlb=force swiotlb=noforce", "swiotlb=,4 swiotlb=40000",
        "swiotlb=40000,4", "swiotlb=40000", "swiotlb=,4096", "swiotlb=0", "swiotlb=0x8000,0x10,force",
        "swiotlb=0100", "swiotlb=65536,8,force", "swiotlb=1,0", "swiotlb=,", "swiotlb=,,force", "swiotlb=force,4",
        "swiotlb=32768,3", "swiotlb=\"65536\"", "\"swiotlb=65536,4\"", "swiotlb=4096 swiotlb=,64", "swiotlb=,64 swiotlb=4096",
        "swiotlb=0x", "swiotlb=08", "swiotlb=12abc", "swiotlb=512,2,noforce", "foo=swiotlb=1024", "swiotlb=1024 -- swiotlb=4096",
        "swiotlb=,1 swiotlb=,1024", "swiotlb=100000000", "swiotlb=131072,512", "swiotlb=1 swiotlb=,2 swiotlb=3",
    ]

    static let oddSVM = [
        "svm=on", "svm=off", "nosvm=1", "nosvm=1 svm=off", "svm=on svm=off", "svm=off svm=on", "svm=\"on\"", "\"svm=on\"",
        "-- svm=1", "foo -- svm=1", "xsvm=on", "svm=o", "svm=of", "svm=On", "svm=OFF", "svm=y", "svm=Yes", "svm=n", "svm=1",
        "svm=0", "svm=t", "svm=true", "svm=", "svm", "svm=on=off", "root=/dev/sda svm=1 quiet", "svm =1", "svm\t=on",
        "console=hvc0 svm=on", "svm=2", "svm= on", "svmx=on svm=on", "a=\"b svm=1\"",
    ]

    /// Hundreds of lines: the odd ones, then seeded combinations of tokens.
    static func corpus(_ odd: [String], tokens: [String], seed: UInt64) -> [String] {
        var rng = SeededGenerator(seed: seed)
        var lines = odd
        for _ in 0..<400 {
            let n = Int.random(in: 1...4, using: &rng)
            lines.append((0..<n).map { _ in tokens.randomElement(using: &rng) ?? "" }.joined(separator: " "))
        }
        return lines
    }

    static let swiotlbTokens = [
        "swiotlb=force", "swiotlb=noforce", "swiotlb=65536", "swiotlb=40000", "swiotlb=,4", "swiotlb=,3", "swiotlb=,0",
        "swiotlb=1024,2", "swiotlb=0x10000", "swiotlb=100", "swiotlb=,256", "swiotlb=262144,16,force", "quiet",
        "swiotlb=\"4096\"", "swiotlb=,8,noforce", "swiotlb=7,1", "swiotlb=016", "root=/dev/vda",
    ]

    @Test(
        "swiotlb=: parse state and pool size as Linux (6.12 for 1, 4 and 48 possible CPUs; 6.1, which agrees, for 4)",
        arguments: [("6.12", 1), ("6.12", 4), ("6.12", 48), ("6.1", 4)])
    func swiotlb(version: String, possibleCPUs: Int) async throws {
        let lines = Self.corpus(Self.oddSWIOTLB, tokens: Self.swiotlbTokens, seed: 16)
        let linux = try await LinuxOracle.run(
            "swiotlb-cmdline", [String(possibleCPUs)], input: lines.joined(separator: "\n") + "\n", version: version)
            .split(separator: "\n").map(String.init)
        try #require(linux.count == lines.count)
        var differences: [String] = []
        for (line, expected) in zip(lines, linux) {
            let option = SWIOTLBOption(KernelCommandLine(line))
            let configuration = try SWIOTLBConfiguration(
                slabs: option.slabs, areas: option.areas, force: option.force, noforce: option.noforce,
                possibleCPUs: possibleCPUs)
            let state =
                "\(option.slabs ?? SWIOTLB.defaultSlots) \(option.areas ?? 0) \(option.force ? 1 : 0) \(option.noforce ? 1 : 0) "
                + "\(configuration.slots) \(configuration.areas)"
            if state != expected { differences.append("\(line): SVMKit \(state), Linux \(expected)") }
        }
        #expect(lines.count >= 400)
        #expect(differences.isEmpty, "\(differences.count) of \(lines.count) lines differ:\n\(differences.prefix(10).joined(separator: "\n"))")
    }

    static let svmTokens = [
        "svm=on", "svm=off", "nosvm=1", "svm=1", "svm=0", "svm=\"on\"", "--", "quiet", "xsvm=y", "svm=of", "svm=o",
        "svm=N", "svm=yes", "svm", "init=/bin/sh", "svm=t",
    ]

    @Test("svm=: SVMOption.enabled is prom_init's reading (6.12 and 6.1)", arguments: ["6.12", "6.1"])
    func svm(version: String) async throws {
        let lines = Self.corpus(Self.oddSVM, tokens: Self.svmTokens, seed: 61)
        let linux = try await LinuxOracle.run("svm-cmdline", input: lines.joined(separator: "\n") + "\n", version: version)
            .split(separator: "\n").map(String.init)
        try #require(linux.count == lines.count)
        var differences: [String] = []
        for (line, expected) in zip(lines, linux) {
            let ours = SVMOption(KernelCommandLine(line)).enabled ? "1" : "0"
            if ours != expected { differences.append("\(line): SVMKit \(ours), Linux \(expected)") }
        }
        #expect(differences.isEmpty, "\(differences.count) of \(lines.count) lines differ:\n\(differences.prefix(10).joined(separator: "\n"))")
    }
}
