/// One check of the Ultravisor's integrity check (`svm_esmb_digest_chk`), with its
/// outcome and, unlike the real firmware, its exact reason.
///
/// Encoded as JSON with the keys `check`, `passed`, `detail` (the shape of `svmkit boot
/// --json`'s `esmChecks`), plus `expected` and `actual` (hex digests) when they apply.
public struct ESMCheck: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The check: `lockbox-1`, `digests-fdt`, `rtas`, `kernel-size`, `kernel`, `initrd`
    /// or `bootargs`.
    public var name: String
    /// Whether it passed.
    public var passed: Bool
    /// What was checked and, on failure, why it failed (naming the missing node or
    /// property, or the expected and actual digests).
    public var detail: String
    /// The digest the blob expects, in hex (digest checks only).
    public var expected: String?
    /// The digest computed from what was loaded, in hex (digest checks only).
    public var actual: String?

    /// Makes a check result.
    public init(name: String, passed: Bool, detail: String, expected: String? = nil, actual: String? = nil) {
        self.name = name
        self.passed = passed
        self.detail = detail
        self.expected = expected
        self.actual = actual
    }

    enum CodingKeys: String, CodingKey {
        case name = "check", passed, detail, expected, actual
    }

    /// `PASS name: detail` or `FAIL name: detail`.
    public var description: String { "\(passed ? "PASS" : "FAIL") \(name): \(detail)" }
}
