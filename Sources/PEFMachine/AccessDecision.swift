/// What an actor's access to a page in a given state does.
enum AccessDecision: Equatable {
    /// Read or write the main mapping.
    case mapping
    /// Read or write the hypervisor's separate copy of a pseudo-shared page.
    case pseudoCopy
    /// Fail and record an isolation violation.
    case violation
    /// Fail and kill the SVM.
    case kill
    /// A secure vCPU's page fault: the Ultravisor must bring the page in first.
    case fault
    /// The hypervisor touched a secure page (or a paged-out page whose ciphertext it
    /// holds elsewhere): its fault handler must page it out to the frame first; the
    /// access is an isolation violation either way.
    case hypervisorFault
    /// Fail without a record (a page the actor must not touch yet).
    case unavailable
}
