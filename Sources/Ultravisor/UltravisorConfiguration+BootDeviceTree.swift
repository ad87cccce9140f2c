public import DeviceTree
import ESM
import TPM

/// Why the Ultravisor's boot device tree could not be read or made.
public struct UltravisorConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, naming the node or property.
    public let reason: String

    /// Makes an error.
    public init(_ reason: String) { self.reason = reason }

    /// The reason.
    public var description: String { reason }
}

extension UltravisorConfiguration {
    /// The node skiboot adds for the Ultravisor (`add_uv_dt_node()`: `/ibm,ultravisor`,
    /// `compatible = "ibm,ultravisor"`). SVMKit puts the `ibm,uv-tpm` node under it
    /// (inference: the Ultravisor finds that node by `compatible`, so its place does
    /// not matter; reference/ultravisor-facts.md §2.7).
    public static let ultravisorNodePath = "/ibm,ultravisor"

    /// Reads the configuration from the Ultravisor's own boot device tree: the wrapping
    /// key is the first node with `compatible = "ibm,uv-tpm"` (§2.7), whose
    /// `wrapping-key-handle`, `-passwd`, `-publicname`, `-policy-a` and `-policy-b` the
    /// firmware copies into its private `ibm,uv-crypto` FDT at start-up. A tree with no
    /// such node gives a configuration without a wrapping key (`lockbox-1` then cannot
    /// be opened).
    /// - Throws: ``UltravisorConfigurationError`` naming the missing or malformed property.
    public init(esmCheckPolicy: ESMCheckPolicy = .enforce, bootDeviceTree tree: DeviceTree)
        throws(UltravisorConfigurationError)
    {
        guard let path = tree.nodes(compatibleWith: TPMWrappingKeyConfiguration.compatible).first else {
            self.init(esmCheckPolicy: esmCheckPolicy, wrappingKey: nil)
            return
        }
        var properties: [String: [UInt8]] = [:]
        for p in (try? tree.properties(at: path)) ?? [] { properties[p.name] = p.value }
        do {
            self.init(esmCheckPolicy: esmCheckPolicy, wrappingKey: try WrappingKey(properties: properties))
        } catch {
            throw UltravisorConfigurationError("\(path): \(error)")
        }
    }

    /// The Ultravisor's boot device tree as skiboot hands it over, holding this
    /// configuration's wrapping key (`fdt_add_wrapping_key()`): `/ibm,ultravisor`
    /// with a child `ibm,uv-tpm` carrying the five `wrapping-key-*` properties. Without
    /// a wrapping key the tree has no `ibm,uv-tpm` node.
    /// - Throws: ``UltravisorConfigurationError`` if libfdt refuses an edit.
    public func bootDeviceTree() throws(UltravisorConfigurationError) -> DeviceTree {
        var tree = DeviceTree()
        do {
            try tree.ensureNode(Self.ultravisorNodePath)
            try tree.setString("compatible", "ibm,ultravisor", at: Self.ultravisorNodePath)
            if let key = wrappingKey {
                let node = try tree.addNode(TPMWrappingKeyConfiguration.compatible, under: Self.ultravisorNodePath)
                for (name, value) in key.properties { try tree.setProperty(name, value, at: node) }
            }
            try tree.pack()
        } catch {
            throw UltravisorConfigurationError("building the Ultravisor's boot device tree: \(error)")
        }
        return tree
    }
}
