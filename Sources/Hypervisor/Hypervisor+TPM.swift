@_spi(Firmware) import PEFMachine
import PowerABI
import TPM

extension Hypervisor {
    /// The largest request and the smallest response buffer `H_TPM_COMM` accepts.
    public static let tpmBufferBytes = 4096

    /// `H_TPM_COMM` (0xEF10, `H_SVM_TPM_COMM` in the firmware): r4 = operation (1 execute,
    /// 2 close the session), r5/r6 = request buffer and size, r7/r8 = response buffer and
    /// size; on success r4 = the response size (issue 4 item 3; reference/ultravisor-facts.md
    /// §1.3, §2.7). Checks, in this order:
    ///
    /// | condition | status |
    /// |---|---|
    /// | no TPM configured | `H_FUNCTION` |
    /// | operation not 1 or 2 | `H_PARAMETER` |
    /// | request over 4096 bytes | `H_P3` |
    /// | response buffer under 4096 bytes | `H_P5` |
    /// | request buffer outside memory or not readable by the hypervisor (not shared) | `H_P2` |
    /// | response buffer outside memory or not writable by the hypervisor | `H_P4` |
    /// | the backend throws | `H_RESOURCE` |
    ///
    /// The buffers are reached only through the hypervisor's accessor, so a buffer in
    /// secure memory also records an isolation violation.
    func tpmCommunicate(_ call: inout FirmwareCall, on machine: Machine) {
        guard let tpm = configuration.tpm else { return call.finish(HypervisorStatus.function) }
        let operation = call[4]
        guard operation == 1 || operation == 2 else { return call.finish(HypervisorStatus.parameter) }
        if operation == 2 {
            tpm.close()
            return call.finish(HypervisorStatus.success)
        }
        let request = GuestPhysicalAddress(rawValue: call[5])
        let requestSize = call[6]
        let response = GuestPhysicalAddress(rawValue: call[7])
        let responseSize = call[8]
        guard requestSize <= UInt64(Self.tpmBufferBytes) else { return call.finish(HypervisorStatus.p3) }
        guard responseSize >= UInt64(Self.tpmBufferBytes) else { return call.finish(HypervisorStatus.p5) }
        let command: [UInt8]
        do {
            command = try machine.memory.read(
                .hypervisor, at: request, count: Int(requestSize), purpose: "H_TPM_COMM request")
        } catch {
            call.notes.append("\(error)")
            return call.finish(HypervisorStatus.p2)
        }
        do {
            // Probe the part of the response buffer a response can use.
            _ = try machine.memory.read(
                .hypervisor, at: response, count: Self.tpmBufferBytes, purpose: "H_TPM_COMM response")
        } catch {
            call.notes.append("\(error)")
            return call.finish(HypervisorStatus.p4)
        }
        let answer: [UInt8]
        do {
            answer = try tpm.execute(command)
        } catch {
            call.notes.append("TPM backend: \(error)")
            return call.finish(HypervisorStatus.resource)
        }
        guard answer.count <= Self.tpmBufferBytes else {
            call.notes.append("TPM response of \(answer.count) bytes does not fit")
            return call.finish(HypervisorStatus.resource)
        }
        do {
            try machine.memory.write(.hypervisor, at: response, bytes: answer, purpose: "H_TPM_COMM response")
        } catch {
            call.notes.append("\(error)")
            return call.finish(HypervisorStatus.p4)
        }
        call[4] = UInt64(answer.count)
        call.finish(HypervisorStatus.success)
    }
}
