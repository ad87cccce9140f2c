/// How the kernel sends inter-processor interrupts, as `pSeries_smp_probe()` decides
/// (`arch/powerpc/platforms/pseries/smp.c`; reference/linux-guest-facts.md §1.8).
public struct IPIChoice: Hashable, Sendable, CustomStringConvertible {
    /// The mechanism.
    public enum Mechanism: String, Hashable, Sendable {
        /// `msgsndp` doorbells between SMT siblings.
        case doorbell
        /// The XICS interrupt presenter (`H_IPI`).
        case xics = "XICS"
        /// The sPAPR XIVE interrupt controller.
        case xive = "XIVE"
    }

    /// The interrupt controller's own IPI path.
    public let controller: Mechanism
    /// Whether doorbells are used for SMT siblings on top of it.
    public let doorbells: Bool
    /// Why, in words.
    public let reason: String

    /// e.g. `IPIs via XICS, no doorbells: secure guest under KVM`.
    public var description: String {
        "IPIs via \(controller.rawValue), " + (doorbells ? "doorbells for SMT siblings" : "no doorbells") + ": " + reason
    }

    /// Models `pSeries_smp_probe()`: under KVM no doorbells when XIVE is active
    /// (XIVE is faster than KVM's trap-and-emulate of `msgsndp`) and none on a secure
    /// guest (KVM emulates `msgsndp` by reading the instruction from guest memory,
    /// which it cannot do for an SVM); under PowerVM doorbells are used, secure guests
    /// included (`arch/powerpc/platforms/pseries/smp.c: pSeries_smp_probe (5.10.265,
    /// 6.12)`). 5.4 does not ask which hypervisor it runs on
    /// (``LinuxVersion/doorbellsByHypervisor``): never doorbells with XIVE, and with XICS
    /// doorbells unless the guest is secure (`smp.c: pSeries_smp_probe,
    /// pSeries_smp_probe_xics (5.4.301)`), under PowerVM too.
    public static func probe(
        hypervisor: HypervisorPlatform, xive: Bool, secure: Bool, linux: LinuxVersion = .newest
    ) -> IPIChoice {
        let controller: Mechanism = xive ? .xive : .xics
        if !linux.doorbellsByHypervisor {
            return xive
                ? IPIChoice(controller: controller, doorbells: false, reason: "XIVE (Linux 5.4: MMIO IPIs, whatever the hypervisor)")
                : IPIChoice(
                    controller: controller, doorbells: !secure,
                    reason: secure ? "secure guest (Linux 5.4: no doorbells in an SVM, whatever the hypervisor)" : "XICS")
        }
        switch hypervisor {
        case .kvm where xive:
            return IPIChoice(controller: controller, doorbells: false, reason: "XIVE under KVM")
        case .kvm where secure:
            return IPIChoice(
                controller: controller, doorbells: false,
                reason: "secure guest under KVM (KVM cannot read msgsndp from secure memory)")
        case .kvm:
            return IPIChoice(controller: controller, doorbells: true, reason: "XICS under KVM")
        case .powerVM:
            return IPIChoice(
                controller: controller, doorbells: true,
                reason: "PowerVM gang-schedules SMT siblings" + (secure ? " (secure guests included)" : ""))
        }
    }
}
