import PowerABI

/// The RTAS services the simulated hypervisor implements, by their `/rtas` property
/// names (QEMU's `hw/ppc/spapr_rtas.c` is the model).
public enum RTASServiceKind: String, Sendable, Hashable, CaseIterable {
    /// `display-character`: one byte to the console.
    case displayCharacter = "display-character"
    /// `power-off`: stops the partition.
    case powerOff = "power-off"
    /// `system-reboot`: stops the partition (SVMKit does not restart it).
    case systemReboot = "system-reboot"
    /// `query-cpu-stopped-state`.
    case queryCPUStoppedState = "query-cpu-stopped-state"
    /// `start-cpu`.
    case startCPU = "start-cpu"
    /// `stop-self`.
    case stopSelf = "stop-self"
    /// `ibm,get-system-parameter`.
    case getSystemParameter = "ibm,get-system-parameter"
    /// `ibm,set-system-parameter`.
    case setSystemParameter = "ibm,set-system-parameter"
    /// `check-exception`.
    case checkException = "check-exception"
    /// `event-scan`.
    case eventScan = "event-scan"
    /// `nvram-fetch`.
    case nvramFetch = "nvram-fetch"
    /// `nvram-store`.
    case nvramStore = "nvram-store"
    /// `ibm,configure-connector`.
    case configureConnector = "ibm,configure-connector"
    /// `ibm,os-term`: stops the partition with the guest's message.
    case osTerm = "ibm,os-term"
    /// `ibm,slot-error-detail`.
    case slotErrorDetail = "ibm,slot-error-detail"
    /// `ibm,nmi-register`.
    case nmiRegister = "ibm,nmi-register"
    /// `ibm,nmi-interlock`.
    case nmiInterlock = "ibm,nmi-interlock"

    /// QEMU 7.2's tokens (`-machine pseries,dumpdtb=`), used when no device tree configures
    /// the table: `display-character` = 0x2000 upwards; `ibm,os-term` = 0x201F.
    public var qemuToken: UInt32 {
        switch self {
        case .displayCharacter: 0x2000
        case .powerOff: 0x2003
        case .systemReboot: 0x2004
        case .queryCPUStoppedState: 0x2005
        case .startCPU: 0x2006
        case .stopSelf: 0x2007
        case .getSystemParameter: 0x2008
        case .setSystemParameter: 0x2009
        case .checkException: 0x200E
        case .eventScan: 0x200F
        case .nvramFetch: 0x2012
        case .nvramStore: 0x2013
        case .configureConnector: 0x201E
        case .osTerm: 0x201F
        case .slotErrorDetail: 0x2025
        case .nmiRegister: 0x202B
        case .nmiInterlock: 0x202C
        }
    }
}

/// RTAS status codes (PAPR; QEMU's `RTAS_OUT_*`).
enum RTASStatus {
    static let success: Int32 = 0
    static let noErrorsFound: Int32 = 1
    static let hardwareError: Int32 = -1
    static let parameterError: Int32 = -3
    static let notSupported: Int32 = -3
}
