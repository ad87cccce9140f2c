/// A node and its subtree as a plain value: the way to build a tree from scratch
/// (``DeviceTree/init(root:reserveMap:bootCPUIDPhys:)``) with nodes and properties
/// in exactly the order given, and the way to read a subtree out
/// (``DeviceTree/node(at:)``).
public struct DeviceTreeNode: Hashable, Sendable {
    /// The node name with its unit address, e.g. `memory@0`; empty for the root.
    public var name: String
    /// Properties in order.
    public var properties: [DeviceTreeProperty]
    /// Child nodes in order.
    public var children: [DeviceTreeNode]

    /// Makes a node.
    public init(_ name: String, properties: [DeviceTreeProperty] = [], children: [DeviceTreeNode] = []) {
        self.name = name
        self.properties = properties
        self.children = children
    }

    /// The value of the first property called `name`, if any.
    public func value(of name: String) -> [UInt8]? { properties.first { $0.name == name }?.value }

    /// The first child called `name`, if any.
    public func child(_ name: String) -> DeviceTreeNode? { children.first { $0.name == name } }
}
