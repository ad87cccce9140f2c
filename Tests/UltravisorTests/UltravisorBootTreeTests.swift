import DeviceTree
import TPM
import Testing

@testable import Ultravisor

/// The Ultravisor's configuration read from and written to its boot device tree
/// (`ibm,uv-tpm`, reference/ultravisor-facts.md §2.7).
@Suite struct UltravisorBootTreeTests {
    @Test func theWrappingKeyComesFromTheUltravisorsBootDeviceTree() throws {
        let (_, key) = try TPMProvisioning.provision(
            keyPEM: try TPMProvisioning.generateKeyPEM(), authValue: Array("svmkit".utf8), seed: 1)
        let configuration = UltravisorConfiguration(esmCheckPolicy: .warn, wrappingKey: key)
        let tree = try configuration.bootDeviceTree()
        #expect(tree.nodes(compatibleWith: "ibm,uv-tpm") == ["/ibm,ultravisor/ibm,uv-tpm"])
        #expect(try tree.u32("wrapping-key-handle", at: "/ibm,ultravisor/ibm,uv-tpm") == 0x8180_0001)
        let read = try UltravisorConfiguration(esmCheckPolicy: .warn, bootDeviceTree: tree)
        #expect(read == configuration)
        // No ibm,uv-tpm node: no wrapping key.
        let bare = try UltravisorConfiguration(wrappingKey: nil).bootDeviceTree()
        #expect(try UltravisorConfiguration(bootDeviceTree: bare).wrappingKey == nil)
        #expect(UltravisorConfiguration().esmCheckPolicy == .enforce)
        // A node without its public name is an error that names the property.
        var broken = tree
        try broken.deleteProperty("wrapping-key-publicname", at: "/ibm,ultravisor/ibm,uv-tpm")
        try broken.pack()
        #expect {
            try UltravisorConfiguration(bootDeviceTree: broken)
        } throws: { error in
            "\(error)".contains("wrapping-key-publicname") && "\(error)".hasPrefix("/ibm,ultravisor/ibm,uv-tpm")
        }
    }
}
