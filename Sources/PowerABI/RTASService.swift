/// An RTAS service: its `/rtas` property name and QEMU's token, spelled once for the
/// device-tree builder, the hypervisor, the Ultravisor and the guest.
///
/// The cases are QEMU 7.2's services in registration order (`hw/ppc/spapr_rtas.c`:
/// `spapr_rtas_register()`), so a service's QEMU token is `RTAS_TOKEN_BASE` (0x2000)
/// plus its index: `display-character` = 0x2000, `ibm,os-term` = 0x201F (the values
/// of the QEMU `dumpdtb` fixtures). The Ultravisor requires the ``mandatory`` services
/// and ``stopSelf`` in `/rtas` at `UV_ESM` (`open-power/ultravisor svm/svm-rtas.c`;
/// reference/ultravisor-facts.md §5.4).
public enum RTASService: String, Sendable, Hashable, CaseIterable {
    /// `display-character` (QEMU token 0x2000).
    case displayCharacter = "display-character"
    /// `get-time-of-day` (QEMU token 0x2001).
    case getTimeOfDay = "get-time-of-day"
    /// `set-time-of-day` (QEMU token 0x2002).
    case setTimeOfDay = "set-time-of-day"
    /// `power-off` (QEMU token 0x2003).
    case powerOff = "power-off"
    /// `system-reboot` (QEMU token 0x2004).
    case systemReboot = "system-reboot"
    /// `query-cpu-stopped-state` (QEMU token 0x2005).
    case queryCPUStoppedState = "query-cpu-stopped-state"
    /// `start-cpu` (QEMU token 0x2006).
    case startCPU = "start-cpu"
    /// `stop-self` (QEMU token 0x2007).
    case stopSelf = "stop-self"
    /// `ibm,get-system-parameter` (QEMU token 0x2008).
    case getSystemParameter = "ibm,get-system-parameter"
    /// `ibm,set-system-parameter` (QEMU token 0x2009).
    case setSystemParameter = "ibm,set-system-parameter"
    /// `ibm,set-xive` (QEMU token 0x200A).
    case setXIVE = "ibm,set-xive"
    /// `ibm,get-xive` (QEMU token 0x200B).
    case getXIVE = "ibm,get-xive"
    /// `ibm,int-off` (QEMU token 0x200C).
    case intOff = "ibm,int-off"
    /// `ibm,int-on` (QEMU token 0x200D).
    case intOn = "ibm,int-on"
    /// `check-exception` (QEMU token 0x200E).
    case checkException = "check-exception"
    /// `event-scan` (QEMU token 0x200F).
    case eventScan = "event-scan"
    /// `ibm,set-tce-bypass` (QEMU token 0x2010).
    case setTCEBypass = "ibm,set-tce-bypass"
    /// `quiesce` (QEMU token 0x2011).
    case quiesce = "quiesce"
    /// `nvram-fetch` (QEMU token 0x2012).
    case nvramFetch = "nvram-fetch"
    /// `nvram-store` (QEMU token 0x2013).
    case nvramStore = "nvram-store"
    /// `read-pci-config` (QEMU token 0x2014).
    case readPCIConfig = "read-pci-config"
    /// `write-pci-config` (QEMU token 0x2015).
    case writePCIConfig = "write-pci-config"
    /// `ibm,read-pci-config` (QEMU token 0x2016).
    case ibmReadPCIConfig = "ibm,read-pci-config"
    /// `ibm,write-pci-config` (QEMU token 0x2017).
    case ibmWritePCIConfig = "ibm,write-pci-config"
    /// `ibm,query-interrupt-source-number` (QEMU token 0x2018).
    case queryInterruptSourceNumber = "ibm,query-interrupt-source-number"
    /// `ibm,change-msi` (QEMU token 0x2019).
    case changeMSI = "ibm,change-msi"
    /// `set-indicator` (QEMU token 0x201A).
    case setIndicator = "set-indicator"
    /// `set-power-level` (QEMU token 0x201B).
    case setPowerLevel = "set-power-level"
    /// `get-power-level` (QEMU token 0x201C).
    case getPowerLevel = "get-power-level"
    /// `get-sensor-state` (QEMU token 0x201D).
    case getSensorState = "get-sensor-state"
    /// `ibm,configure-connector` (QEMU token 0x201E).
    case configureConnector = "ibm,configure-connector"
    /// `ibm,os-term` (QEMU token 0x201F).
    case osTerm = "ibm,os-term"
    /// `ibm,set-eeh-option` (QEMU token 0x2020).
    case setEEHOption = "ibm,set-eeh-option"
    /// `ibm,get-config-addr-info2` (QEMU token 0x2021).
    case getConfigAddrInfo2 = "ibm,get-config-addr-info2"
    /// `ibm,read-slot-reset-state2` (QEMU token 0x2022).
    case readSlotResetState2 = "ibm,read-slot-reset-state2"
    /// `ibm,set-slot-reset` (QEMU token 0x2023).
    case setSlotReset = "ibm,set-slot-reset"
    /// `ibm,configure-pe` (QEMU token 0x2024).
    case configurePE = "ibm,configure-pe"
    /// `ibm,slot-error-detail` (QEMU token 0x2025).
    case slotErrorDetail = "ibm,slot-error-detail"
    /// `ibm,query-pe-dma-window` (QEMU token 0x2026).
    case queryPEDMAWindow = "ibm,query-pe-dma-window"
    /// `ibm,create-pe-dma-window` (QEMU token 0x2027).
    case createPEDMAWindow = "ibm,create-pe-dma-window"
    /// `ibm,remove-pe-dma-window` (QEMU token 0x2028).
    case removePEDMAWindow = "ibm,remove-pe-dma-window"
    /// `ibm,reset-pe-dma-window` (QEMU token 0x2029).
    case resetPEDMAWindow = "ibm,reset-pe-dma-window"
    /// `ibm,suspend-me` (QEMU token 0x202A).
    case suspendMe = "ibm,suspend-me"
    /// `ibm,nmi-register` (QEMU token 0x202B).
    case nmiRegister = "ibm,nmi-register"
    /// `ibm,nmi-interlock` (QEMU token 0x202C).
    case nmiInterlock = "ibm,nmi-interlock"

    /// The `/rtas` property name, e.g. `ibm,os-term`.
    public var name: String { rawValue }

    /// QEMU's token: `RTAS_TOKEN_BASE` (0x2000) plus the service's registration index.
    public var qemuToken: UInt32 { Self.qemuTokens[self] ?? Self.qemuTokenBase }

    /// `RTAS_TOKEN_BASE` in QEMU's `include/hw/ppc/spapr.h`.
    public static let qemuTokenBase: UInt32 = 0x2000

    private static let qemuTokens: [RTASService: UInt32] = Dictionary(
        uniqueKeysWithValues: allCases.enumerated().map { ($1, qemuTokenBase + UInt32($0)) })

    /// The 11 services whose tokens the Ultravisor requires at `UV_ESM`; a missing one
    /// fails it (``stopSelf`` is required too; ``nmiRegister`` is optional).
    public static let mandatory: [RTASService] = [
        .checkException, .eventScan, .configureConnector, .getSystemParameter, .setSystemParameter, .osTerm,
        .nvramFetch, .nvramStore, .slotErrorDetail, .powerOff, .startCPU,
    ]
}
