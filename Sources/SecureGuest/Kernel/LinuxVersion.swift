public import SWIOTLB

/// Which Linux stable series the guest kernel behaves as (`svmkit boot --linux`).
///
/// A profile names a stable series as its last release describes it (5.4.y, 5.10.y,
/// 6.1.y, 6.12.y) and changes only what that kernel really does differently for a
/// secure guest; everything else is the same code. 6.1 and 6.12 are read from Debian's
/// `linux-source-6.1` (6.1.192) and `linux-source-6.12` (6.12.118); 5.4 and 5.10 from
/// 5.4.301 and 5.10.265, the newest stable trees found in the public code index
/// (``release``). Each property cites the function it was checked against as
/// `file: function (release)`.
///
/// The difference that matters most is where the SWIOTLB bounce pool comes from:
///
/// | series | pool without `swiotlb=force` | bouncing forced by `init_svm()` |
/// |---|---|---|
/// | 5.4.y | yes, low memory | yes (`swiotlb_force`, a runtime global) |
/// | 5.10.y | yes, anywhere (`svm_swiotlb_init()`) | yes |
/// | 6.1.y, 6.12.y | **no** | **no** (`force_bounce` is latched at init) |
///
/// See ``secureGuestPoolWithoutForce`` and ``initSVMForcesBounce``. The other
/// differences, each cited on its property:
///
/// | fact | 5.4.y | 5.10.y | 6.1.y, 6.12.y | property |
/// |---|---|---|---|---|
/// | pool placement | below 4 GiB | anywhere | below 4 GiB | ``secureGuestPoolAnywhere`` |
/// | pool does not fit | warn, no pool | panic | halve to 1 MiB | ``swiotlbInitRetriesSmaller`` |
/// | forced map, no pool | panic | panic | warn, fail | ``swiotlbMapPanicsWithoutPool`` |
/// | `swiotlb=force`, pool failed | forced | forced | 6.1: not forced; 6.12: forced | ``forceBounceWithoutPool`` |
/// | `swiotlb=` | `<slabs>[,force\|noforce]`, last wins | same | areas, sticky flags | ``swiotlbAreas`` |
/// | `min_align_mask` | none | yes (backport) | yes | ``honoursMinAlignMask`` |
/// | slot search | 6.1's over one area | 6.1's, same endless scan | 6.1: own; 6.12: fast | ``swiotlbAllocator`` |
/// | doorbell IPIs | no hypervisor test | by hypervisor | by hypervisor | ``doorbellsByHypervisor`` |
///
/// Checked and the same in every series, so no property: the LPPACA overflow check
/// (5.4.y took the 2020 off-by-one fix: `SharedLPPACARegion.next()`), the os-term
/// arguments (5.4.y took 74bb84e51171: `PromInit`'s `prom_rtas_os_term()`),
/// `dma_iommu_ops` for secure guests' PCI devices (the 2019 skip is not in 5.4.y:
/// ``DMAPath/tce``), the relocation undo around `UV_ESM` (5.x undoes it only `if
/// (IS_ENABLED(CONFIG_RELOCATABLE))`, 6.x always; SVMKit relocates nothing:
/// `prom_init.c: setup_secure_guest (5.4.301, 5.10.265)`), DTL and VPA sharing
/// (``vpaAndDTL``), `svm=` parsing (`prom_strtobool()`, `early_cmdline_parse()`), and
/// kexec's `uv_unshare_all_pages()` condition.
public enum LinuxVersion: String, Hashable, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// The 5.4.y series (2019 LTS), the kernel the 2019 SVM series landed in.
    case v5_4 = "5.4"
    /// The 5.10.y series (2020 LTS).
    case v5_10 = "5.10"
    /// The 6.1.y series (2022 LTS; Debian 12's kernel, read from `linux-source-6.1`).
    case v6_1 = "6.1"
    /// The 6.12.y series (2024 LTS; Debian 13's kernel, read from `linux-source-6.12`).
    /// The default.
    case v6_12 = "6.12"

    /// The default profile: the newest.
    public static let newest: LinuxVersion = .v6_12

    /// `5.4.y`, …: the stable series.
    public var series: String { rawValue + ".y" }

    /// The release of the series whose source the profile was checked against
    /// (`make kernelversion`): Debian's `linux-source-6.1` and `linux-source-6.12`, and for
    /// 5.x the newest stable trees found in the public code index (GitHub
    /// `unifreq/linux-5.4.y` at "up to 5.4.301", `unifreq/linux-5.10.y` at "up to
    /// 5.10.265": stable merges only in every file a profile reads; spot-checked against
    /// `KINGFIOX/linux-5.4.286` and `conaco66/linux-5.10.y` (5.10.150)).
    public var release: String {
        switch self {
        case .v5_4: "5.4.301"
        case .v5_10: "5.10.265"
        case .v6_1: "6.1.192"
        case .v6_12: "6.12.118"
        }
    }

    /// The version, e.g. `6.12`.
    public var description: String { rawValue }

    /// Whether a secure guest booted WITHOUT `swiotlb=force` has a SWIOTLB pool.
    ///
    /// - 5.4: `mem_init()` calls `swiotlb_init(0)`, which always allocates the pool
    ///   (`swiotlb=` slots, default 64 MiB) with `memblock_alloc_low()`
    ///   (`arch/powerpc/mm/mem.c: mem_init (5.4.301)`, `kernel/dma/swiotlb.c:
    ///   swiotlb_init (5.4.301)`).
    /// - 5.10: `mem_init()` calls `svm_swiotlb_init()` when `is_secure_guest()`, which
    ///   allocates the pool with `memblock_alloc()` (anywhere) and panics ("SVM: Cannot
    ///   allocate SWIOTLB buffer") if it cannot (`arch/powerpc/mm/mem.c: mem_init
    ///   (5.10.265)`, `arch/powerpc/platforms/pseries/svm.c: svm_swiotlb_init
    ///   (5.10.265)`).
    /// - 6.1, 6.12: `mem_init()` calls `swiotlb_init(ppc_swiotlb_enable,
    ///   ppc_swiotlb_flags)` while both are still 0 on pseries
    ///   (`arch/powerpc/mm/mem.c: mem_init (6.1, 6.12)`), so `swiotlb_init_remap()`
    ///   returns at `if (!addressing_limit && !swiotlb_force_bounce)`
    ///   (`kernel/dma/swiotlb.c: swiotlb_init_remap (6.1, 6.12)`); `init_svm()` sets the
    ///   flags only later, as a `machine_early_initcall`
    ///   (`arch/powerpc/platforms/pseries/svm.c: init_svm (6.1, 6.12)`). The pool was
    ///   lost in v5.19, when the SWIOTLB_ANY series dropped `svm_swiotlb_init()`
    ///   (facts §1.3; lore 20220301105311.885699-11-hch@lst.de).
    public var secureGuestPoolWithoutForce: Bool {
        switch self {
        case .v5_4, .v5_10: true
        case .v6_1, .v6_12: false
        }
    }

    /// Whether `init_svm()`'s request to bounce every mapping reaches the DMA path.
    ///
    /// - 5.4, 5.10: `init_svm()` sets the global `swiotlb_force = SWIOTLB_FORCE`, which
    ///   dma-direct reads at every map (`arch/powerpc/platforms/pseries/svm.c: init_svm
    ///   (5.4.301, 5.10.265)`; `kernel/dma/direct.c: dma_direct_possible (5.4.301)`,
    ///   `kernel/dma/direct.h: dma_direct_map_page (5.10.265)`). It overrides an earlier
    ///   `swiotlb=noforce` (last writer wins).
    /// - 6.1, 6.12: `init_svm()` ORs `SWIOTLB_FORCE` into `ppc_swiotlb_flags`, which
    ///   nothing reads any more: `io_tlb_default_mem.force_bounce` was latched in
    ///   `swiotlb_init_remap()` from `swiotlb_force_bounce || (flags & SWIOTLB_FORCE)`
    ///   (`kernel/dma/swiotlb.c: swiotlb_init_remap (6.12)`; in 6.1 through
    ///   `swiotlb_init_io_tlb_mem`). Only `swiotlb=force` forces bouncing. The latch came
    ///   with v5.15's commit 903cd0f315fe (facts §1.3).
    public var initSVMForcesBounce: Bool { secureGuestPoolWithoutForce }

    /// Whether `swiotlb=force` forces bouncing even when no pool could be allocated, so
    /// that every streaming map fails (6.12: "Can not allocate SWIOTLB buffer earlier …"
    /// and `DMA_MAPPING_ERROR`; 5.x: that panic, ``swiotlbMapPanicsWithoutPool``) rather
    /// than going to the buffer directly.
    ///
    /// - 5.4, 5.10: `setup_io_tlb_npages()` sets the global `swiotlb_force` while it parses
    ///   the command line (`kernel/dma/swiotlb.c: setup_io_tlb_npages (5.4.301, 5.10.265)`).
    /// - 6.12: `swiotlb_init_remap()` sets `io_tlb_default_mem.force_bounce` before it
    ///   tries to allocate (`kernel/dma/swiotlb.c: swiotlb_init_remap (6.12)`).
    /// - 6.1: only `swiotlb_init_io_tlb_mem()`, for a pool that was allocated, sets
    ///   `mem->force_bounce` (`kernel/dma/swiotlb.c: swiotlb_init_remap,
    ///   swiotlb_init_io_tlb_mem (6.1)`): with no pool nothing is forced.
    public var forceBounceWithoutPool: Bool { self != .v6_1 }

    /// Whether the pool of a secure guest may sit anywhere in memory, or only below
    /// 4 GiB (`memblock_alloc_low()`, `ARCH_LOW_ADDRESS_LIMIT`).
    ///
    /// - 5.4: low memory, `swiotlb_init()`'s `memblock_alloc_low()` (`kernel/dma/swiotlb.c:
    ///   swiotlb_init (5.4.301)`).
    /// - 5.10: anywhere, `svm_swiotlb_init()`'s `memblock_alloc()`
    ///   (`arch/powerpc/platforms/pseries/svm.c: svm_swiotlb_init (5.10.265)`).
    /// - 6.1, 6.12: with `swiotlb=force` the pool is allocated before `init_svm()` adds
    ///   `SWIOTLB_ANY`, so `swiotlb_memblock_alloc()` takes `memblock_alloc_low()`
    ///   (`kernel/dma/swiotlb.c: swiotlb_memblock_alloc (6.1, 6.12)`).
    public var secureGuestPoolAnywhere: Bool { self == .v5_10 }

    /// Whether `swiotlb=` takes an area count and the pool is split into areas
    /// (`<slabs>[,<areas>][,force|noforce]`): since v6.0 ("swiotlb: split up the global
    /// swiotlb lock", facts §2.9; `kernel/dma/swiotlb.c: setup_io_tlb_npages (6.1,
    /// 6.12)`). Before, `swiotlb=<slabs>[,force|noforce]` and one global pool with one
    /// `io_tlb_lock` (`kernel/dma/swiotlb.c: setup_io_tlb_npages, io_tlb_lock (5.4.301,
    /// 5.10.265)`).
    public var swiotlbAreas: Bool { self == .v6_1 || self == .v6_12 }

    /// Whether a pool that does not fit is retried at half the size, down to 1 MiB
    /// (`kernel/dma/swiotlb.c: swiotlb_init_remap (6.1, 6.12)`). 5.x tries once: 5.4's
    /// `swiotlb_init()` then warns "Cannot allocate buffer" and leaves no pool
    /// (`kernel/dma/swiotlb.c: swiotlb_init (5.4.301, 5.10.265)`), and 5.10's
    /// `svm_swiotlb_init()` panics "SVM: Cannot allocate SWIOTLB buffer"
    /// (`arch/powerpc/platforms/pseries/svm.c: svm_swiotlb_init (5.10.265)`).
    public var swiotlbInitRetriesSmaller: Bool { self == .v6_1 || self == .v6_12 }

    /// Whether a forced mapping with no pool panics the kernel ("Can not allocate SWIOTLB
    /// buffer earlier and can't now provide you with the DMA bounce buffer") rather than
    /// failing the map with that warning: 5.x panics (`kernel/dma/swiotlb.c:
    /// swiotlb_tbl_map_single (5.4.301, 5.10.265)`, `if (no_iotlb_memory) panic(…)`), 6.1
    /// and 6.12 warn and return `DMA_MAPPING_ERROR` (`swiotlb_tbl_map_single (6.1,
    /// 6.12)`). A 5.4 secure guest whose pool did not fit gets there at its first map.
    public var swiotlbMapPanicsWithoutPool: Bool { self == .v5_4 || self == .v5_10 }

    /// Whether `pSeries_smp_probe()` decides on doorbells by hypervisor (KVM: not with
    /// XIVE, not for a secure guest; PowerVM: always, secure guests included), as 5.10.265,
    /// 6.1 and 6.12 do. 5.4.301 does not: XIVE never uses doorbells and XICS uses them
    /// unless the guest is secure, under PowerVM too (`arch/powerpc/platforms/pseries/smp.c:
    /// pSeries_smp_probe, pSeries_smp_probe_xics (5.4.301)`); ``IPIChoice/probe(hypervisor:xive:secure:linux:)``.
    ///
    /// Not modelled (SVMKit has no XIVE event queues): 5.4.y does not share the XIVE
    /// queue pages with the hypervisor (`arch/powerpc/sysdev/xive/spapr.c` has no
    /// `uv_share_page()` in 5.4.301; 5.10.265 shares them in `xive_spapr_configure_queue()`),
    /// so a 5.4 secure guest needs `xive=off` (facts §4.5).
    public var doorbellsByHypervisor: Bool { self != .v5_4 }

    /// Which slot search the default SWIOTLB pool runs (``SWIOTLBAllocatorKind``).
    ///
    /// - 6.12: ``SWIOTLBAllocatorKind/fast``, SVMKit's allocator with the guarantees of
    ///   6.12's `swiotlb_search_pool_area()` (alignment, offset, pad slots, segment
    ///   boundaries; the step-by-step ``SWIOTLBAllocatorKind/reference`` is checked
    ///   against 6.12's code by the Linux oracle): it picks other free slots than
    ///   6.12's next fit, never different guarantees.
    /// - 6.1: ``SWIOTLBAllocatorKind/linux61``, 6.1's own request and scan
    ///   (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single, swiotlb_do_find_slots (6.1)`),
    ///   checked against 6.1's code by the oracle, endless scan included
    ///   (``SWIOTLBScanHang``).
    /// - 5.4, 5.10: ``SWIOTLBAllocatorKind/linux61`` too, checked against recorded
    ///   answers of the real 5.4.301 and 5.10.265 code (Tests/LinuxOracleTests/Fixtures,
    ///   Scripts/linux5-oracle-fixtures). Over the one area these profiles have
    ///   (``swiotlbAreas`` is false) and with no `alloc_align_mask` (5.x has none), 6.1's
    ///   scan is 5.x's: 5.10's `find_slots()` has the same stride, `min_align_mask` test
    ///   and unbounded `do { … } while (index != wrap)` (so the same endless scan;
    ///   `kernel/dma/swiotlb.c: find_slots, swiotlb_tbl_map_single (5.10.265)`), and
    ///   5.4's `swiotlb_tbl_map_single()` is that walk with a stride of 1, or a page for
    ///   requests of a page or more, and no `min_align_mask` at all
    ///   (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single (5.4.301)`;
    ///   ``honoursMinAlignMask``). The one difference left: 5.10 tests the
    ///   `min_align_mask` bits even for `orig_addr` 0, which 6.1 skips; no guest buffer
    ///   sits at guest-physical 0.
    public var swiotlbAllocator: SWIOTLBAllocatorKind {
        switch self {
        case .v5_4, .v5_10, .v6_1: .linux61
        case .v6_12: .fast
        }
    }

    /// Whether the series has `CONFIG_SWIOTLB_DYNAMIC` (growth by added and transient
    /// pools): the option was added in 6.6 (`kernel/dma/Kconfig: SWIOTLB_DYNAMIC (6.12)`;
    /// 6.1's `kernel/dma/Kconfig` has no such symbol; facts §2.6), so only 6.12 of the
    /// modelled series can be built with it. ``GuestKernelOptions/swiotlbDynamic`` has no
    /// effect on the others.
    public var hasDynamicSWIOTLB: Bool { self == .v6_12 }

    /// Whether the DMA layer has a device's `min_align_mask`
    /// (`dma_get_min_align_mask()`), which SWIOTLB keeps in the bounce address: added in
    /// v5.12 for NVMe and backported to 5.10.y (`kernel/dma/swiotlb.c:
    /// swiotlb_align_offset, find_slots (5.10.265)`); 5.4.y has no such field, so a
    /// bounce buffer starts at its slot whatever the device asks
    /// (`kernel/dma/swiotlb.c: swiotlb_tbl_map_single (5.4.301)`).
    public var honoursMinAlignMask: Bool { self != .v5_4 }

    /// How the series allocates, sizes, registers and shares a secure guest's VPA
    /// (LPPACA) and Dispatch Trace Log buffers, in one line for the version matrix.
    ///
    /// 6.1 and 6.12 do not differ here: `arch/powerpc/kernel/paca.c: alloc_shared_lppaca,
    /// new_lppaca` (one page-aligned region of `nr_cpu_ids` × `LPPACA_SIZE` (0x400),
    /// shared with one `uv_share_page()`, `BUG_ON(shared_lppaca_size >
    /// shared_lppaca_total_size)`, `sizeof(struct lppaca)` 640), `arch/powerpc/platforms/
    /// pseries/svm.c: dtl_cache_ctor, is_dtl_page_shared` (`NR_DTL_PAGE`-entry page
    /// store), `arch/powerpc/platforms/pseries/setup.c: alloc_dispatch_log_kmem_cache`
    /// (the "dtl" cache of `DISPATCH_LOG_BYTES` objects with that constructor) and
    /// `arch/powerpc/platforms/pseries/lpar.c: vpa_init, register_dtl_buffer` and
    /// `dtl.c` are the same code in 6.1.192 and 6.12.118 apart from `0`→`NULL`,
    /// `no_llseek` and `CONFIG_PPC_KERNEL_PCREL`; `asm/lppaca.h` gained the nested-KVM
    /// fields `l2_counters_enable`, `l1_to_l2_cs_tb`, `l2_to_l1_cs_tb` and
    /// `l2_runtime_tb` in reserved space (same size and offsets of everything a
    /// secure guest shares or registers). 5.4.301 and 5.10.265 are the same code too:
    /// `alloc_shared_lppaca()` (one page-aligned `nr_cpu_ids` × 0x400 region, one
    /// `uv_share_page()`, `BUG_ON(… > …)`), `dtl_cache_ctor()` and
    /// `is_dtl_page_shared()` (identical to 6.1's), the "dtl" cache with that constructor
    /// (`setup.c: alloc_dispatch_log_kmem_cache`) and `vpa_init()` (only the
    /// `CONFIG_PPC_BOOK3S_64`→`CONFIG_PPC_64S_HASH_MMU` guard differs).
    public var vpaAndDTL: String {
        switch self {
        case .v5_4: "as 6.12: paca.c, lpar.c, setup.c, svm.c compared (5.4.301)"
        case .v5_10: "as 6.12: paca.c, lpar.c, setup.c, svm.c compared (5.10.265)"
        case .v6_1: "as 6.12: paca.c, lpar.c, setup.c, svm.c, dtl.c compared"
        case .v6_12: "paca.c: alloc_shared_lppaca, svm.c: dtl_cache_ctor"
        }
    }

    /// The commit line to name when a secure guest of this series has no bounce pool.
    public static let poolRegression =
        "since v5.15 (commit 903cd0f315fe) force_bounce is latched when the pool is set up, before init_svm() asks for it, "
        + "and since v5.19 (the SWIOTLB_ANY series, which dropped svm_swiotlb_init()) mem_init() calls swiotlb_init() "
        + "before init_svm() sets ppc_swiotlb_enable and SWIOTLB_FORCE, so swiotlb_init_remap() returns without a pool"

    /// The series that need `swiotlb=force` on a secure guest's command line.
    public static var needingSwiotlbForce: [LinuxVersion] { allCases.filter { !$0.secureGuestPoolWithoutForce } }
}
