import ArgumentParser
import DeviceTree
import Foundation

/// `svmkit fdt pseries`: generate the device tree of a QEMU pseries guest.
struct FDTPseriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pseries",
        abstract: "Generate the device tree QEMU's pseries machine gives a guest.",
        discussion: """
            The tree is modelled on QEMU 7.2's (qemu-system-ppc64 -machine \
            pseries,dumpdtb=FILE, TCG, POWER9, XICS): root cells, /chosen, /rtas with \
            QEMU's service tokens (ibm,os-term = 0x201f) and ibm,lrdr-capacity, \
            /event-sources, /cpus with one PowerPC,POWER9@N node per core, /vdevice \
            with the hvterm console and NVRAM, /memory@0 and the interrupt controller. \
            It has no PCI bus.

            Sizes and addresses take a number (decimal or 0x hex) with an optional \
            binary suffix: K, M, G, T (512M, 4G, 1T, 0x400000, 64KiB).

            Output: -o FILE writes the tree there; -o - or no -o writes it to standard \
            output, except that a binary tree is never written to a terminal (give -o, \
            pipe it, or use --format dts).

            Examples:
              svmkit fdt pseries --memory 4G --cpus 4 -o guest.dtb
              svmkit fdt pseries --memory 2G --cpus 2 --cmdline "console=hvc0 svm=on" \\
                  --initrd-start 0x2000000 --initrd-end 0x2400000 -o guest.dtb
              svmkit fdt pseries --memory 1G --cpus 8 --threads 4 --format dts
              svmkit fdt pseries --memory 1G --cpus 2 | svmkit fdt dump -
            """
    )

    /// The output encodings.
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case dtb, dts
    }

    @Option(help: ArgumentHelp("Guest RAM: /memory@0 reg. A multiple of 64K.", valueName: "size"))
    var memory = "1G"

    @Option(help: ArgumentHelp("vCPUs (1-4096); a multiple of --threads.", valueName: "count"))
    var cpus = 1

    @Option(help: ArgumentHelp("Hardware threads per core: 1, 2, 4 or 8.", valueName: "count"))
    var threads = 1

    @Option(help: ArgumentHelp("The kernel command line, /chosen/bootargs; \"\" leaves bootargs out.", valueName: "string"))
    var cmdline = "console=hvc0"

    @Option(help: ArgumentHelp("Where the initrd starts: /chosen/linux,initrd-start (needs --initrd-end).", valueName: "address"))
    var initrdStart: String?

    @Option(help: ArgumentHelp("Where the initrd ends (exclusive): /chosen/linux,initrd-end.", valueName: "address"))
    var initrdEnd: String?

    @Option(help: ArgumentHelp("The loaded kernel's size: /chosen/qemu,boot-kernel and a reserve-map entry.", valueName: "size"))
    var kernelSize: String?

    @Option(help: ArgumentHelp("Where the kernel was loaded (with --kernel-size).", valueName: "address"))
    var kernelAddress = "0x400000"

    @Option(help: ArgumentHelp("Also write the run-time RTAS properties (linux,rtas-base, linux,rtas-entry, slof,rtas-size = 20) for RTAS instantiated at this address.", valueName: "address"))
    var rtasBase: String?

    @Option(help: "Output encoding: dtb (binary) or dts (source text).")
    var format: Format = .dtb

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Where to write; - is standard output.", valueName: "file"))
    var output: String?

    @Flag(help: "Replace a symbolic link, or write into a device node or FIFO, given to -o.")
    var force = false

    func run() throws {
        if let output, output != "-" {
            do { try CLIOutput.check(output, force: force) } catch { throw FDTInput.fail("pseries", "-o \(output): \(error.reason)") }
        }
        let options = try makeOptions()
        let tree: DeviceTree
        do { tree = try PseriesTreeBuilder.tree(options) } catch {
            throw FDTInput.fail("pseries", "\(error)")
        }
        let bytes = format == .dtb ? tree.bytes : Array(tree.renderDTS().utf8)
        guard let output, output != "-" else {
            if format == .dtb, isatty(STDOUT_FILENO) != 0 {
                throw FDTInput.fail("pseries", "refusing to write a binary device tree to a terminal; give -o FILE, pipe it, or use --format dts")
            }
            FDTInput.writeStandardOutput(bytes)
            return
        }
        do { try CLIOutput.write(bytes, to: output, force: force) } catch {
            throw FDTInput.fail("pseries", "-o \(output): \(error.reason)", CLIExit.failure)
        }
    }

    /// The builder's options from the command line.
    func makeOptions() throws(ExitCode) -> PseriesTreeOptions {
        func size(_ text: String, _ option: String) throws(ExitCode) -> UInt64 {
            do { return try ByteCount.parse(text, option: option) } catch { throw FDTInput.fail("pseries", error.description) }
        }
        let memoryBytes = try size(memory, "--memory")
        // A region given by `option` must lie inside the guest's RAM [0, --memory).
        func inMemory(_ address: UInt64, _ length: UInt64, _ option: String, _ text: String) throws(ExitCode) {
            let (end, overflow) = address.addingReportingOverflow(length)
            guard !overflow, end <= memoryBytes else {
                throw FDTInput.fail(
                    "pseries",
                    "\(option) \(text): the region [0x\(String(address, radix: 16)), + 0x\(String(length, radix: 16))) is outside the guest's memory (--memory \(memory) = \(ByteCount.describe(memoryBytes)))")
            }
        }
        var o = PseriesTreeOptions(
            memoryBytes: memoryBytes, cpuCount: cpus, threadsPerCore: threads,
            bootargs: cmdline.isEmpty ? nil : cmdline)
        switch (initrdStart, initrdEnd) {
        case (nil, nil):
            break
        case (let start?, let end?):
            let s = try size(start, "--initrd-start"), e = try size(end, "--initrd-end")
            guard e > s else {
                throw FDTInput.fail("pseries", "--initrd-end \(end) must be above --initrd-start \(start)")
            }
            try inMemory(s, e - s, "--initrd-start/--initrd-end", "\(start)..\(end)")
            o.initrd = DeviceTreeRegion(address: s, size: e - s)
        default:
            throw FDTInput.fail("pseries", "--initrd-start and --initrd-end go together; give both or neither")
        }
        if let kernelSize {
            let region = DeviceTreeRegion(address: try size(kernelAddress, "--kernel-address"), size: try size(kernelSize, "--kernel-size"))
            try inMemory(region.address, region.size, "--kernel-address/--kernel-size", "\(kernelAddress) + \(kernelSize)")
            o.kernel = region
        }
        if let rtasBase {
            let base = try size(rtasBase, "--rtas-base")
            guard base <= UInt64(UInt32.max) else {
                throw FDTInput.fail("pseries", "--rtas-base \(rtasBase) must be below 4G (linux,rtas-base is one cell)")
            }
            try inMemory(base, UInt64(PseriesTreeBuilder.slofRTASSize), "--rtas-base", rtasBase)
            o.rtasBase = UInt32(base)
        }
        do { try o.validate() } catch {
            throw FDTInput.fail("pseries", Self.explain(error, memory: memory))
        }
        return o
    }

    /// The builder's message, in terms of this command's options.
    static func explain(_ error: FDTError, memory: String) -> String {
        let c = error.context
        if c.hasPrefix("memory size") {
            let bytes = c.split(separator: " ").dropFirst(2).first.flatMap { UInt64($0) } ?? 0
            return "--memory \(memory) (\(ByteCount.describe(bytes))) must be a non-zero multiple of 64K"
        }
        if c.hasPrefix("cpu count") { return "--cpus: \(c)" }
        if c.hasPrefix("threads per core") { return "--threads: \(c)" }
        if c.hasPrefix("bootargs") { return "--cmdline: \(c)" }
        return c.isEmpty ? error.description : c
    }
}
