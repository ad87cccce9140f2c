@_spi(Firmware) import PEFMachine
import PowerABI

/// Why a TPM command from the Ultravisor failed (`svm/svm-tss.c`; reference/ultravisor-facts.md §2.7).
enum TPMClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The SVM has no TPM bounce page yet (UV_ESM reserves it).
    case noBouncePage
    /// The command is over 4096 bytes (the firmware's -EFBIG).
    case commandTooLarge(Int)
    /// The bounce page could not be written or read.
    case memory(MemoryAccessError)
    /// `H_SVM_TPM_COMM` failed; `errno` is what the firmware maps it to
    /// (H_FUNCTION → -EINVAL, H_PARAMETER → -EFBIG, H_NOT_AVAILABLE → -ENODEV, else -EIO).
    case hypercall(HypervisorStatus, errno: Int32)
    /// The hypervisor claimed a response longer than the 4096-byte buffer.
    case responseTooLarge(UInt64)

    var description: String {
        switch self {
        case .noBouncePage: "no TPM bounce page reserved"
        case .commandTooLarge(let n): "TPM command of \(n) bytes is over 4096 (-EFBIG)"
        case .memory(let e): "TPM bounce page: \(e)"
        case .hypercall(let s, let e): "H_TPM_COMM failed with \(s) (errno \(e))"
        case .responseTooLarge(let n): "H_TPM_COMM response of \(n) bytes is over 4096"
        }
    }

    static func errno(for status: HypervisorStatus) -> Int32 {
        switch status {
        case .function: -22
        case .parameter: -27
        case .notAvailable: -19
        default: -5
        }
    }
}

extension Ultravisor {
    /// The size of the TPM transfer buffers.
    static let tpmBufferBytes = 4096

    /// Records the TPM bounce page `svm_tss` reserved (UV_ESM shares it implicitly).
    @discardableResult
    func setTPMBouncePage(lpid: UInt64, _ page: GuestPhysicalAddress) -> Bool {
        state.withLock { s in
            guard s.svms[lpid] != nil else { return false }
            s.svms[lpid]?.tpmBouncePage = page
            return true
        }
    }

    /// Sends one TPM command the way `svm-tss.c` does: copy it into the implicitly shared
    /// bounce page, `H_SVM_TPM_COMM(1, page, length, page, 4096)`, take r4 as the response
    /// length, copy the response out (into the private transfer page too, once UV_ESM
    /// reserved it), zero the bounce page.
    func tpmExecute(_ command: [UInt8], lpid: UInt64, for caller: Caller, depth: Int, on machine: Machine)
        -> Result<[UInt8], TPMClientError>
    {
        guard let page = state.withLock({ $0.svms[lpid]?.tpmBouncePage }) else { return .failure(.noBouncePage) }
        guard command.count <= Self.tpmBufferBytes else { return .failure(.commandTooLarge(command.count)) }
        do {
            try machine.memory.write(.ultravisor, at: page, bytes: command, purpose: "TPM command")
        } catch {
            return .failure(.memory(error))
        }
        defer { try? machine.memory.zero(.ultravisor, at: page, count: Self.tpmBufferBytes) }
        let answer = machine.hypercall(
            .tpmComm, [1, page.rawValue, UInt64(command.count), page.rawValue, UInt64(Self.tpmBufferBytes)],
            from: .ultravisor(vcpu: caller.vcpu), depth: depth + 1)
        machine.clock.advance(by: machine.configuration.costs.tpmCommand)
        let status = answer.hypervisorStatus
        guard status == .success else {
            return .failure(.hypercall(status, errno: TPMClientError.errno(for: status)))
        }
        let length = answer.registers[4]
        guard length <= UInt64(Self.tpmBufferBytes) else { return .failure(.responseTooLarge(length)) }
        let response: [UInt8]
        do {
            response = try machine.memory.read(.ultravisor, at: page, count: Int(length), purpose: "TPM response")
        } catch {
            return .failure(.memory(error))
        }
        // `svm_tss_resp_set`: the response goes to the private `struct svm_tss_xfer`
        // (payload[4096], then response[4096]) before the bounce page is cleared.
        if let xfer = state.withLock({ $0.svms[lpid]?.tpmTransferPage }) {
            try? machine.memory.write(
                .ultravisor, at: GuestPhysicalAddress(rawValue: xfer.rawValue + UInt64(Self.tpmBufferBytes)),
                bytes: response, purpose: "svm_tss_xfer response")
        }
        return .success(response)
    }

    /// Ends the TPM session: `H_SVM_TPM_COMM(2)`.
    func tpmClose(for caller: Caller, depth: Int, on machine: Machine) -> HypervisorStatus {
        machine.hypercall(.tpmComm, [2], from: .ultravisor(vcpu: caller.vcpu), depth: depth + 1).hypervisorStatus
    }
}
