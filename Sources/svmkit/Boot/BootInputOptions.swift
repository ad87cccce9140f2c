import ArgumentParser
import Foundation
import SVMKit

/// What to boot: the inputs `svmkit boot` and `svmkit faults walk` share (guest size,
/// command line, device tree, kernel, initrd, ESM blob, TPM, firmware, seed), and how
/// they make a `BootConfiguration`.
struct BootInputOptions: ParsableArguments {
    @Option(help: "Guest RAM, e.g. 512M, 4G (ignored with --fdt).") var memory: String = "4G"
    @Option(help: "vCPUs (ignored with --fdt).") var cpus: Int = 4
    @Option(help: "Kernel command line, written to /chosen/bootargs (default: svm=on swiotlb=force console=hvc0; with --fdt, the tree's own bootargs).")
    var cmdline: String?
    @Option(help: "Device tree to boot from (e.g. QEMU -machine pseries,dumpdtb=FILE); memory and CPUs come from it.")
    var fdt: String?
    @Option(help: "Kernel image as `objcopy -O binary` makes it (not an ELF vmlinux).") var kernel: String?
    @Option(help: "Kernel base address (default: /chosen/qemu,boot-kernel, else 0x400000).") var kbase: String?
    @Option(help: "Initrd; an ESM blob is put in front of it unless it has one (or --esm is given).") var initrd: String?
    @Option(help: "ESM blob placed by /chosen/linux,esm-blob-start/-end (the boot-wrapper path).") var esm: String?
    @Option(name: .customLong("tpm-key"), help: "PEM private key the embedded TPM holds at 0x81800001 (not with --tpm swtpm:…).")
    var tpmKey: String?
    @Option(help: ArgumentHelp(
        "Which TPM holds the wrapping key: embedded (the simulated TPM) or swtpm:HOST:PORT (a running swtpm; needs --tpm-dir).",
        valueName: "embedded|swtpm:HOST:PORT"))
    var tpm: String = "embedded"
    @Option(name: .customLong("tpm-dir"), help: ArgumentHelp(
        "With --tpm swtpm:…: the directory Scripts/swtpm-provision wrote (wrapping-key.json, tpmrsapubkey.pem).",
        valueName: "DIR"))
    var tpmDir: String?
    @Option(name: .customLong("tpm-timeout"), help: ArgumentHelp(
        "With --tpm swtpm:…: seconds to wait for swtpm to connect and to answer each command.", valueName: "seconds"))
    var tpmTimeout: Double = Double(SwtpmBackend.defaultTimeoutMilliseconds) / 1000
    @OptionGroup var firmwareOptions: FirmwareOptions
    @OptionGroup var kernelProfile: KernelProfileOptions
    @Option(help: "Seed of the machine's generator: the same seed gives the same trace.") var seed: UInt64 = 1

    /// `--tpm embedded` or `--tpm swtpm:HOST:PORT --tpm-dir DIR`.
    func tpmChoice(command: String = "boot") throws(ExitCode) -> BootTPM {
        if tpm == "embedded" {
            if let tpmDir { throw BootCLI.fail("--tpm-dir \(tpmDir): only used with --tpm swtpm:HOST:PORT", command: command) }
            return .embedded
        }
        guard tpm.hasPrefix(SwtpmAddress.specPrefix) else {
            throw BootCLI.fail("--tpm \(tpm): expected embedded or swtpm:HOST:PORT (e.g. swtpm:127.0.0.1:2321)", command: command)
        }
        do { _ = try SwtpmAddress.parse(tpm) } catch { throw BootCLI.fail("--tpm \(tpm): \(error)", command: command) }
        guard let tpmDir else {
            throw BootCLI.fail(
                "--tpm \(tpm): needs --tpm-dir DIR, the directory Scripts/swtpm-provision wrote (wrapping-key.json, tpmrsapubkey.pem)",
                command: command)
        }
        guard tpmTimeout.isFinite, tpmTimeout >= 0.001, tpmTimeout <= 3600 else {
            throw BootCLI.fail("--tpm-timeout \(tpmTimeout): expected 0.001 to 3600 seconds", command: command)
        }
        do {
            return .external(try ExternalTPM.swtpm(spec: tpm, directory: tpmDir, timeoutMilliseconds: Int(tpmTimeout * 1000)))
        } catch { throw BootCLI.fail(error.description, command: command) }
    }

    /// The configuration these options describe; a bad value exits 2, the message naming
    /// `svmkit <command>` and the option.
    func makeConfiguration(command: String = "boot") throws(ExitCode) -> BootConfiguration {
        var c = BootConfiguration()
        c.memoryBytes = try BootCLI.size(memory, "--memory", command: command)
        guard cpus >= 1 else { throw BootCLI.fail("--cpus \(cpus): must be at least 1", command: command) }
        c.cpuCount = cpus
        if let fdt { c.deviceTree = try BootCLI.read(fdt, "--fdt", limit: CLIInput.Limit.deviceTree, what: "a device tree", command: command) }
        c.commandLine = try BootCLI.commandLine(cmdline, deviceTree: c.deviceTree, command: command)
        if let kernel {
            c.kernel = try BootCLI.read(kernel, "--kernel", limit: CLIInput.Limit.image, what: "a kernel image (it must fit under 768 MiB)", command: command)
            if let k = c.kernel, k.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                throw BootCLI.fail(
                    "--kernel \(kernel): is an ELF file (a vmlinux); the Ultravisor hashes the raw image loaded at kbase: run objcopy -O binary \(kernel) vmlinux.bin and give that",
                    command: command)
            }
        }
        if let kbase { c.kernelBase = try BootCLI.size(kbase, "--kbase", command: command) }
        if let initrd { c.initrd = try BootCLI.read(initrd, "--initrd", limit: CLIInput.Limit.image, what: "an initrd (it must fit under 768 MiB)", command: command) }
        if let esm { c.wrapperBlob = try BootCLI.read(esm, "--esm", limit: CLIInput.Limit.blob, what: "an ESM blob", command: command) }
        if let tpmKey, tpm != "embedded" {
            throw BootCLI.fail("--tpm-key \(tpmKey): cannot be used with --tpm \(tpm): that TPM holds the key (its public key comes from --tpm-dir)", command: command)
        }
        c.tpm = try tpmChoice(command: command)
        if let tpmKey {
            c.tpmKeyPEM = String(decoding: try BootCLI.read(tpmKey, "--tpm-key", limit: CLIInput.Limit.key, what: "a key", command: command), as: UTF8.self)
        }
        try firmwareOptions.apply(to: &c, command: command)
        try kernelProfile.apply(to: &c, command: command)
        c.seed = seed
        return c
    }
}
