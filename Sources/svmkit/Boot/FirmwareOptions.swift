import ArgumentParser
import SVMKit

/// `--firmware`, `--hv-touch` and `--esm-check`, shared by `svmkit boot` and `svmkit soak`
/// (issue 15 items 1 and 7).
struct FirmwareOptions: ParsableArguments {
    @Option(name: .customLong("esm-check"), help: "enforce (abort UV_ESM on a failed check) or warn (continue, as the firmware's default build); default: enforce under --firmware documented, warn under open-power.")
    var esmCheck: String?
    @Option(help: ArgumentHelp(
        "Which Ultravisor: documented (the ABI as ultravisor.rst describes it) or open-power (the public firmware's observable behaviour).",
        valueName: "documented|open-power"))
    var firmware: String = "documented"
    @Option(name: .customLong("hv-touch"), help: ArgumentHelp(
        "A hypervisor access to a secure page: page-out (as on hardware: UV_PAGE_OUT, the hypervisor sees ciphertext) or stop (fail at once, for debugging).",
        valueName: "page-out|stop"))
    var hvTouch: String = "page-out"

    /// Sets them on `configuration`; a bad value exits 2 naming the option.
    func apply(to configuration: inout BootConfiguration, command: String) throws(ExitCode) {
        try BootCLI.applyFirmwareOptions(
            firmware: firmware, hvTouch: hvTouch, esmCheck: esmCheck, to: &configuration, command: command)
    }
}
