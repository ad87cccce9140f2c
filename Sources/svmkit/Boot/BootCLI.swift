import ArgumentParser
import Foundation
import SVMKit

/// Input handling and output helpers shared by `svmkit boot` and the commands built on it.
enum BootCLI {
    /// Exit status for bad input.
    static let badInput = ExitCode(2)

    /// Prints `svmkit <command>: <message>` to standard error and returns exit status 2 to throw.
    static func fail(_ message: String, command: String = "boot") -> ExitCode {
        FileHandle.standardError.write(Data("svmkit \(command): \(message)\n".utf8))
        return badInput
    }

    /// The bytes of the file given for `option`.
    static func read(_ path: String, _ option: String) throws(ExitCode) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw fail("\(option) \(path): \(reason)")
        }
    }

    /// A size or address given for `option` (512M, 4G, 0x400000).
    static func size(_ text: String, _ option: String) throws(ExitCode) -> UInt64 {
        do { return try ByteCount.parse(text, option: option) } catch { throw fail(error.description) }
    }

    /// Writes `text` to the file given for `option`.
    static func write(_ text: String, to path: String, _ option: String) throws(ExitCode) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw fail("\(option) \(path): cannot write: \(error.localizedDescription)")
        }
    }

    /// Prints `value` as pretty, key-sorted JSON.
    static func printJSON(_ value: some Encodable) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) { print(String(decoding: data, as: UTF8.self)) }
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
