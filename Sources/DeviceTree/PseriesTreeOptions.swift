/// What ``PseriesTreeBuilder`` needs to know to describe a pseries guest: the
/// numbers QEMU takes from `-m`, `-smp`, `-kernel`, `-initrd` and `-append`.
///
/// ```swift
/// var options = PseriesTreeOptions(memoryBytes: 4 << 30, cpuCount: 4)
/// options.bootargs = "console=hvc0 svm=on"
/// let tree = try PseriesTreeBuilder.tree(options)
/// ```
public struct PseriesTreeOptions: Hashable, Sendable {
    /// Guest RAM in bytes (`-m`): `/memory@0` `reg` and the hash-table size. A
    /// non-zero multiple of 64 KiB, the pseries page size. (QEMU itself refuses
    /// less than 128 MiB, SLOF's minimum real-mode area; nothing here needs SLOF.)
    public var memoryBytes: UInt64
    /// vCPUs (`-smp N`), 1 to ``PseriesTreeOptions/maximumCPUCount``; a multiple of
    /// ``threadsPerCore``.
    public var cpuCount: Int
    /// Hardware threads per core (`-smp N,threads=T`): 1, 2, 4 or 8. `/cpus` has one
    /// `PowerPC,POWER9@id` node per core whose `ibm,ppc-interrupt-server#s` lists
    /// its threads. QEMU's TCG allows only 1; KVM on POWER9 allows up to 8.
    public var threadsPerCore: Int
    /// The kernel command line, `/chosen/bootargs` (`-append`); omitted when `nil`,
    /// as QEMU omits it without `-append`.
    public var bootargs: String?
    /// Where the initrd was loaded: `/chosen/linux,initrd-start` = address and
    /// `linux,initrd-end` = address + size (one cell each when they fit in 32 bits,
    /// as QEMU writes them, else two), plus a reserve-map entry, as QEMU adds.
    public var initrd: DeviceTreeRegion?
    /// Where the kernel was loaded: `/chosen/qemu,boot-kernel` = <address size>
    /// as two 64-bit values, plus a reserve-map entry (QEMU 7.2 loads an ELF kernel
    /// at 0x400000).
    public var kernel: DeviceTreeRegion?
    /// When set, `/rtas` also gets the run-time properties that describe RTAS
    /// instantiated at this guest address, which the Ultravisor reads at `UV_ESM`
    /// (reference/ultravisor-facts.md §2.6, §3.4): `linux,rtas-base` and
    /// `linux,rtas-entry` (both this address; prom_init's `prom_instantiate_rtas()`
    /// writes them after SLOF's `instantiate-rtas`) and `slof,rtas-size` = 20, the
    /// size of SLOF's hv-RTAS stub, whose SHA-512 the ESM blob carries. `rtas-size`
    /// stays QEMU's value.
    public var rtasBase: UInt32?
    /// `/chosen/rng-seed` bytes (QEMU writes 32 random bytes each boot); omitted
    /// when `nil`, so generated trees are reproducible.
    public var rngSeed: [UInt8]?
    /// The root's `vm,uuid` (QEMU's `-uuid`, all zeros by default).
    public var uuid: String
    /// Extra memory reserve-map entries, written after the kernel's and initrd's.
    public var extraReservations: [DeviceTreeRegion]

    /// The most vCPUs a tree may describe: 4096, the Ultravisor's `MAX_GUEST_CPUS`
    /// (reference/ultravisor-facts.md §2.5).
    public static let maximumCPUCount = 4096
    /// The threads-per-core values POWER9 supports.
    public static let supportedThreadsPerCore = [1, 2, 4, 8]
    /// The pseries page size, 64 KiB: memory must be a multiple of it.
    public static let memoryGranule: UInt64 = 64 << 10

    /// Makes options for `cpuCount` vCPUs (one thread per core) and `memoryBytes`
    /// of RAM, with no kernel, initrd or command line.
    public init(
        memoryBytes: UInt64, cpuCount: Int, threadsPerCore: Int = 1, bootargs: String? = nil,
        initrd: DeviceTreeRegion? = nil, kernel: DeviceTreeRegion? = nil
    ) {
        self.memoryBytes = memoryBytes
        self.cpuCount = cpuCount
        self.threadsPerCore = threadsPerCore
        self.bootargs = bootargs
        self.initrd = initrd
        self.kernel = kernel
        self.rtasBase = nil
        self.rngSeed = nil
        self.uuid = "00000000-0000-0000-0000-000000000000"
        self.extraReservations = []
    }

    /// Checks every field.
    /// - Throws: ``FDTError`` with `.badValue` naming the field and value.
    public func validate() throws(FDTError) {
        guard memoryBytes > 0, memoryBytes % Self.memoryGranule == 0 else {
            throw FDTError(.badValue, "memory size \(memoryBytes) bytes is not a non-zero multiple of 64 KiB")
        }
        guard Self.supportedThreadsPerCore.contains(threadsPerCore) else {
            throw FDTError(.badValue, "threads per core \(threadsPerCore) is not one of 1, 2, 4, 8")
        }
        guard (1...Self.maximumCPUCount).contains(cpuCount) else {
            throw FDTError(.badValue, "cpu count \(cpuCount) is outside 1...\(Self.maximumCPUCount)")
        }
        guard cpuCount % threadsPerCore == 0 else {
            throw FDTError(.badValue, "cpu count \(cpuCount) is not a multiple of \(threadsPerCore) threads per core")
        }
        for (what, region) in [("initrd", initrd), ("kernel", kernel)] {
            guard let region else { continue }
            guard region.size > 0, region.end != nil else {
                throw FDTError(.badValue, "\(what) region \(region) is empty or wraps past 2^64")
            }
        }
        if let bootargs, bootargs.utf8.contains(0) {
            throw FDTError(.badValue, "bootargs contain a NUL byte")
        }
        if uuid.utf8.contains(0) { throw FDTError(.badValue, "uuid contains a NUL byte") }
    }
}
