import SecureGuest
import Testing

/// Guest-side sizing against the real functions (Scripts/linux-oracle guest-facts).
@Suite("Guest facts against Linux 6.12")
struct GuestFactsTests {
    @Test("alloc_shared_lppaca(): region size, one share call, every CPU's slot, for 1...2048 CPUs and 4 KiB / 64 KiB pages")
    func lppaca() throws {
        let lines = try LinuxOracle.run("guest-facts", ["lppaca"]).split(separator: "\n")
        try #require(lines.count == 2 * 2048)
        var differences: [String] = []
        for line in lines {
            let f = line.split(separator: " ").compactMap { UInt64($0) }
            guard f.count == 6 else {
                differences.append("Linux: \(line)")
                continue
            }
            let (cpus, page, calls, pages, total, lastOffset) = (Int(f[0]), f[1], f[2], f[3], f[4], f[5])
            var region = SharedLPPACARegion(base: 0, cpuCount: cpus, pageSize: page)
            var last: UInt64 = 0
            var overflowed = false
            for _ in 0..<cpus {
                do { last = try region.next() } catch { overflowed = true }
            }
            let ours = "\(region.totalSize) \(region.totalSize / page) \(last) \(overflowed)"
            let theirs = "\(total) \(pages) \(lastOffset) false"
            if calls != 1 || ours != theirs { differences.append("\(cpus) CPUs, \(page)-byte pages: SVMKit \(ours), Linux \(theirs) (\(calls) share calls)") }
        }
        #expect(differences.isEmpty, "\(differences.count) differ:\n\(differences.prefix(10).joined(separator: "\n"))")
    }
}
