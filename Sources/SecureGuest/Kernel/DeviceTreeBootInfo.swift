public import DeviceTree
public import PowerABI

/// What the kernel learns from the flattened device tree before it sets up memory.
///
/// Models the parts of `early_init_devtree()` (`arch/powerpc/kernel/prom.c`) SVMKit
/// needs: `/memory@0`, the reserve map (QEMU's kernel and initrd entries and the
/// Ultravisor's reserved pages, reference/ultravisor-facts.md §2.5),
/// `/chosen/bootargs`, `linux,initrd-start`/`-end`, `qemu,boot-kernel`, the RTAS
/// instance (`/rtas/linux,rtas-base`, `rtas-size`), the vCPU threads of `/cpus`,
/// `/hypervisor` (`check_kvm_guest()`) and the interrupt controller (XICS or XIVE).
public struct DeviceTreeBootInfo: Hashable, Sendable {
    /// The tree itself.
    public let tree: DeviceTree
    /// Where it lies in guest memory.
    public let address: GuestPhysicalAddress
    /// Its `totalsize`.
    public let totalSize: UInt64
    /// RAM described by the `/memory` nodes that start at 0 and are contiguous from 0.
    public let memoryBytes: UInt64
    /// The reserve map.
    public let reserveMap: [DeviceTreeRegion]
    /// `/chosen/bootargs`, or "".
    public let bootargs: String
    /// `/chosen/linux,initrd-start` … `-end`, if present.
    public let initrd: DeviceTreeRegion?
    /// `/chosen/qemu,boot-kernel` (address, size), if present.
    public let kernel: DeviceTreeRegion?
    /// The RTAS instance, if `/rtas` says where it is.
    public let rtas: DeviceTreeRegion?
    /// vCPU threads under `/cpus`: core nodes × the first core's
    /// `ibm,ppc-interrupt-server#s` entries, 0 if none.
    public let cpuThreads: Int
    /// Threads per core: the length of the last core's `ibm,ppc-interrupt-server#s`
    /// (`nthreads` in `smp_setup_cpu_maps()`), 1 without one.
    public let threadsPerCore: Int
    /// The partition's maximum processor count from `/rtas/ibm,lrdr-capacity`: the
    /// cell after `#address-cells` + `#size-cells` of the root, times
    /// ``threadsPerCore`` (QEMU writes `maxcpus / threads` there), or `nil` without
    /// the property.
    public let lrdrCapacityCPUs: Int?
    /// `/hypervisor` compatible `linux,kvm` (`nil` when there is no `/hypervisor` node).
    public let hypervisorIsKVM: Bool?
    /// The interrupt controller is the sPAPR XIVE (`ibm,power-ivpe`), not XICS.
    public let xive: Bool

    /// Reads a packed tree found at `address`.
    public init(tree: DeviceTree, address: GuestPhysicalAddress) {
        self.tree = tree
        self.address = address
        self.totalSize = UInt64(tree.totalSize)
        var memory: UInt64 = 0
        var ranges: [DeviceTreeRegion] = []
        // Only top-level nodes are looked at: a full walk by path is quadratic in libfdt,
        // and a 4096-vCPU tree has 4096 cpu nodes.
        for name in (try? tree.subnodes(of: "/")) ?? [] where name == "memory" || name.hasPrefix("memory@") {
            ranges += (try? tree.reg(at: DeviceTree.join("/", name))) ?? []
        }
        for r in ranges.sorted(by: { $0.address < $1.address }) where r.address == memory { memory += r.size }
        self.memoryBytes = memory
        self.reserveMap = tree.reserveMap
        self.bootargs = (try? tree.string("bootargs", at: "/chosen")) ?? ""
        func number(_ name: String, at path: String) -> UInt64? {
            guard let bytes = tree.propertyIfPresent(name, at: path) else { return nil }
            switch bytes.count {
            case 4: return UInt64(BigEndianCells.u32(bytes, at: 0))
            case 8: return BigEndianCells.u64(bytes, at: 0)
            default: return nil
            }
        }
        if let start = number("linux,initrd-start", at: "/chosen"), let end = number("linux,initrd-end", at: "/chosen"),
            end > start
        {
            initrd = DeviceTreeRegion(address: start, size: end - start)
        } else {
            initrd = nil
        }
        if let k = tree.propertyIfPresent("qemu,boot-kernel", at: "/chosen"), k.count == 16 {
            kernel = DeviceTreeRegion(address: BigEndianCells.u64(k, at: 0), size: BigEndianCells.u64(k, at: 8))
        } else {
            kernel = nil
        }
        if let base = number("linux,rtas-base", at: "/rtas"), let size = number("rtas-size", at: "/rtas"), size > 0 {
            rtas = DeviceTreeRegion(address: base, size: size)
        } else {
            rtas = nil
        }
        // Threads = core nodes × the first core's `ibm,ppc-interrupt-server#s` length, as
        // the Ultravisor counts them (reference/ultravisor-facts.md §2.5).
        let cores = ((try? tree.subnodes(of: "/cpus")) ?? []).filter { $0.contains("@") }
        if let first = cores.first {
            let servers = tree.propertyIfPresent("ibm,ppc-interrupt-server#s", at: DeviceTree.join("/cpus", first))
            cpuThreads = cores.count * max(1, (servers?.count ?? 4) / 4)
        } else {
            cpuThreads = 0
        }
        if let last = cores.last,
            let servers = tree.propertyIfPresent("ibm,ppc-interrupt-server#s", at: DeviceTree.join("/cpus", last)),
            servers.count >= 4
        {
            threadsPerCore = servers.count / 4
        } else {
            threadsPerCore = 1
        }
        let addressCells = (try? tree.u32("#address-cells", at: "/")).map(Int.init) ?? 1  // OF_ROOT_NODE_ADDR_CELLS_DEFAULT
        let sizeCells = (try? tree.u32("#size-cells", at: "/")).map(Int.init) ?? 1  // OF_ROOT_NODE_SIZE_CELLS_DEFAULT
        if let capacity = tree.propertyIfPresent("ibm,lrdr-capacity", at: "/rtas"),
            capacity.count >= (addressCells + sizeCells + 1) * 4
        {
            let cell = Int(BigEndianCells.u32(capacity, at: (addressCells + sizeCells) * 4))
            lrdrCapacityCPUs = cell.multipliedReportingOverflow(by: threadsPerCore).overflow
                ? Int.max : cell * threadsPerCore
        } else {
            lrdrCapacityCPUs = nil
        }
        if tree.hasNode("/hypervisor") {
            hypervisorIsKVM = ((try? tree.stringList("compatible", at: "/hypervisor")) ?? []).contains("linux,kvm")
        } else {
            hypervisorIsKVM = nil
        }
        xive = !tree.nodes(compatibleWith: "ibm,power-ivpe").isEmpty
    }

    /// Models how `smp_setup_cpu_maps()` and `setup_nr_cpu_ids()`
    /// (`arch/powerpc/kernel/setup-common.c (6.12)`) make the possible-CPU count
    /// (`num_possible_cpus()`, then `nr_cpu_ids`) on a pseries LPAR: the threads of the
    /// `cpu` nodes, and CPUs 0 up to the `ibm,lrdr-capacity` maximum (QEMU's
    /// `maxcpus`), both capped at `nrCPUs` (`CONFIG_NR_CPUS`, or `nr_cpus=`).
    /// - Parameters:
    ///   - nrCPUs: `nr_cpu_ids` before the tree is read.
    ///   - running: vCPUs the machine has, used when the tree has no `cpu` nodes.
    public func possibleCPUs(nrCPUs: Int, running: Int) -> Int {
        let present = cpuThreads > 0 ? cpuThreads : running
        let capacity = lrdrCapacityCPUs.map { min($0, nrCPUs) } ?? 0
        return max(1, min(max(present, capacity), max(nrCPUs, 1)))
    }

    /// Reads the tree at `address` through `read` (header first, then `totalsize`
    /// bytes, at most `maximumBytes`).
    static func read(
        at address: GuestPhysicalAddress, maximumBytes: Int = 16 << 20,
        _ read: (GuestPhysicalAddress, Int) throws -> [UInt8]
    ) -> Result<DeviceTreeBootInfo, GuestKernelError> {
        let header: [UInt8]
        do {
            header = try read(address, DeviceTree.headerSize)
        } catch {
            return .failure(.deviceTree(address: address, reason: "cannot read the header: \(error)"))
        }
        guard BigEndianCells.u32(header, at: 0) == DeviceTree.magic else {
            return .failure(.deviceTree(address: address, reason: "no FDT magic"))
        }
        let total = Int(BigEndianCells.u32(header, at: 4))
        guard total >= DeviceTree.headerSize, total <= maximumBytes else {
            return .failure(.deviceTree(address: address, reason: "totalsize \(total) is out of range"))
        }
        do {
            let bytes = try read(address, total)
            let tree = try DeviceTree(bytes: bytes)
            return .success(DeviceTreeBootInfo(tree: tree, address: address))
        } catch {
            return .failure(.deviceTree(address: address, reason: "\(error)"))
        }
    }
}
