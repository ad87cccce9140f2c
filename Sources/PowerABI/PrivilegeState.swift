/// The privilege level that the (S, HV, PR) bits of the MSR select.
///
/// The table is the one in Linux `Documentation/arch/powerpc/ultravisor.rst`
/// ("Privilege states"):
///
/// | S | HV | PR | level |
/// |---|----|----|-------|
/// | 0 | x  | 1  | problem (normal) |
/// | 0 | 0  | 0  | privileged (normal OS) |
/// | 0 | 1  | 0  | hypervisor |
/// | 1 | 0  | 1  | problem (secure) |
/// | 1 | 0  | 0  | privileged (secure OS) |
/// | 1 | 1  | 0  | ultravisor |
/// | 1 | 1  | 1  | reserved |
public struct PrivilegeState: Hashable, Sendable, CustomStringConvertible {
    /// The full MSR the state was read from.
    public let msr: MachineStateRegister

    /// Reads the privilege bits of `msr`.
    public init(msr: MachineStateRegister) { self.msr = msr }

    /// Builds the MSR bits for a given (S, HV, PR) triple on top of `base`.
    public init(secure: Bool, hypervisor: Bool, problem: Bool, base: MachineStateRegister = .guestKernel) {
        var m = base.subtracting([.secure, .hypervisor, .problemState])
        if secure { m.insert(.secure) }
        if hypervisor { m.insert(.hypervisor) }
        if problem { m.insert(.problemState) }
        self.msr = m
    }

    /// MSR(S).
    public var isSecure: Bool { msr.contains(.secure) }
    /// MSR(HV).
    public var isHypervisor: Bool { msr.contains(.hypervisor) }
    /// MSR(PR).
    public var isProblem: Bool { msr.contains(.problemState) }

    /// The level from the table above.
    public var level: Level {
        switch (isSecure, isHypervisor, isProblem) {
        case (false, _, true): .normalProblem
        case (false, false, false): .normalPrivileged
        case (false, true, false): .hypervisor
        case (true, false, true): .secureProblem
        case (true, false, false): .securePrivileged
        case (true, true, false): .ultravisor
        case (true, true, true): .reserved
        }
    }

    /// Every (S, HV, PR) combination, for exhaustive tests.
    public static let allCombinations: [PrivilegeState] = [false, true].flatMap { s in
        [false, true].flatMap { hv in [false, true].map { pr in PrivilegeState(secure: s, hypervisor: hv, problem: pr) } }
    }

    /// The level's name and bits, e.g. `privileged (secure OS) S=1 HV=0 PR=0`.
    public var description: String {
        "\(level.rawValue) S=\(isSecure ? 1 : 0) HV=\(isHypervisor ? 1 : 0) PR=\(isProblem ? 1 : 0)"
    }

    /// The named privilege levels.
    public enum Level: String, Sendable, Hashable, CaseIterable {
        /// S=0, PR=1.
        case normalProblem = "problem (normal)"
        /// S=0, HV=0, PR=0: a normal guest kernel.
        case normalPrivileged = "privileged (normal OS)"
        /// S=0, HV=1, PR=0.
        case hypervisor = "hypervisor"
        /// S=1, HV=0, PR=1: SVM user space.
        case secureProblem = "problem (secure)"
        /// S=1, HV=0, PR=0: an SVM's kernel.
        case securePrivileged = "privileged (secure OS)"
        /// S=1, HV=1, PR=0.
        case ultravisor = "ultravisor"
        /// S=1, HV=1, PR=1.
        case reserved = "reserved"
    }
}
