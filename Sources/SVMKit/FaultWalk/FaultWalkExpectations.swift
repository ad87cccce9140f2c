/// The outcomes Linux is expected to give under a fault, each with the real code
/// that makes it so: what makes a fault walk's row explained. A row no rule explains is
/// new, and fails the walk (`svmkit faults walk` exits 1).
public enum FaultWalkExpectations {
    /// The rules for Linux 6.12 on the documented firmware.
    public static let linux: [FaultWalkExpectation] = [
        FaultWalkExpectation(
            "handled", outcome: .handled,
            linux: "the failure had no visible effect or Linux retried it: every phase ended as requested"),
    ]
}
