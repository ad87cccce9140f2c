import PowerABI
import Testing

@testable import DeviceTree

@Suite("Pseries tree generator, modelled on QEMU 7.2's dumps")
struct PseriesTreeBuilderTests {
    /// The options that describe the machine QEMU dumped.
    static func options(for dump: Fixtures.Dump) throws -> PseriesTreeOptions {
        var o = PseriesTreeOptions(memoryBytes: dump.memory, cpuCount: dump.cpus)
        if dump.hasKernel {
            let qemu = try Fixtures.tree(dump.name)
            o.bootargs = try qemu.string("bootargs", at: "/chosen")
            let start = try qemu.u64("linux,initrd-start", at: "/chosen")
            let end = try qemu.u64("linux,initrd-end", at: "/chosen")
            o.initrd = DeviceTreeRegion(address: start, size: end - start)
            let k = try qemu.cells("qemu,boot-kernel", at: "/chosen")
            o.kernel = DeviceTreeRegion(
                address: UInt64(k[0]) << 32 | UInt64(k[1]), size: UInt64(k[2]) << 32 | UInt64(k[3]))
        }
        return o
    }

    /// Properties QEMU's /cpus DRC lists hold, as (count, sorted entries): QEMU lists
    /// them in hash order, the generator in ascending order (documented).
    static func drcEntries(_ p: DeviceTreeProperty) -> [String] {
        let v = p.value
        if p.name == "ibm,drc-names" || p.name == "ibm,drc-types" {
            return v.dropFirst(4).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }.sorted()
        }
        return (1..<v.count / 4).map { String(BigEndianCells.u32(v, at: $0 * 4)) }.sorted()
    }

    @Test("Every generated node equals QEMU's, modulo the documented differences", arguments: Fixtures.dumps)
    func matchesQEMU(dump: Fixtures.Dump) throws {
        let qemu = try Fixtures.tree(dump.name)
        let ours = try PseriesTreeBuilder.tree(try Self.options(for: dump))
        #expect(ours.reserveMap == qemu.reserveMap)
        #expect(ours.bootCPUIDPhys == qemu.bootCPUIDPhys)
        let qemuPaths = Set(qemu.allNodePaths())
        let drcLists: Set<String> = ["ibm,drc-types", "ibm,drc-names", "ibm,drc-power-domains", "ibm,drc-indexes"]
        let notGenerated: Set<String> = ["rng-seed", "qemu,graphic-depth", "qemu,graphic-height", "qemu,graphic-width"]
        let addedCells: Set<String> = ["/event-sources", "/interrupt-controller"]
        for path in ours.allNodePaths() {
            #expect(qemuPaths.contains(path), "\(path) is not in QEMU's tree")
            guard qemuPaths.contains(path) else { continue }
            var mine = try ours.properties(at: path)
            var theirs = try qemu.properties(at: path)
            if addedCells.contains(path) {
                #expect(mine.contains(.u32("#address-cells", 0)), "\(path)")
                mine.removeAll { $0.name == "#address-cells" }
            }
            if path == "/" { theirs.removeAll { drcLists.contains($0.name) } }
            if path == "/chosen" { theirs.removeAll { notGenerated.contains($0.name) } }
            if path == "/cpus" {
                for name in drcLists {
                    let a = try #require(mine.first { $0.name == name })
                    let b = try #require(theirs.first { $0.name == name })
                    #expect(a.value.prefix(4) == b.value.prefix(4), "\(name) count")
                    #expect(Self.drcEntries(a) == Self.drcEntries(b), "\(name)")
                }
                mine.removeAll { drcLists.contains($0.name) }
                theirs.removeAll { drcLists.contains($0.name) }
            }
            #expect(mine.map(\.name) == theirs.map(\.name), "\(path) property names and order")
            for (a, b) in zip(mine, theirs) where a != b {
                Issue.record("\(path): generated \(a.dtsLine) | QEMU \(b.dtsLine)")
            }
        }
        // What the generator leaves out of QEMU's tree is exactly the documented list.
        let missing = qemuPaths.subtracting(ours.allNodePaths()).filter { p in
            !p.hasPrefix("/pci@") && p != "/ibm,persistent-memory" && !p.hasPrefix("/vdevice/l-lan")
                && !p.hasPrefix("/vdevice/v-scsi")
        }
        #expect(missing.isEmpty, "\(missing.sorted())")
    }

    /// A machine shape: vCPUs, threads per core, RAM.
    struct Shape: Sendable, CustomTestStringConvertible {
        var cpus: Int
        var threads: Int
        var memory: UInt64
        init(_ cpus: Int, _ threads: Int, _ memory: UInt64) {
            self.cpus = cpus
            self.threads = threads
            self.memory = memory
        }
        var testDescription: String { "\(cpus) vCPUs, \(threads) threads/core, \(memory >> 10) KiB" }
    }

    static let shapes: [Shape] = [
        Shape(1, 1, 64 << 10), Shape(1, 1, 1 << 30), Shape(2, 1, 512 << 20), Shape(4, 1, 4 << 30),
        Shape(16, 1, 4 << 30), Shape(128, 1, 64 << 30), Shape(8, 2, 8 << 30), Shape(16, 4, 1 << 40),
        Shape(64, 8, 3 << 30),
    ]

    @Test("dtc accepts generated trees of many shapes with no warnings", arguments: shapes)
    func dtcAccepts(shape: Shape) async throws {
        let (cpus, threads, memory) = (shape.cpus, shape.threads, shape.memory)
        var o = PseriesTreeOptions(memoryBytes: memory, cpuCount: cpus, threadsPerCore: threads, bootargs: "console=hvc0 svm=on")
        o.initrd = DeviceTreeRegion(address: 0x200_0000, size: 0x12345)
        o.kernel = DeviceTreeRegion(address: 0x40_0000, size: 0x1_0000)
        o.rtasBase = 0x2FF0_0000
        o.rngSeed = Array(0..<32)
        let tree = try PseriesTreeBuilder.tree(o)
        let dtc = try await DTC.decompile(tree.bytes)
        #expect(dtc.status == 0)
        #expect(dtc.stderr == "")
        #expect(tree.renderDTS() == dtc.stdout)

        // What the Ultravisor reads at UV_ESM (reference/ultravisor-facts.md §2.5, §2.6).
        for name in (RTASService.mandatory + [RTASService.stopSelf]).map(\.name) {
            #expect(tree.propertyIfPresent(name, at: "/rtas")?.count == 4, "\(name)")
        }
        #expect(try tree.u32(RTASService.osTerm.name, at: "/rtas") == RTASService.osTerm.qemuToken)
        #expect(try tree.u32("slof,rtas-size", at: "/rtas") == 20)
        #expect(try tree.u64("linux,rtas-base", at: "/rtas") == 0x2FF0_0000)
        let rootCells = try tree.addressCells(of: "/") + tree.sizeCells(of: "/")
        let lrdr = try tree.cells("ibm,lrdr-capacity", at: "/rtas")
        let cpuPaths = tree.nodes(withProperty: "device_type", equalTo: Array("cpu".utf8) + [0])
        let first = try #require(cpuPaths.first)
        let servers = try tree.cells("ibm,ppc-interrupt-server#s", at: first)
        #expect(Int(lrdr[rootCells]) * servers.count == cpus)  // the UV's vcpus.max
        #expect(cpuPaths.count == cpus / threads)
        #expect(try tree.reg(at: "/memory@0") == [DeviceTreeRegion(address: 0, size: memory)])
        #expect(try tree.string("bootargs", at: "/chosen") == "console=hvc0 svm=on")
        #expect(try tree.u64("linux,initrd-start", at: "/chosen") == 0x200_0000)
        #expect(try tree.u64("linux,initrd-end", at: "/chosen") == 0x201_2345)
        #expect(tree.hasNode(try tree.string("stdout-path", at: "/chosen")))
        #expect(try tree.cells("ibm,interrupt-server-ranges", at: "/interrupt-controller") == [0, UInt32(cpus)])
        // Threads of a core are consecutive server numbers; gservers pair each with 0.
        var seen: [UInt32] = []
        for path in cpuPaths {
            let s = try tree.cells("ibm,ppc-interrupt-server#s", at: path)
            #expect(s.count == threads)
            #expect(try tree.u32("reg", at: path) == s[0])
            #expect(path == "/cpus/" + PseriesTreeBuilder.cpuNodeName(Int(s[0])))
            #expect(try tree.cells("ibm,ppc-interrupt-gserver#s", at: path) == s.flatMap { [$0, 0] })
            seen += s
        }
        #expect(seen == (0..<UInt32(cpus)).map { $0 })
    }

    @Test("Initrd above 4 GiB uses two cells")
    func highInitrd() throws {
        var o = PseriesTreeOptions(memoryBytes: 8 << 30, cpuCount: 1)
        o.initrd = DeviceTreeRegion(address: 5 << 30, size: 4096)
        let tree = try PseriesTreeBuilder.tree(o)
        #expect(try tree.property("linux,initrd-start", at: "/chosen").count == 8)
        #expect(try tree.u64("linux,initrd-end", at: "/chosen") == 5 << 30 + 4096)
        #expect(tree.propertyIfPresent("bootargs", at: "/chosen") == nil)
        #expect(tree.reserveMap == [o.initrd])
    }

    @Test("Bad options are typed errors naming the option", arguments: [
        (PseriesTreeOptions(memoryBytes: 0, cpuCount: 1), "memory size 0"),
        (PseriesTreeOptions(memoryBytes: 100, cpuCount: 1), "memory size 100"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 0), "cpu count 0"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 4097), "cpu count 4097"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 4, threadsPerCore: 3), "threads per core 3"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 6, threadsPerCore: 4), "cpu count 6"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 1, initrd: DeviceTreeRegion(address: 1, size: 0)), "initrd"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 1, kernel: DeviceTreeRegion(address: .max, size: 2)), "kernel"),
        (PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 1, bootargs: "a\0b"), "bootargs"),
    ])
    func badOptions(options: PseriesTreeOptions, mentions: String) {
        #expect {
            try PseriesTreeBuilder.tree(options)
        } throws: { error in
            guard let e = error as? FDTError else { return false }
            return e.code == .badValue && e.context.contains(mentions)
        }
    }

    @Test("Hash table size follows QEMU's RAM/128 rule")
    func hashTable() {
        let cases: [(UInt64, UInt32)] = [
            (64 << 10, 18), (1 << 30, 23), (2 << 30, 24), (3 << 30, 25), (4 << 30, 25), (1 << 60, 46),
        ]
        for (memory, shift) in cases {
            #expect(PseriesTreeBuilder.hashTableShift(forMemory: memory) == shift, "\(memory)")
        }
    }

    @Test("Every RTAS service PowerABI names has QEMU's token")
    func tokens() {
        #expect(PseriesTreeBuilder.rtasToken(RTASService.osTerm.name) == 0x201F)
        #expect(RTASService.osTerm.qemuToken == 0x201F)
        #expect(RTASService.nmiInterlock.qemuToken == 0x202C)
        for name in (RTASService.mandatory + [RTASService.stopSelf, RTASService.nmiRegister]).map(\.name) {
            #expect(PseriesTreeBuilder.rtasToken(name) != nil, "\(name)")
        }
        #expect(PseriesTreeBuilder.rtasToken("ibm,lrdr-capacity") == nil)
        let tokens = PseriesTreeBuilder.rtasTokens.map(\.token)
        #expect(tokens == (0..<UInt32(tokens.count)).map { 0x2000 + $0 })
        #expect(Set(PseriesTreeBuilder.rtasTokens.map(\.name)).count == tokens.count)
    }

    @Test("The root node can be adjusted before building")
    func rootNodeEditing() async throws {
        var root = try PseriesTreeBuilder.rootNode(PseriesTreeOptions(memoryBytes: 1 << 30, cpuCount: 2))
        root.children.append(DeviceTreeNode("ibm,ultravisor", properties: [.string("compatible", "ibm,ultravisor")]))
        let tree = try DeviceTree(root: root)
        #expect(tree.nodes(compatibleWith: "ibm,ultravisor") == ["/ibm,ultravisor"])
        #expect(try await DTC.decompile(tree.bytes).stderr == "")
    }
}
