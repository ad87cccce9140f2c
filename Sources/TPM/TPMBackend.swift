/// Something that executes TPM 2.0 commands: takes one command buffer in the TPM
/// wire format and returns one response buffer.
///
/// The hypervisor's `H_TPM_COMM` (0xEF10) forwards the Ultravisor's commands to a
/// backend (reference/ultravisor-facts.md §2.7); a backend that cannot answer throws,
/// and the hypervisor turns that into `H_RESOURCE`. SVMKit ships an embedded
/// software TPM (the default); a swtpm backend can stand in for it.
public protocol TPMBackend: Sendable {
    /// Executes one command and returns its response (response header included).
    /// - Throws: ``TPMTransportError`` when the TPM cannot be reached or answers nothing.
    func execute(_ command: [UInt8]) throws(TPMTransportError) -> [UInt8]

    /// Ends the client's session (`H_TPM_COMM` operation 2). The default does nothing.
    func close()
}

extension TPMBackend {
    /// Does nothing.
    public func close() {}
}

/// A failure to deliver a command to a TPM or to get a response back (not a TPM
/// response code: those come back inside the response).
public struct TPMTransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, naming the backend and the command where known.
    public let reason: String

    /// Makes an error.
    public init(_ reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { reason }
}
