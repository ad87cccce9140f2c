import Foundation
import Testing

/// Issue 19 item 2: `-o` never replaces what `svmkit` did not create, and a failed write
/// leaves the previous output intact.
@Suite("svmkit: outputs are written safely")
struct CLIOutputSafetyTests {
    @Test("A device node given to -o is refused and left a device node", arguments: [
        "\"$SVMKIT\" fdt pseries --memory 1G -o /dev/null",
        "\"$SVMKIT\" esm keygen -o k --name o >/dev/null && \"$SVMKIT\" esm create --origin k/o-pubkey.pem -o /dev/null",
        "\"$SVMKIT\" boot --trace /dev/null",
        "\"$SVMKIT\" bench swiotlb --output /dev/null",
    ])
    func deviceNode(script: String) async throws {
        let r = try await CLIShell.run(script)
        #expect(!r.signalled && r.status == 2, "\(r.summary): \(r.stderr)")
        #expect(r.stderr.contains("/dev/null") && r.stderr.contains("is a character device"), "\(r.stderr)")
        var info = stat()
        #expect(stat("/dev/null", &info) == 0 && info.st_mode & S_IFMT == S_IFCHR)
    }

    @Test("A FIFO given to -o is refused")
    func fifo() async throws {
        let r = try await CLIShell.run("mkfifo f && \"$SVMKIT\" fdt pseries --memory 1G -o f")
        #expect(r.status == 2 && r.stderr.contains("f: is a FIFO"), "\(r.summary): \(r.stderr)")
    }

    @Test("A symbolic link to an existing file is refused; the target is untouched; --force replaces the link only")
    func symbolicLink() async throws {
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("precious.txt")
        try Data("KEEP\n".utf8).write(to: target)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: target.path)
        let r = try await CLIShell.run("\"$SVMKIT\" fdt pseries --memory 1G -o link", in: dir)
        #expect(r.status == 2 && r.stderr.contains("link: is a symbolic link"), "\(r.summary): \(r.stderr)")
        #expect(try String(contentsOf: target, encoding: .utf8) == "KEEP\n")
        // In-place ESM edits through a link are refused too.
        let esm = try await CLIShell.run(
            "\"$SVMKIT\" esm keygen -o k --name o >/dev/null && \"$SVMKIT\" esm create --origin k/o-pubkey.pem -o real.dtb >/dev/null"
                + " && ln -s real.dtb blob.dtb && \"$SVMKIT\" esm detach blob.dtb --name rootd", in: dir)
        #expect(esm.status == 2 && esm.stderr.contains("blob.dtb: cannot write blob: is a symbolic link"), "\(esm.summary): \(esm.stderr)")

        let forced = try await CLIShell.run("\"$SVMKIT\" fdt pseries --memory 1G -o link --force", in: dir)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try String(contentsOf: target, encoding: .utf8) == "KEEP\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("link").path)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
    }

    @Test("A write that fails part-way (file-size limit) exits 1 and leaves the previous output intact")
    func failedWriteKeepsOldOutput() async throws {
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("guest.dtb")
        try Data("OLD\n".utf8).write(to: out)
        // ulimit -f 1: one block; the pseries tree is several KiB, so write(2) fails with EFBIG.
        let r = try await CLIShell.run("ulimit -f 1 && \"$SVMKIT\" fdt pseries --memory 1G --cpus 8 -o guest.dtb", in: dir)
        #expect(!r.signalled && r.status == 1, "\(r.summary): \(r.stderr)")
        #expect(r.stderr.contains("guest.dtb: cannot write: File too large (nothing was replaced)"), "\(r.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8) == "OLD\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["guest.dtb"], "no temporary file left behind")
    }

    @Test("bench swiotlb checks --output before the run, not after it")
    func benchOutputCheckedFirst() async throws {
        let r = try await CLIShell.run("\"$SVMKIT\" bench swiotlb --seconds 30 --output /nonexistent-dir/b.json")
        #expect(r.status == 2 && r.stderr.contains("--output /nonexistent-dir/b.json: directory /nonexistent-dir does not exist"), "\(r.stderr)")
    }
}
