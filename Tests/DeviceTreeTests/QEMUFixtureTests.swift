import PowerABI
import Testing

@testable import DeviceTree

@Suite("QEMU pseries dumps parse")
struct QEMUFixtureTests {
    @Test("CPU count, memory, RTAS tokens, header", arguments: Fixtures.dumps)
    func parse(dump: Fixtures.Dump) throws {
        let tree = try Fixtures.tree(dump.name)
        let cpus = tree.nodes(withProperty: "device_type", equalTo: Array("cpu".utf8) + [0])
        #expect(cpus.count == dump.cpus)
        #expect(cpus.first == "/cpus/PowerPC,POWER9@0")
        #expect(try tree.subnodes(of: "/cpus").count == dump.cpus)
        for (i, path) in cpus.enumerated() {
            #expect(try tree.u32("reg", at: path) == UInt32(i))
            #expect(try tree.cells("ibm,ppc-interrupt-server#s", at: path) == [UInt32(i)])
        }
        #expect(try tree.reg(at: "/memory@0") == [DeviceTreeRegion(address: 0, size: dump.memory)])
        #expect(try tree.u32(RTASService.osTerm.name, at: "/rtas") == 0x201F)
        #expect(try tree.u32(RTASService.osTerm.name, at: "/rtas") == RTASService.osTerm.qemuToken)
        for name in (RTASService.mandatory + [RTASService.stopSelf, RTASService.nmiRegister]).map(\.name) {
            #expect(try tree.u32(name, at: "/rtas") == PseriesTreeBuilder.rtasToken(name), "\(name)")
        }
        let lrdr = try tree.cells("ibm,lrdr-capacity", at: "/rtas")
        #expect(lrdr.count == 5)
        #expect(lrdr.last == UInt32(dump.cpus))
        #expect(tree.bootCPUIDPhys == 0)
        #expect(tree.header.version == 17)
        #expect(tree.header.lastCompatibleVersion == 16)
        #expect(tree.header.magic == DeviceTree.magic)
        #expect(tree.header.totalSize == (try Fixtures.blob(dump.name)).count)
        #expect(tree.header.reserveMapOffset == 40)
        #expect(tree.header.structureBlockOffset + tree.header.structureBlockSize <= tree.header.stringsBlockOffset)
        #expect(try tree.addressCells(of: "/") == 2)
        #expect(try tree.sizeCells(of: "/") == 2)
        #expect(try tree.stringList("compatible", at: "/") == ["qemu,pseries"])
        #expect(try tree.path(ofPhandle: 0x1111) == "/interrupt-controller")
        #expect(try tree.parentPath(of: "/cpus/PowerPC,POWER9@0") == "/cpus")
        #expect(try tree.parentPath(of: "/cpus") == "/")
    }

    @Test("/chosen carries the console, and -kernel/-initrd/-append put their properties in")
    func chosen() throws {
        for dump in Fixtures.dumps {
            let tree = try Fixtures.tree(dump.name)
            #expect(try tree.string("stdout-path", at: "/chosen") == "/vdevice/vty@71000000")
            #expect(tree.hasNode(try tree.string("stdout-path", at: "/chosen")))
            #expect((tree.propertyIfPresent("bootargs", at: "/chosen") != nil) == dump.hasKernel)
        }
        let tree = try Fixtures.tree("qemu-pseries-kernel-2cpu-2G")
        #expect(try tree.string("bootargs", at: "/chosen") == "console=hvc0 svm=on root=/dev/ram0")
        let start = try tree.u64("linux,initrd-start", at: "/chosen")
        let end = try tree.u64("linux,initrd-end", at: "/chosen")
        #expect(end - start == 70000)  // the initrd make-fixtures writes
        #expect(try tree.cells("qemu,boot-kernel", at: "/chosen") == [0, 0x40_0000, 0, 128])
        #expect(tree.reserveMap == [
            DeviceTreeRegion(address: 0x40_0000, size: 128), DeviceTreeRegion(address: start, size: end - start),
        ])
    }

    @Test("Reading the whole tree visits every node dtc shows")
    func allNodes() throws {
        let tree = try Fixtures.tree("qemu-pseries-16cpu-4G")
        let dts = try Fixtures.dts("qemu-pseries-16cpu-4G")
        let blocks = dts.split(separator: "\n").filter { $0.hasSuffix(" {") }.count
        #expect(tree.allNodePaths().count == blocks)
        #expect(tree.root.children.map(\.name) == (try tree.subnodes(of: "/")))
    }
}
