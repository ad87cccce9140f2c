import Foundation
import Testing

/// Issue 17 item 4: the kernel-version matrix that `Scripts/version-matrix --write` puts
/// in README.md and in the DocC article "How a POWER guest becomes secure" is one table.
@Suite("Kernel-version matrix: README and DocC agree")
struct VersionMatrixTests {
    static func table(_ relative: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(relative)
        let text = try String(contentsOf: url, encoding: .utf8)
        let begin = try #require(text.range(of: "<!-- version-matrix:begin -->\n"))
        let end = try #require(text.range(of: "<!-- version-matrix:end -->"))
        return String(text[begin.upperBound..<end.lowerBound])
    }

    @Test("The same table in both, one row per profile and command line, 6.12 without swiotlb=force broken")
    func same() throws {
        let readme = try Self.table("README.md")
        #expect(readme == (try Self.table("Sources/SVMKit/SVMKit.docc/HowAPOWERGuestBecomesSecure.md")))
        let rows = readme.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| Linux") }
        #expect(rows.count == 12)
        // The NVMe rows (--disk nvme): 6.1 and 6.12 with swiotlb=force, data intact.
        for v in ["6.1", "6.12"] {
            #expect(rows.contains { $0.hasPrefix("| \(v) | `svm=on swiotlb=force console=hvc0` | ddw | nvme |") && $0.hasSuffix("| yes |") })
        }
        #expect(rows.contains { $0.hasPrefix("| 6.12 | `svm=on console=hvc0` | ddw |") && $0.contains("ciphertext") })
        #expect(rows.contains { $0.hasPrefix("| 5.10 | `svm=on console=hvc0` | ddw |") && $0.hasSuffix("| yes |") })
        // The slot search and the VPA/DTL column (issue 17: 6.1's own search; no VPA/DTL difference from 6.12).
        #expect(rows.contains { $0.hasPrefix("| 6.1 | `svm=on swiotlb=force console=hvc0` | ddw |") && $0.contains("| linux61 |") })
        #expect(rows.filter { $0.hasPrefix("| 6.1 |") }.allSatisfy { $0.contains("as 6.12: paca.c, lpar.c, setup.c, svm.c, dtl.c compared") })
        // 5.4.y and 5.10.y read from 5.4.301 and 5.10.265: no "unverified" left; a TCE-mapped
        // disk gets the secure page itself on 5.4 too (iommu_init_early_pSeries (5.4.301)).
        #expect(!readme.contains("unverified"))
        #expect(rows.filter { $0.hasPrefix("| 5.4 |") }.allSatisfy { $0.contains("compared (5.4.301)") })
        #expect(rows.filter { $0.hasPrefix("| 5.10 |") }.allSatisfy { $0.contains("compared (5.10.265)") })
        #expect(rows.contains { $0.hasPrefix("| 5.4 | `svm=on swiotlb=force console=hvc0` | tce |") && $0.contains("ciphertext") })
    }
}
