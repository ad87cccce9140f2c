import Foundation
import Testing

/// End-to-end tests of `svmkit fdt`, running the built binary.
@Suite("svmkit fdt: dump, get, pseries")
struct FDTCommandTests {
    @Test("pseries writes a tree dtc accepts; dump prints dtc's text for it")
    func pseriesThenDump() async throws {
        let file = FDTCLIRunner.temporary(".dtb")
        defer { try? FileManager.default.removeItem(at: file) }
        let gen = try await FDTCLIRunner.run(["fdt", "pseries", "--memory", "4G", "--cpus", "4", "-o", file.path])
        #expect(gen.status == 0, "\(gen.stderr)")
        #expect(gen.stdout.isEmpty)
        let (status, dts, warnings) = try await FDTCLIRunner.dtc(file)
        #expect(status == 0)
        #expect(warnings == "")
        let dump = try await FDTCLIRunner.run(["fdt", "dump", file.path])
        #expect(dump.status == 0)
        #expect(dump.text == dts)
        #expect(dump.text.contains("ibm,os-term = <0x201f>;"))
        #expect(dump.text.contains("reg = <0x00 0x00 0x01 0x00>;"))  // 4 GiB at 0
        #expect(dump.text.components(separatedBy: "device_type = \"cpu\";").count == 5)
        #expect(dump.text.contains("bootargs = \"console=hvc0\";"))
    }

    @Test("pseries options reach the tree; dts format and stdout through a pipe")
    func pseriesOptions() async throws {
        let r = try await FDTCLIRunner.run([
            "fdt", "pseries", "--memory", "2G", "--cpus", "8", "--threads", "2", "--cmdline", "console=hvc0 svm=on",
            "--initrd-start", "0x2000000", "--initrd-end", "0x2400000", "--kernel-size", "64K", "--rtas-base",
            "0x2ff00000", "--format", "dts",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let text = r.text
        #expect(text.hasPrefix("/dts-v1/;\n\n/memreserve/\t0x0000000000400000 0x0000000000010000;\n"))
        #expect(text.contains("bootargs = \"console=hvc0 svm=on\";"))
        #expect(text.contains("linux,initrd-start = <0x2000000>;"))
        #expect(text.contains("linux,initrd-end = <0x2400000>;"))
        #expect(text.contains("qemu,boot-kernel = <0x00 0x400000 0x00 0x10000>;"))
        #expect(text.contains("slof,rtas-size = <0x14>;"))
        #expect(text.contains("ibm,ppc-interrupt-server#s = <0x06 0x07>;"))
        #expect(text.contains("PowerPC,POWER9@6 {"))

        // Binary to a pipe (stdout is a file here, not a terminal).
        let bin = try await FDTCLIRunner.run(["fdt", "pseries", "--memory", "512M", "--cpus", "2"])
        #expect(bin.status == 0)
        #expect(bin.stdout.prefix(4) == [0xD0, 0x0D, 0xFE, 0xED])
        // ... and read back from stdin by dump.
        let dump = try await FDTCLIRunner.run(["fdt", "dump", "-"], stdin: bin.stdout)
        #expect(dump.status == 0)
        #expect(dump.text.contains("reg = <0x00 0x00 0x00 0x20000000>;"))
    }

    /// A bad `pseries` command line and a fragment its message must contain.
    struct BadCase: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var mentions: String
        init(_ arguments: [String], _ mentions: String) {
            self.arguments = arguments
            self.mentions = mentions
        }
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let badCases: [BadCase] = [
        BadCase(["--memory", "4X"], "--memory 4X"),
        BadCase(["--memory", "1.5G"], "fractions"),
        BadCase(["--memory", ""], "--memory"),
        BadCase(["--memory", "99999999999T"], "2^64"),
        BadCase(["--memory", "100"], "--memory 100"),
        BadCase(["--cpus", "0"], "--cpus"),
        BadCase(["--cpus", "5000"], "--cpus"),
        BadCase(["--cpus", "6", "--threads", "4"], "cpu count 6"),
        BadCase(["--threads", "3"], "--threads"),
        BadCase(["--initrd-start", "0x1000"], "--initrd-end"),
        BadCase(["--initrd-start", "0x2000", "--initrd-end", "0x1000"], "--initrd-end 0x1000"),
        BadCase(["--rtas-base", "8G"], "--rtas-base"),
        BadCase(["-o", "/nonexistent-dir/x.dtb"], "/nonexistent-dir/x.dtb"),
    ]

    @Test("pseries rejects bad values with exit 2 and a message naming them", arguments: badCases)
    func pseriesBadInput(bad: BadCase) async throws {
        let r = try await FDTCLIRunner.run(["fdt", "pseries", "--format", "dts"] + bad.arguments)
        #expect(r.status == 2)
        #expect(r.stderr.contains(bad.mentions), "\(r.stderr)")
        #expect(r.stderr.hasPrefix("svmkit fdt pseries: "))
    }

    @Test("dump of a QEMU fixture equals the committed dtc output")
    func dumpFixture() async throws {
        let dtb = FDTCLIRunner.fixture("qemu-pseries-kernel-2cpu-2G.dtb")
        let dts = try String(contentsOf: FDTCLIRunner.fixture("qemu-pseries-kernel-2cpu-2G.dts"), encoding: .utf8)
        let r = try await FDTCLIRunner.run(["fdt", "dump", dtb.path])
        #expect(r.status == 0)
        #expect(r.text == dts)
        let h = try await FDTCLIRunner.run(["fdt", "dump", "--header", dtb.path])
        #expect(h.text.hasPrefix("// magic:\t\t0xd00dfeed\n// totalsize:\t\t0x3fac (16300)\n"))
        #expect(h.text.contains("// boot_cpuid_phys:\t0x0\n"))
        #expect(h.text.hasSuffix(dts))
    }

    @Test("get prints a property, a node, and JSON")
    func get() async throws {
        let dtb = FDTCLIRunner.fixture("qemu-pseries-kernel-2cpu-2G.dtb").path
        let one = try await FDTCLIRunner.run(["fdt", "get", dtb, "/rtas", "ibm,os-term"])
        #expect(one.status == 0)
        #expect(one.text == "ibm,os-term = <0x201f>;\n")
        let node = try await FDTCLIRunner.run(["fdt", "get", dtb, "/vdevice"])
        #expect(node.status == 0)
        #expect(node.text.hasPrefix("vdevice {\n\tinterrupt-controller;\n\t#interrupt-cells = <0x02>;\n"))
        #expect(node.text.contains("\n\tvty@71000000 { /* 4 properties, 0 subnodes */ };\n"))
        #expect(node.text.hasSuffix("};\n"))

        let json = try await FDTCLIRunner.run(["fdt", "get", "--json", dtb, "/chosen", "bootargs"])
        #expect(json.status == 0)
        let p = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any])
        #expect(p["name"] as? String == "bootargs")
        #expect(p["form"] as? String == "string")
        #expect(p["strings"] as? [String] == ["console=hvc0 svm=on root=/dev/ram0"])
        let reg = try await FDTCLIRunner.run(["fdt", "get", "--json", dtb, "/memory@0", "reg"])
        let r = try #require(try JSONSerialization.jsonObject(with: Data(reg.stdout)) as? [String: Any])
        #expect(r["cells"] as? [Int] == [0, 0, 0, 0x8000_0000])
        #expect(r["hex"] as? String == "00000000000000000000000080000000")
        let cpus = try await FDTCLIRunner.run(["fdt", "get", "--json", dtb, "/cpus"])
        let c = try #require(try JSONSerialization.jsonObject(with: Data(cpus.stdout)) as? [String: Any])
        #expect(c["subnodes"] as? [String] == ["PowerPC,POWER9@0", "PowerPC,POWER9@1"])
        #expect((c["properties"] as? [[String: Any]])?.count == 6)
    }

    @Test("get names what is missing (exit 1)")
    func getMissing() async throws {
        let dtb = FDTCLIRunner.fixture("qemu-pseries-1cpu-1G.dtb").path
        let node = try await FDTCLIRunner.run(["fdt", "get", dtb, "/nope"])
        #expect(node.status == 1)
        #expect(node.stderr.contains("no node /nope"))
        let relative = try await FDTCLIRunner.run(["fdt", "get", dtb, "chosen"])
        #expect(relative.status == 1)
        #expect(relative.stderr.contains("paths start with /"))
        let prop = try await FDTCLIRunner.run(["fdt", "get", dtb, "/chosen", "bootargs"])
        #expect(prop.status == 1)
        #expect(prop.stderr.contains("node /chosen"))
        #expect(prop.stderr.contains("no property bootargs"))
        #expect(prop.stderr.contains("stdout-path"))
    }

    @Test("Unreadable files and malformed blobs exit 2 naming the file", arguments: ["dump", "get"])
    func badInput(command: String) async throws {
        let extra = command == "get" ? ["/"] : []
        let missing = try await FDTCLIRunner.run(["fdt", command, "/no/such/file.dtb"] + extra)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/no/such/file.dtb: does not exist"))

        let junk = FDTCLIRunner.temporary(".dtb")
        defer { try? FileManager.default.removeItem(at: junk) }
        try Data(String(repeating: "this is not a device tree. ", count: 8).utf8).write(to: junk)
        let bad = try await FDTCLIRunner.run(["fdt", command, junk.path] + extra)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains(junk.path))
        #expect(bad.stderr.contains("bad magic"))

        var truncated = Array(try Data(contentsOf: FDTCLIRunner.fixture("qemu-pseries-1cpu-1G.dtb")))
        truncated.removeLast(100)
        let cut = try await FDTCLIRunner.run(["fdt", command, "-"] + extra, stdin: truncated)
        #expect(cut.status == 2)
        #expect(cut.stderr.contains("truncated"))
    }

    @Test("Help explains the commands with examples")
    func help() async throws {
        for command in [["fdt"], ["fdt", "dump"], ["fdt", "get"], ["fdt", "pseries"]] {
            let r = try await FDTCLIRunner.run(command + ["--help"])
            #expect(r.status == 0)
            #expect(r.text.contains("Examples:"), "\(command)")
            #expect(r.text.contains("svmkit fdt"), "\(command)")
        }
        let p = try await FDTCLIRunner.run(["fdt", "pseries", "--help"])
        #expect(p.text.contains("512M, 4G, 1T"))
        #expect(p.text.contains("never written to a terminal"))
    }
}
