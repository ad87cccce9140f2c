import PowerABI

/// Builds the flattened device tree QEMU's `pseries` machine (QEMU 7.2, TCG,
/// default POWER9 CPU, XICS interrupt controller) hands a guest at reset, trimmed
/// to what a guest kernel and the Ultravisor read: the root cells, `/chosen`,
/// `/rtas` with QEMU's service tokens, `/event-sources`, `/cpus`, `/vdevice` with
/// the console (`vty@71000000`) and NVRAM, `/memory@0` and the
/// `/interrupt-controller`.
///
/// Modelled on, and tested against, the trees `qemu-system-ppc64 -machine
/// pseries,dumpdtb=FILE` writes (Tests/DeviceTreeTests/Fixtures, made by
/// Scripts/make-fixtures): every node built here carries the same properties, in
/// the same order and with the same values as in QEMU's dump, except:
/// - no PCI host bridge (`/pci@800000020000000`, with its VGA and USB devices),
///   no `/ibm,persistent-memory`, no `l-lan` and `v-scsi` virtual devices, no
///   PHB DRC lists on the root, and no `qemu,graphic-*` properties in `/chosen`;
/// - `/rtas`, `/cpus` and `/chosen` optional properties come from
///   ``PseriesTreeOptions`` (`rng-seed` only when given; SLOF's run-time RTAS
///   properties only with ``PseriesTreeOptions/rtasBase``);
/// - the `/cpus` DRC lists (`ibm,drc-indexes`, `-names`, `-types`,
///   `-power-domains`) are in ascending order, where QEMU lists them in its hash
///   table's order;
/// - the two interrupt providers without an address space, `/event-sources` and
///   `/interrupt-controller`, get `#address-cells = <0>`, which QEMU omits and
///   `dtc` warns about ("Missing #address-cells in interrupt provider").
///
/// The tree is built in order with ``DeviceTree/init(root:reserveMap:bootCPUIDPhys:)``;
/// `boot_cpuid_phys` is 0 and the reserve map holds the kernel, then the initrd,
/// then ``PseriesTreeOptions/extraReservations``.
public enum PseriesTreeBuilder {
    /// An RTAS service and the token QEMU gives it in `/rtas/<name>`.
    public struct RTASToken: Hashable, Sendable {
        /// The service name, e.g. `ibm,os-term`.
        public var name: String
        /// The token, e.g. 0x201f.
        public var token: UInt32

        /// Makes a name-token pair.
        public init(_ name: String, _ token: UInt32) {
            self.name = name
            self.token = token
        }
    }

    /// QEMU 7.2's RTAS services in registration order with their tokens
    /// (PowerABI's `RTASService`: `RTAS_TOKEN_BASE` 0x2000 plus the index, `hw/ppc/spapr_rtas.c`).
    /// Includes the 11 services the Ultravisor requires, `stop-self`, `ibm,os-term` =
    /// 0x201f and `ibm,nmi-register` (reference/ultravisor-facts.md §5.4).
    public static let rtasTokens: [RTASToken] = RTASService.allCases.map { RTASToken($0.name, $0.qemuToken) }

    /// The token of RTAS service `name` in ``rtasTokens``, if QEMU has it.
    public static func rtasToken(_ name: String) -> UInt32? { rtasTokens.first { $0.name == name }?.token }

    /// The console's path, `/chosen/stdout-path`.
    public static let consolePath = "/vdevice/vty@71000000"
    /// The XICS presentation controller's phandle (QEMU's `PHANDLE_INTC`).
    public static let interruptControllerPhandle: UInt32 = 0x1111
    /// SLOF's hv-RTAS stub size, `slof,rtas-size` (reference/ultravisor-facts.md §3.4).
    public static let slofRTASSize: UInt32 = 20
    /// QEMU's `SPAPR_MEMORY_BLOCK_SIZE`, 256 MiB: the LMB size in `ibm,lrdr-capacity`.
    public static let memoryBlockSize: UInt64 = 256 << 20
    /// The first DRC index of a CPU core (`SPAPR_DR_CONNECTOR_TYPE_CPU` << 28).
    public static let cpuDRCBase: UInt32 = 0x1000_0000

    /// The pseries tree for `options`, packed.
    /// - Throws: ``FDTError`` `.badValue` naming the option that is out of range.
    public static func tree(_ options: PseriesTreeOptions) throws(FDTError) -> DeviceTree {
        try options.validate()
        var reserve: [DeviceTreeRegion] = []
        if let kernel = options.kernel { reserve.append(kernel) }
        if let initrd = options.initrd { reserve.append(initrd) }
        reserve += options.extraReservations
        return try DeviceTree(root: try rootNode(options), reserveMap: reserve, bootCPUIDPhys: 0)
    }

    /// The root node of the tree for `options`, to adjust before building.
    /// - Throws: ``FDTError`` `.badValue` naming the option that is out of range.
    public static func rootNode(_ options: PseriesTreeOptions) throws(FDTError) -> DeviceTreeNode {
        try options.validate()
        return DeviceTreeNode(
            "",
            properties: [
                .u32("#size-cells", 2),
                .u32("#address-cells", 2),
                .string("vm,uuid", options.uuid),
                .string("compatible", "qemu,pseries"),
                .string("model", "IBM pSeries (emulated by qemu)"),
                .string("device_type", "chrp"),
            ],
            children: [
                chosen(options), rtas(options), eventSources(), cpus(options), vdevice(), memory(options),
                interruptController(options),
            ])
    }

    /// The hash page table size QEMU picks, as log2 bytes: RAM / 128 rounded up to a
    /// power of two, clamped to 2^18…2^46 (`spapr_hpt_shift_for_ramsize()` in
    /// `hw/ppc/spapr.c`); `ibm,pft-size` = <0 shift>.
    public static func hashTableShift(forMemory bytes: UInt64) -> UInt32 {
        guard bytes > 1 else { return 18 }
        let pow2Ceil = 64 - (bytes - 1).leadingZeroBitCount  // log2 of the next power of two
        return UInt32(min(max(pow2Ceil - 7, 18), 46))
    }

    /// `rtas-size` as QEMU 7.2 writes it: 2076 + 16 bytes per vCPU (matches every
    /// fixture: 1, 2, 4 and 16 vCPUs).
    public static func rtasSize(cpuCount: Int) -> UInt32 { UInt32(2076 + 16 * cpuCount) }

    /// `PowerPC,POWER9@<id in hex>`, the name of the core node whose first thread is `id`.
    public static func cpuNodeName(_ id: Int) -> String { "PowerPC,POWER9@" + String(id, radix: 16) }

    // MARK: Nodes

    static func chosen(_ o: PseriesTreeOptions) -> DeviceTreeNode {
        var p: [DeviceTreeProperty] = [DeviceTreeProperty("ibm,architecture-vec-5", [0, 0])]
        if let seed = o.rngSeed { p.append(DeviceTreeProperty("rng-seed", seed)) }
        p += [
            .cells("ibm,arch-vec-5-platform-support", [0x1780_18C0, 0x1900_1A40]),
            .u32("linux,pci-probe-only", 0),
            .string("stdout-path", consolePath),
            .string("linux,stdout-path", consolePath),
        ]
        if let k = o.kernel {
            p.append(DeviceTreeProperty("qemu,boot-kernel", BigEndianCells.bytes(k.address) + BigEndianCells.bytes(k.size)))
        }
        if let r = o.initrd {
            let end = r.address &+ r.size
            p.append(addressProperty("linux,initrd-end", end))
            p.append(addressProperty("linux,initrd-start", r.address))
        }
        if let args = o.bootargs { p.append(.string("bootargs", args)) }
        return DeviceTreeNode("chosen", properties: p)
    }

    /// One cell when the value fits in 32 bits (QEMU's `fdt_setprop_cell`), else two.
    static func addressProperty(_ name: String, _ value: UInt64) -> DeviceTreeProperty {
        value <= UInt64(UInt32.max) ? .u32(name, UInt32(value)) : .u64(name, value)
    }

    static func rtas(_ o: PseriesTreeOptions) -> DeviceTreeNode {
        var p = rtasTokens.reversed().map { DeviceTreeProperty.u32($0.name, $0.token) }
        let cores = UInt32(o.cpuCount / o.threadsPerCore)
        p += [
            // max device address (none without -maxmem), LMB size, max cores
            .cells("ibm,lrdr-capacity", [0, 0, UInt32(memoryBlockSize >> 32), UInt32(memoryBlockSize & 0xFFFF_FFFF), cores]),
            .empty("ibm,extended-os-term"),
            .empty("ibm,change-msix-capable"),
            .u32("rtas-event-scan-rate", 1),
            .u32("rtas-error-log-max", 0x800),
            .u32("rtas-size", rtasSize(cpuCount: o.cpuCount)),
            .cells("ibm,max-associativity-domains", [4, 0, 0, 0, 1]),
            .cells("ibm,associativity-reference-points", [4, 4, 2]),
            .string("qemu,hypertas-functions", "hcall-memop1"),
            .strings(
                "ibm,hypertas-functions",
                [
                    "hcall-pft", "hcall-term", "hcall-dabr", "hcall-interrupt", "hcall-tce", "hcall-vio",
                    "hcall-splpar", "hcall-join", "hcall-bulk", "hcall-set-mode", "hcall-sprg0", "hcall-copy",
                    "hcall-debug", "hcall-vphn", "hcall-multi-tce", "hcall-hpt-resize", "hcall-watchdog",
                ]),
        ]
        if let base = o.rtasBase {
            p += [.u32("linux,rtas-base", base), .u32("linux,rtas-entry", base), .u32("slof,rtas-size", slofRTASSize)]
        }
        return DeviceTreeNode("rtas", properties: p)
    }

    static func eventSources() -> DeviceTreeNode {
        DeviceTreeNode(
            "event-sources",
            properties: [
                .cells("interrupt-ranges", [0x1000, 1, 0x1001, 1]),
                .u32("#address-cells", 0),
                .u32("#interrupt-cells", 2),
                .empty("interrupt-controller"),
            ],
            children: [
                DeviceTreeNode("hot-plug-events", properties: [.cells("interrupts", [0x1001, 0])]),
                DeviceTreeNode("epow-events", properties: [.cells("interrupts", [0x1000, 0])]),
            ])
    }

    static func cpus(_ o: PseriesTreeOptions) -> DeviceTreeNode {
        let ids = Array(stride(from: 0, to: o.cpuCount, by: o.threadsPerCore))
        let count = BigEndianCells.bytes(UInt32(ids.count))
        var names: [UInt8] = []
        var types: [UInt8] = []
        for id in ids {
            names += Array("CPU \(id)".utf8) + [0]
            types += Array("CPU".utf8) + [0]
        }
        return DeviceTreeNode(
            "cpus",
            properties: [
                DeviceTreeProperty("ibm,drc-types", count + types),
                DeviceTreeProperty("ibm,drc-names", count + names),
                .cells("ibm,drc-power-domains", [UInt32(ids.count)] + ids.map { _ in 0xFFFF_FFFF }),
                .cells("ibm,drc-indexes", [UInt32(ids.count)] + ids.map { cpuDRCBase + UInt32($0) }),
                .u32("#size-cells", 0),
                .u32("#address-cells", 1),
            ],
            children: ids.map { cpu(id: $0, o) })
    }

    /// A POWER9 core node as QEMU's `spapr_dt_cpu()` writes it for TCG.
    static func cpu(id: Int, _ o: PseriesTreeOptions) -> DeviceTreeNode {
        let threads = (0..<o.threadsPerCore).map { UInt32(id + $0) }
        return DeviceTreeNode(
            cpuNodeName(id),
            properties: [
                .u32("ibm,dec-bits", 56),
                .cells("ibm,processor-radix-AP-encodings", [0x0C, 0xA000_0010, 0x2000_0015, 0x4000_001E]),
                .cells("ibm,ppc-interrupt-gserver#s", threads.flatMap { [$0, 0] }),
                .cells("ibm,ppc-interrupt-server#s", threads),
                .cells("ibm,pft-size", [0, hashTableShift(forMemory: o.memoryBytes)]),
                .u32("ibm,chip-id", 0),
                .cells(
                    "ibm,pa-features",
                    [
                        0x4200_F63F, 0xC7C0_80F0, 0x8000_0000, 0x0000_0000, 0x0000_8000, 0x8000_8000, 0x0000_8000,
                        0x8000_8000, 0x8000_8000, 0xC000_8000, 0x8000_8000, 0x8000_8000, 0x8000_8000, 0x8000_8000,
                        0x8000_8000, 0x8000_8000, 0x8000_0000,
                    ]),
                .cells("ibm,segment-page-sizes", [0x0C, 0x00, 0x01, 0x0C, 0x00, 0x10, 0x110, 0x01, 0x10, 0x01]),
                .u32("ibm,dfp", 1),
                .u32("ibm,vmx", 2),
                .cells("ibm,processor-segment-sizes", [0x1C, 0x28, 0xFFFF_FFFF, 0xFFFF_FFFF]),
                .u32("ibm,spurr", 1),
                .u32("ibm,purr", 1),
                .empty("64-bit"),
                .string("status", "okay"),
                .u32("ibm,slb-size", 32),
                .u32("slb-size", 32),
                .u32("clock-frequency", 1_000_000_000),
                .u32("timebase-frequency", 512_000_000),
                .u32("i-cache-size", 0x8000),
                .u32("d-cache-size", 0x8000),
                .u32("i-cache-line-size", 0x80),
                .u32("i-cache-block-size", 0x80),
                .u32("d-cache-line-size", 0x80),
                .u32("d-cache-block-size", 0x80),
                .u32("cpu-version", 0x004E_1200),  // POWER9 DD2.0 PVR
                .string("device_type", "cpu"),
                .u32("reg", UInt32(id)),
                .u32("ibm,my-drc-index", cpuDRCBase + UInt32(id)),
            ])
    }

    static func vdevice() -> DeviceTreeNode {
        DeviceTreeNode(
            "vdevice",
            properties: [
                .empty("interrupt-controller"),
                .u32("#interrupt-cells", 2),
                .u32("#size-cells", 0),
                .u32("#address-cells", 1),
                .string("compatible", "IBM,vdevice"),
                .string("device_type", "vdevice"),
            ],
            children: [
                DeviceTreeNode(
                    "vty@71000000",
                    properties: [
                        .cells("interrupts", [0x1100, 0]),
                        .string("compatible", "hvterm1"),
                        .string("device_type", "serial"),
                        .u32("reg", 0x7100_0000),
                    ]),
                DeviceTreeNode(
                    "nvram@71000001",
                    properties: [
                        .u32("#bytes", 0x10000),
                        .cells("interrupts", [0x1101, 0]),
                        .string("compatible", "qemu,spapr-nvram"),
                        .string("device_type", "nvram"),
                        .u32("reg", 0x7100_0001),
                    ]),
            ])
    }

    static func memory(_ o: PseriesTreeOptions) -> DeviceTreeNode {
        DeviceTreeNode(
            "memory@0",
            properties: [
                .cells("ibm,associativity", [4, 0, 0, 0, 0]),
                .cells("reg", [0, 0, UInt32(o.memoryBytes >> 32), UInt32(o.memoryBytes & 0xFFFF_FFFF)]),
                .string("device_type", "memory"),
            ])
    }

    static func interruptController(_ o: PseriesTreeOptions) -> DeviceTreeNode {
        DeviceTreeNode(
            "interrupt-controller",
            properties: [
                .u32("phandle", interruptControllerPhandle),
                .u32("linux,phandle", interruptControllerPhandle),
                .u32("#address-cells", 0),
                .u32("#interrupt-cells", 2),
                .cells("ibm,interrupt-server-ranges", [0, UInt32(o.cpuCount)]),
                .empty("interrupt-controller"),
                .string("compatible", "IBM,ppc-xicp"),
                .string("device_type", "PowerPC-External-Interrupt-Presentation"),
            ])
    }
}
