import ArgumentParser
import DeviceTree
import Foundation
import SVMKit

/// Input handling and output helpers shared by `svmkit boot` and the commands built on it.
enum BootCLI {
    /// Exit status for bad input.
    static let badInput = CLIExit.badInputCode

    /// Prints `svmkit <command>: <message>` to standard error and returns exit status 2 to throw.
    static func fail(_ message: String, command: String = "boot") -> ExitCode {
        CLIExit.badInput(command, message)
    }

    /// The bytes of the file given for `option`, at most `limit` of them.
    static func read(_ path: String, _ option: String, limit: Int, what: String, command: String = "boot") throws(ExitCode) -> [UInt8] {
        do { return try CLIInput.read(path, limit: limit, what: what) } catch {
            throw fail("\(option) \(path): \(error.reason)", command: command)
        }
    }

    /// A size or address given for `option` (512M, 4G, 0x400000).
    static func size(_ text: String, _ option: String, command: String = "boot") throws(ExitCode) -> UInt64 {
        do { return try ByteCount.parse(text, option: option) } catch { throw fail(error.description, command: command) }
    }

    /// Checks, before the work starts, that the file given for `option` can be written.
    static func checkOutput(_ path: String?, _ option: String, force: Bool, command: String = "boot") throws(ExitCode) {
        guard let path else { return }
        do { try CLIOutput.check(path, force: force) } catch { throw CLIExit.badInput(command, "\(option) \(path): \(error.reason)") }
    }

    /// Writes `text` to the file given for `option`.
    static func write(_ text: String, to path: String, _ option: String, force: Bool, command: String = "boot") throws(ExitCode) {
        do { try CLIOutput.write(Array(text.utf8), to: path, force: force) } catch {
            CLIReporter.err("svmkit \(command): \(option) \(path): \(error.reason)\n")
            throw CLIExit.failure
        }
    }

    /// Prints `value` as pretty, key-sorted JSON.
    static func printJSON(_ value: some Encodable) {
        CLIReporter.out(CLIJSON.text(value))
    }
}

extension BootCLI {
    /// The default kernel command line of `svmkit boot` (and of the blob it makes):
    /// `svm=on swiotlb=force console=hvc0`.
    static let defaultCommandLine = BootConfiguration.defaultCommandLine

    /// The command line to boot with: `--cmdline` when given; else, with `--fdt`, the
    /// tree's own `/chosen/bootargs` (kept, as QEMU keeps `-append`); else the default.
    static func commandLine(_ given: String?, deviceTree: [UInt8]?, command: String = "boot") throws(ExitCode) -> String {
        if let given { return given }
        guard let deviceTree, let tree = try? DeviceTree(bytes: deviceTree),
            let raw = tree.propertyIfPresent("bootargs", at: "/chosen")
        else { return defaultCommandLine }
        let text = raw.last == 0 ? Array(raw.dropLast()) : raw
        guard let string = String(validating: text, as: UTF8.self) else {
            throw fail("--fdt: /chosen/bootargs is not UTF-8 text; give --cmdline", command: command)
        }
        return string
    }

    /// Applies `--firmware`, `--hv-touch` and `--esm-check` (nil: the firmware's
    /// default) to `configuration`; a bad value exits 2 naming the option.
    static func applyFirmwareOptions(
        firmware: String, hvTouch: String, esmCheck: String?, to configuration: inout BootConfiguration,
        command: String = "boot"
    ) throws(ExitCode) {
        guard let profile = FirmwareProfile(rawValue: firmware) else {
            throw fail("--firmware \(firmware): expected documented or open-power", command: command)
        }
        guard let touch = HypervisorTouch(rawValue: hvTouch) else {
            throw fail("--hv-touch \(hvTouch): expected page-out or stop", command: command)
        }
        configuration.firmware = profile
        configuration.hypervisorTouch = touch
        if let esmCheck {
            guard let policy = ESMCheckPolicy(rawValue: esmCheck) else {
                throw fail("--esm-check \(esmCheck): expected enforce or warn", command: command)
            }
            configuration.esmCheckPolicy = policy
        }
    }
}
