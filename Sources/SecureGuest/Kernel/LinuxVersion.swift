public import SWIOTLB

/// Which Linux stable series the guest kernel behaves as (`svmkit boot --linux`).
///
/// A profile names a stable series as its last release describes it (5.4.y, 5.10.y,
/// 6.1.y, 6.12.y) and changes only what that kernel really does differently for a
/// secure guest; everything else is the same code. 6.1 and 6.12 are read from Debian's
/// `linux-source-6.1` (6.1.192) and `linux-source-6.12` (6.12.118); 5.4 and 5.10 come
/// from reference/linux-guest-facts.md (§1.1, §1.3, §1.4, §1.9, §2.9), and the facts
/// this machine cannot check against their source are marked *unverified* on the
/// property that uses them.
///
/// The difference that matters most is where the SWIOTLB bounce pool comes from:
///
/// | series | pool without `swiotlb=force` | bouncing forced by `init_svm()` |
/// |---|---|---|
/// | 5.4.y | yes, low memory | yes (`swiotlb_force`, a runtime global) |
/// | 5.10.y | yes, anywhere (`svm_swiotlb_init()`) | yes |
/// | 6.1.y, 6.12.y | **no** | **no** (`force_bounce` is latched at init) |
///
/// See ``secureGuestPoolWithoutForce`` and ``initSVMForcesBounce``.
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

    /// The version, e.g. `6.12`.
    public var description: String { rawValue }

    /// Whether a secure guest booted WITHOUT `swiotlb=force` has a SWIOTLB pool.
    ///
    /// - 5.4: `mem_init()` calls `swiotlb_init(0)`, which always allocates the default
    ///   64 MiB pool from low memory (`arch/powerpc/mm/mem.c: mem_init (5.4)`,
    ///   `kernel/dma/swiotlb.c: swiotlb_init (5.4)`; facts §1.3 "v5.4-v5.9";
    ///   *unverified* here, no 5.4 source on this machine).
    /// - 5.10: `mem_init()` calls `svm_swiotlb_init()` on a secure guest, which
    ///   allocates the pool anywhere and panics if it cannot
    ///   (`arch/powerpc/platforms/pseries/svm.c: svm_swiotlb_init (5.10)`; facts §1.3
    ///   "v5.10-v5.18"; *unverified* here).
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
    ///   (5.4, 5.10)`; *unverified* here).
    /// - 6.1, 6.12: `init_svm()` ORs `SWIOTLB_FORCE` into `ppc_swiotlb_flags`, which
    ///   nothing reads any more: `io_tlb_default_mem.force_bounce` was latched in
    ///   `swiotlb_init_remap()` from `swiotlb_force_bounce || (flags & SWIOTLB_FORCE)`
    ///   (`kernel/dma/swiotlb.c: swiotlb_init_remap (6.12)`; in 6.1 through
    ///   `swiotlb_init_io_tlb_mem`). Only `swiotlb=force` forces bouncing. The latch came
    ///   with v5.15's commit 903cd0f315fe (facts §1.3).
    public var initSVMForcesBounce: Bool { secureGuestPoolWithoutForce }

    /// Whether the pool of a secure guest may sit anywhere in memory, or only below
    /// 4 GiB (`memblock_alloc_low()`, `ARCH_LOW_ADDRESS_LIMIT`).
    ///
    /// - 5.4: low memory (facts §1.3; *unverified*).
    /// - 5.10: anywhere, `svm_swiotlb_init()`'s `memblock_alloc()` (*unverified*).
    /// - 6.1, 6.12: with `swiotlb=force` the pool is allocated before `init_svm()` adds
    ///   `SWIOTLB_ANY`, so `swiotlb_memblock_alloc()` takes `memblock_alloc_low()`
    ///   (`kernel/dma/swiotlb.c: swiotlb_memblock_alloc (6.1, 6.12)`).
    public var secureGuestPoolAnywhere: Bool { self == .v5_10 }

    /// Whether `swiotlb=` takes an area count and the pool is split into areas
    /// (`<slabs>[,<areas>][,force|noforce]`): since v6.0 ("swiotlb: split up the global
    /// swiotlb lock", facts §2.9; `kernel/dma/swiotlb.c: setup_io_tlb_npages (6.1,
    /// 6.12)`). Before, `swiotlb=<slabs>[,force|noforce]` and one global lock
    /// (`kernel/dma/swiotlb.c: setup_io_tlb_npages (5.4, 5.10)`; *unverified*).
    public var swiotlbAreas: Bool { self == .v6_1 || self == .v6_12 }

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
    /// - 5.4, 5.10: ``SWIOTLBAllocatorKind/linux61`` too, *unverified* (no 5.x source on
    ///   this machine): the facts describe the same next-fit walk from one cursor with
    ///   a stride of 1, or a page for requests of a page or more, under one global lock
    ///   (reference/linux-guest-facts.md §2.9; `kernel/dma/swiotlb.c:
    ///   swiotlb_tbl_map_single (5.4, 5.10)`), which is 6.1's scan over the one area
    ///   these profiles have (``swiotlbAreas`` is false) for a device without
    ///   `min_align_mask` (new in v5.12), such as the virtual disk.
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

    /// Whether ``swiotlbAllocator`` was checked against this series' own code (6.1 and
    /// 6.12, through the Linux oracle); false for 5.4 and 5.10.
    public var swiotlbAllocatorVerified: Bool { self == .v6_1 || self == .v6_12 }

    /// Whether `alloc_shared_lppaca()` BUGs when the last LPPACA exactly fills the
    /// region (`BUG_ON(shared_lppaca_size >= shared_lppaca_total_size)`), the
    /// off-by-one fixed in 2020 by "powerpc/pseries/svm: Fix incorrect check for
    /// shared_lppaca_size" (v5.8; facts §1.4). 5.4 is modelled as released
    /// (`arch/powerpc/kernel/paca.c: alloc_shared_lppaca (5.4)`); whether 5.4.y took the
    /// fix is *unverified*. 5.10, 6.1 and 6.12 test `>` (`paca.c: alloc_shared_lppaca
    /// (6.1, 6.12)`).
    public var lppacaOverflowOffByOne: Bool { self == .v5_4 }

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
    /// secure guest shares or registers). 5.4 differs only in the LPPACA overflow check
    /// (``lppacaOverflowOffByOne``); 5.10 is as 6.1 (facts §1.4, §1.5; *unverified*
    /// here, no 5.x source on this machine).
    public var vpaAndDTL: String {
        switch self {
        case .v5_4: "as 6.12 except alloc_shared_lppaca()'s off-by-one BUG_ON (paca.c, before v5.8; unverified)"
        case .v5_10: "as 6.12 (facts §1.4, §1.5; unverified)"
        case .v6_1: "as 6.12: paca.c, lpar.c, setup.c, svm.c, dtl.c compared"
        case .v6_12: "paca.c: alloc_shared_lppaca, svm.c: dtl_cache_ctor"
        }
    }

    /// Whether `prom_rtas_os_term()` fills `os_term_args` (nargs 1, nret 1, args[0] =
    /// the message), fix 74bb84e51171 (v5.7, facts §1.1; `arch/powerpc/kernel/prom_init.c:
    /// prom_rtas_os_term (6.1, 6.12)`). 5.4 sets only the token, so the hypervisor
    /// reads the message from guest address 0 (`prom_init.c: prom_rtas_os_term (5.4)`;
    /// whether 5.4.y took the fix is *unverified*).
    public var osTermArgumentsFilled: Bool { self != .v5_4 }

    /// Whether a secure guest's PCI devices get `dma_iommu_ops` at all. 5.4 skipped
    /// `set_pci_dma_ops(&dma_iommu_ops)` on secure guests (edea902c1c1e), so PCI went
    /// straight to dma-direct (*unverified* whether 5.4.y took the revert); v5.6 reverted
    /// that (facts §1.9;
    /// `arch/powerpc/platforms/pseries/iommu.c: iommu_init_early_pSeries (6.12)`). With
    /// the DDW window SVMKit's virtual disk sits behind, `dma_iommu_ops` bypasses to
    /// dma-direct anyway (``DMAPath/ddwBypass``); on a TCE-mapped device
    /// (``DMAPath/tce``) it matters.
    public var secureGuestUsesIOMMUOps: Bool { self != .v5_4 }

    /// The commit line to name when a secure guest of this series has no bounce pool.
    public static let poolRegression =
        "since v5.15 (commit 903cd0f315fe) force_bounce is latched when the pool is set up, before init_svm() asks for it, "
        + "and since v5.19 (the SWIOTLB_ANY series, which dropped svm_swiotlb_init()) mem_init() calls swiotlb_init() "
        + "before init_svm() sets ppc_swiotlb_enable and SWIOTLB_FORCE, so swiotlb_init_remap() returns without a pool"

    /// The series that need `swiotlb=force` on a secure guest's command line.
    public static var needingSwiotlbForce: [LinuxVersion] { allCases.filter { !$0.secureGuestPoolWithoutForce } }
}
