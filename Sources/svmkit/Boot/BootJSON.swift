import SVMKit

/// What `svmkit boot --json` prints: the ``BootReport``'s keys, plus `tpmFailure`, what
/// an external TPM's backend saw when it failed (the Ultravisor only sees `H_RESOURCE`),
/// or null, and `explanations` (``BootExplanations``).
struct BootJSON: Encodable {
    var report: BootReport
    var tpmFailure: String?

    private enum Keys: String, CodingKey { case tpmFailure, explanations }

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(tpmFailure, forKey: .tpmFailure)
        try container.encode(BootExplanations.explain(report), forKey: .explanations)
    }
}
