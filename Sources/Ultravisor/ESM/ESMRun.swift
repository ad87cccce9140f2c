import DeviceTree
import ESM
@_spi(Firmware) import PEFMachine
import PowerABI

/// Why a step of `UV_ESM` failed: the step and the exact cause (the firmware's
/// `pr_error` lines, made precise: which node, which property, which digest).
struct ESMFailure: Error {
    let step: ESMStep
    let cause: String

    init(_ step: ESMStep, _ cause: String) {
        self.step = step
        self.cause = cause
    }
}

/// The state of one `UV_ESM` call while it runs (`struct refl_state` and the parts of
/// `struct svm` that `uv_esm_svm()` fills in): the arguments, the SVM's working copy of
/// the device tree, what the `svm_ops` handlers found, and the report under construction.
struct ESMRun {
    let context: UltravisorContext
    let kernelBase: UInt64
    let fdtAddress: UInt64
    let policy: ESMCheckPolicy

    /// `svm->fdt.wc_fdt`: the working copy, opened in ``workingCapacity`` bytes.
    var working = DeviceTree()
    /// ALIGN_UP(totalsize, 64 KiB): the buffer `fdt_open_into` got (§2.5 step 2).
    var workingCapacity = 0
    /// `svm_get_rmo_top()`.
    var rmoTop: UInt64 = 0
    /// `svm->vcpus.max`.
    var maximumProcessors: UInt32 = 0

    var log: [String] = []
    var checks: [ESMCheck] = []
    var regions: [ESMReservedRegion] = []
    var pseudoShared: [UInt64] = []
    var blobSource: String?
    var attachments: [String] = []

    init(context: UltravisorContext, kernelBase: UInt64, fdtAddress: UInt64, policy: ESMCheckPolicy) {
        self.context = context
        self.kernelBase = kernelBase
        self.fdtAddress = fdtAddress
        self.policy = policy
    }

    var machine: Machine { context.machine }

    /// Adds a line to the call's log (the trace notes and the report).
    mutating func note(_ line: String) { log.append(line) }

    /// Records a preliminary check that passed.
    mutating func passed(_ name: String, _ detail: String) {
        checks.append(ESMCheck(name: name, passed: true, detail: detail))
    }

    /// Records a preliminary check that failed and returns the failure to throw.
    mutating func failed(_ name: String, _ step: ESMStep, _ cause: String) -> ESMFailure {
        checks.append(ESMCheck(name: name, passed: false, detail: cause))
        return ESMFailure(step, cause)
    }

    // MARK: Reading the working FDT (`svm_fdt_prop_get` and friends)

    /// The raw property `name` of `node`, or a failure naming the missing node or
    /// property.
    func property(_ name: String, at node: String, step: ESMStep) throws(ESMFailure) -> [UInt8] {
        guard working.hasNode(node) else { throw ESMFailure(step, "node \(node) not found in the device tree") }
        guard let value = working.propertyIfPresent(name, at: node) else {
            throw ESMFailure(step, "missing property \(Self.path(node, name))")
        }
        return value
    }

    /// `svm_fdt_prop_u32_get`: cell 0 of the property.
    func u32(_ name: String, at node: String, step: ESMStep) throws(ESMFailure) -> UInt32 {
        let value = try property(name, at: node, step: step)
        guard value.count >= 4 else {
            throw ESMFailure(
                step, "\(Self.path(node, name)) is \(value.count) bytes, not a 32-bit cell (the firmware asserts)")
        }
        return BigEndianCells.u32(value, at: 0)
    }

    /// `svm_fdt_prop_gpa_get`: two cells combined when the property has at least 8
    /// bytes, else cell 0 (reference/ultravisor-facts.md §2.6 step 2).
    func address(_ name: String, at node: String, step: ESMStep) throws(ESMFailure) -> UInt64 {
        let value = try property(name, at: node, step: step)
        if value.count >= 8 { return BigEndianCells.u64(value, at: 0) }
        guard value.count >= 4 else {
            throw ESMFailure(step, "\(Self.path(node, name)) is \(value.count) bytes, not an address (the firmware asserts)")
        }
        return UInt64(BigEndianCells.u32(value, at: 0))
    }

    /// `/node/property`.
    static func path(_ node: String, _ name: String) -> String { node == "/" ? "/" + name : node + "/" + name }

    /// `0x…` for an address.
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
