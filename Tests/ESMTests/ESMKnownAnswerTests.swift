import DeviceTree
import ESM
import Foundation
import ProcessTestSupport
import Testing

@Suite("ESM known answers (reference/ultravisor-facts.md §3.4, §3.6)")
struct ESMKnownAnswerTests {
    @Test("SHA-512 of the 20-byte SLOF hv-RTAS stub is svm-tool's rtas constant")
    func slofStubDigest() {
        #expect(ESMDigests.slofRTASStub.count == 20)
        #expect(ESMHex.encode(ESMDigests.sha512(ESMDigests.slofRTASStub)) == ESMDigests.slofRTASDigestHex)
        #expect(ESMDigests.slofRTASDigestHex.hasPrefix("1896986385"))
        #expect(ESMDigests.slofRTASDigestHex.hasSuffix("7fc37f48"))
    }

    @Test("Digests FDT: compatible ibm,esm and /digests with svm-tool's libfdt property order")
    func digestsLayout() throws {
        let d = try ESMDigests(kernel: [1, 2, 3], initrd: [4, 5], bootargs: "svm=on")
        let t = try d.deviceTree()
        #expect(try t.string("compatible", at: "/") == "ibm,esm")
        #expect(try t.subnodes(of: "/") == ["digests"])
        // Written algorithm, rtas, kernel, kernel-size, initrd, bootargs; libfdt's
        // fdt_setprop puts each new property first, so they are stored reversed.
        #expect(try t.properties(at: "/digests").map(\.name) == ["bootargs", "initrd", "kernel-size", "kernel", "rtas", "algorithm"])
        #expect(try t.string("algorithm", at: "/digests") == "SHA512")
        #expect(try t.property("kernel-size", at: "/digests") == [0, 0, 0, 3])
        #expect(try t.property("rtas", at: "/digests") == ESMHex.decode(ESMDigests.slofRTASDigestHex))
        // bootargs are hashed without a NUL.
        #expect(try t.property("bootargs", at: "/digests") == ESMDigests.sha512(Array("svm=on".utf8)))
        #expect(try ESMDigests(deviceTreeBytes: t.bytes) == d)
    }

    /// The header GNU cpio writes for one entry: magic, 13 upper-case hex fields.
    static func header(ino: UInt32, mode: UInt32, nlink: UInt32, size: Int, nameSize: Int) -> String {
        let f = [ino, mode, 0, 0, nlink, 0, UInt32(size), 0, 0, 0, 0, UInt32(nameSize), 0]
        return "070701" + f.map { String(format: "%08X", $0) }.joined()
    }

    @Test("svm add layout, byte for byte: ., opt, opt/ibm, opt/ibm/pef, the blob, TRAILER!!!, 512-byte padding")
    func cpioLayout() throws {
        let blob: [UInt8] = Array("ABCDEFG".utf8)
        let archive = try ESMInitrd.blobArchive(blob, name: "esmb.dtb")
        var expected: [UInt8] = []
        func entry(_ name: String, ino: UInt32, mode: UInt32, nlink: UInt32, data: [UInt8]) {
            expected += Array(Self.header(ino: ino, mode: mode, nlink: nlink, size: data.count, nameSize: name.utf8.count + 1).utf8)
            expected += Array(name.utf8) + [0]
            while expected.count % 4 != 0 { expected.append(0) }
            expected += data
            while expected.count % 4 != 0 { expected.append(0) }
        }
        entry(".", ino: 1, mode: 0o40755, nlink: 3, data: [])
        entry("opt", ino: 2, mode: 0o40755, nlink: 3, data: [])
        entry("opt/ibm", ino: 3, mode: 0o40755, nlink: 3, data: [])
        entry("opt/ibm/pef", ino: 4, mode: 0o40755, nlink: 2, data: [])
        entry("opt/ibm/pef/esmb.dtb", ino: 5, mode: 0o100644, nlink: 1, data: blob)
        entry("TRAILER!!!", ino: 0, mode: 0, nlink: 1, data: [])
        while expected.count % 512 != 0 { expected.append(0) }
        #expect(archive == expected)
        #expect(archive.count == 1024)
        // The header at offset 0 is the "." entry; the trailer ends at 0x2DC, as GNU cpio 2.13 lays it out.
        #expect(String(decoding: archive[0..<6], as: UTF8.self) == "070701")
        #expect(String(decoding: archive[0x2D2..<0x2DC], as: UTF8.self) == "TRAILER!!!")
        // And the whole initrd is the archive then the original, unchanged.
        let initrd: [UInt8] = [9, 8, 7]
        #expect(try ESMInitrd.addBlob(blob, to: initrd) == archive + initrd)
    }

    @Test(
        "Same layout as GNU cpio over the same tree (inode, mtime and device fields aside)",
        .enabled(if: esmToolExists("cpio") && esmToolExists("find")))
    func matchesGNUCpio() async throws {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("esm-cpio-\(UUID().uuidString)")
        let pef = dir.appendingPathComponent("tree/opt/ibm/pef")
        try fm.createDirectory(at: pef, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: dir) }
        let blob = (0..<1001).map { UInt8(truncatingIfNeeded: $0) }
        try Data(blob).write(to: pef.appendingPathComponent("esmb.dtb"))
        try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: pef.appendingPathComponent("esmb.dtb").path)
        for d in ["tree", "tree/opt", "tree/opt/ibm", "tree/opt/ibm/pef"] {
            try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.appendingPathComponent(d).path)
        }
        let out = dir.appendingPathComponent("gnu.cpio")
        let cpio = try await ChildProcess.run(
            "/bin/sh", ["-c", "cd '\(dir.path)/tree' && find . -print0 | cpio --null --create --quiet --format=newc -F '\(out.path)'"])
        try #require(cpio.succeeded, "\(cpio.summary): \(cpio.stderrText)")
        let gnu = try CPIOArchive.read(Array(Data(contentsOf: out)))
        let ours = try CPIOArchive.read(ESMInitrd.blobArchive(blob))
        #expect(gnu.records.map(\.entry.name) == ours.records.map(\.entry.name))
        #expect(gnu.records.map(\.headerOffset) == ours.records.map(\.headerOffset))
        #expect(gnu.records.map(\.entry.mode) == ours.records.map(\.entry.mode))
        #expect(gnu.records.map(\.entry.linkCount) == ours.records.map(\.entry.linkCount))
        #expect(gnu.records.map(\.entry.data) == ours.records.map(\.entry.data))
        #expect(gnu.trailerEnd == ours.trailerEnd)
        #expect(try Data(contentsOf: out).count == ESMInitrd.blobArchive(blob).count)
    }
}
