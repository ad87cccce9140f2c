import Foundation
import TPM

/// Keys and fixtures shared by the SVMKit tests.
enum TestKeys {
    /// One RSA-2048 key for the simulated TPM, made once per test run.
    static let tpmKeyPEM: String = (try? TPMProvisioning.generateKeyPEM()) ?? ""

    /// A QEMU fixture from the DeviceTree tests.
    static func fixture(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DeviceTreeTests/Fixtures/\(name)")
    }
}
