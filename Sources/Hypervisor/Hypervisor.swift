import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI
import Locking
import TPM

/// The hypervisor's view of the partition's move to secure mode (KVM's
/// `kvm->arch.secure_guest` flags).
public enum SecureGuestPhase: String, Sendable, Hashable {
    /// A normal VM.
    case normal
    /// `H_SVM_INIT_START` succeeded (`KVMPPC_SECURE_INIT_START`).
    case initializing
    /// `H_SVM_INIT_DONE` succeeded (`KVMPPC_SECURE_INIT_DONE`).
    case secure
}

/// A registered Dispatch Trace Log buffer.
public struct DTLRegistration: Hashable, Sendable {
    /// Its guest physical address.
    public var address: GuestPhysicalAddress
    /// Its usable length: the length the guest wrote at offset 4, rounded down to whole
    /// 48-byte entries.
    public var length: UInt32
}

/// A VPA, DTL and SLB-shadow registration of one vCPU (`H_REGISTER_VPA`).
public struct VPARegistration: Hashable, Sendable {
    /// The VPA (LPPACA).
    public var vpa: GuestPhysicalAddress?
    /// The DTL.
    public var dtl: DTLRegistration?
    /// The SLB shadow buffer.
    public var slbShadow: GuestPhysicalAddress?
    /// DTL entries written so far (the `dtl_idx` the hypervisor publishes).
    public var dtlIndex: UInt64 = 0
    /// The VPA's yield count as last written.
    public var yieldCount: UInt32 = 0
    /// Total stolen time published (`enqueue_dispatch_tb`), in timebase ticks.
    public var stolenTicks: UInt64 = 0

    /// No registration.
    public init() {}
}

/// Everything the hypervisor keeps, behind one mutex.
struct HypervisorState: Sendable {
    var phase: SecureGuestPhase = .normal
    /// Frames handed to the Ultravisor as secure pages (paged in non-shared).
    var securePages: FrameBitmap
    /// Frames the Ultravisor shares (paged in shared).
    var sharedPages: FrameBitmap
    /// Paged-out frames → the pool page holding their ciphertext.
    var pagedOut: [UInt64: UInt64] = [:]
    var registeredSlots: [UInt16] = []
    var rtasTokens: [UInt32: RTASService]
    var nvram: [UInt8]
    var systemParameters: [UInt32: [UInt8]]
    var console: [UInt8] = []
    var consoleInput: [UInt8] = []
    var vpas: [Int: VPARegistration] = [:]
    var log: [String] = []

    init(configuration: HypervisorConfiguration) {
        securePages = FrameBitmap(capacity: 0)
        sharedPages = FrameBitmap(capacity: 0)
        rtasTokens = Dictionary(uniqueKeysWithValues: Hypervisor.rtasServices.map { ($0.qemuToken, $0) })
        nvram = [UInt8](repeating: 0, count: configuration.nvramBytes)
        systemParameters = configuration.systemParameters
    }

    /// Sizes the page bitmaps for the machine on first use.
    mutating func prepare(pageCount: Int) {
        guard securePages.capacity != pageCount else { return }
        securePages = FrameBitmap(capacity: pageCount)
        sharedPages = FrameBitmap(capacity: pageCount)
    }
}

/// The simulated hypervisor: the KVM and QEMU side of a PEF system.
///
/// Attach it with `machine.attach(hypervisor:)`. It handles every hypercall the router
/// gives it: those of normal vCPUs, those the Ultravisor reflects for secure vCPUs
/// (with scrubbed registers), and the Ultravisor's own (`H_SVM_*`, `H_RTAS` from bounce
/// buffers, `H_TPM_COMM`). It touches guest memory only through the hypervisor
/// accessor. Touching a secure page behaves as on KVM: the page is paged out with
/// `UV_PAGE_OUT` and the access sees ciphertext (``migrateToRAM(_:on:)``,
/// `book3s_hv_uvmem.c: kvmppc_uvmem_migrate_to_ram`, 6.12); the access is also recorded
/// as an isolation violation (with `HypervisorTouch.stop` it fails instead).
public final class Hypervisor: HypervisorFirmware, Sendable {
    /// How it was set up.
    public let configuration: HypervisorConfiguration
    let state: Lock<HypervisorState>
    /// Virtual block devices by unit address (`Hypervisor+VirtualBlockDevice.swift`).
    let blockDeviceTable = Lock<[UInt32: VirtualBlockDevice]>([:])

    /// A hypervisor; its page bitmaps are sized on first use (they need the machine's
    /// memory size).
    public init(configuration: HypervisorConfiguration = HypervisorConfiguration()) {
        self.configuration = configuration
        self.state = Lock(HypervisorState(configuration: configuration))
    }

    /// Runs `body` on the state, sized for `machine`.
    func withState<R>(_ machine: Machine, _ body: (inout HypervisorState) -> R) -> R {
        state.withLock { s in
            s.prepare(pageCount: machine.memory.pageCount)
            return body(&s)
        }
    }

    // MARK: Inspection

    /// The secure-guest phase as the hypervisor sees it.
    public var phase: SecureGuestPhase { state.withLock { $0.phase } }

    /// Everything the guest wrote with `H_PUT_TERM_CHAR` (and `display-character`): its
    /// console, i.e. the kernel log.
    public var consoleOutput: String { String(decoding: state.withLock { $0.console }, as: UTF8.self) }

    /// Queues bytes for the guest's `H_GET_TERM_CHAR`.
    public func queueConsoleInput(_ bytes: [UInt8]) {
        state.withLock { $0.consoleInput += bytes }
    }

    /// The VPA/DTL registration of a vCPU.
    public func registration(of vcpu: Int) -> VPARegistration? { state.withLock { $0.vpas[vcpu] } }

    /// The partition's NVRAM.
    public var nvram: [UInt8] { state.withLock { $0.nvram } }

    /// Pages the hypervisor believes are secure / shared / paged out (its own view).
    public var pageView: (secure: Int, shared: Int, pagedOut: Int) {
        state.withLock { ($0.securePages.count, $0.sharedPages.count, $0.pagedOut.count) }
    }

    /// Frames the Ultravisor has shared with the hypervisor (its own view), in order.
    public var sharedFrames: [UInt64] { state.withLock { $0.sharedPages.members } }

    /// What the hypervisor logged (RTAS calls, refused requests).
    public var log: [String] { state.withLock { $0.log } }

    /// The RTAS token table: token → service.
    public var rtasTokens: [UInt32: RTASService] {
        state.withLock { $0.rtasTokens }
    }

    func log(_ machine: Machine, _ line: String) { withState(machine) { $0.log.append(line) } }

    // MARK: HypervisorFirmware

    /// Handles one hypercall (see the type's documentation).
    public func handleHypercall(_ call: inout FirmwareCall, on machine: Machine) {
        guard call.level != .sc2 else {
            // No Ultravisor: `sc 2` is not a hypercall KVM knows.
            return call.finish(HypervisorStatus.function)
        }
        switch Hypercall(rawValue: call.number) {
        case .svmInitStart: initStart(&call, on: machine)
        case .svmInitDone: initDone(&call, on: machine)
        case .svmInitAbort: initAbort(&call, on: machine)
        case .svmPageIn: svmPageIn(&call, on: machine)
        case .svmPageOut: svmPageOut(&call, on: machine)
        case .tpmComm: tpmCommunicate(&call, on: machine)
        case .rtas: rtas(&call, on: machine)
        case .registerVPA: registerVPA(&call, on: machine)
        case .putTermChar: putTermChar(&call, on: machine)
        case .getTermChar: getTermChar(&call, on: machine)
        case .cede:
            if let vcpu = call.caller.vcpu, registration(of: vcpu)?.vpa != nil {
                do {
                    try dispatch(vcpu: vcpu, on: machine, reason: .cede)
                } catch {
                    call.notes.append("dispatch after H_CEDE: \(error)")
                }
            }
            call.finish(HypervisorStatus.success)
        case .vioSignal: vioSignal(&call, on: machine)
        case .confer, .prod, .setMode, .eoi, .cppr, .ipi, .intSetQueueConfig, .putTCE, .stuffTCE:
            call.finish(HypervisorStatus.success)
        case .xirr:
            call[4] = 0
            call.finish(HypervisorStatus.success)
        case .random:
            call[4] = machine.random.next()
            call.finish(HypervisorStatus.success)
        case .putTCEIndirect: putTCEIndirect(&call, on: machine)
        default:
            call.finish(HypervisorStatus.function)
        }
    }

    /// `H_PUT_TCE_INDIRECT` (r4 liobn, r5 ioba, r6 TCE list, r7 count ≤ 512): the hypervisor
    /// reads the TCE list from guest memory, which fails on a secure guest unless the
    /// list page is shared (why secure guests use `H_PUT_TCE` one entry at a time,
    /// reference/linux-guest-facts.md §1.9). TCE tables themselves are not modelled.
    func putTCEIndirect(_ call: inout FirmwareCall, on machine: Machine) {
        let count = call[7]
        guard count <= 512 else { return call.finish(HypervisorStatus.parameter) }
        do {
            _ = try machine.memory.read(
                .hypervisor, at: GuestPhysicalAddress(rawValue: call[6]), count: Int(count) * 8,
                purpose: "H_PUT_TCE_INDIRECT TCE list")
            call.finish(HypervisorStatus.success)
        } catch {
            call.notes.append("\(error)")
            call.finish(HypervisorStatus.parameter)
        }
    }
}
