import ArgumentParser
import DeviceTree
import Foundation

/// `svmkit fdt get FILE PATH [PROPERTY]`: one node or one property.
struct FDTGetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print one node's properties, or one property.",
        discussion: """
            Without PROPERTY, prints the node's properties as source lines and names \
            its child nodes (each as `name { /* N properties, M subnodes */ };`). With \
            PROPERTY, prints that property's source line. --json prints the same as \
            JSON for scripts: each property with its name, the form dtc would print it \
            in (empty, string, cells, bytes), its bytes in hex, and its cells or \
            strings when it has them.

            Examples:
              svmkit fdt get guest.dtb /chosen
              svmkit fdt get guest.dtb /chosen bootargs
              svmkit fdt get guest.dtb /rtas ibm,os-term --json
              svmkit fdt get guest.dtb /memory@0 reg --json

            Exit status 1 when the node or property is not there (the message names \
            it), 2 when FILE cannot be read or is not a valid device tree.
            """
    )

    @Argument(help: ArgumentHelp("The device tree blob to read; - reads standard input.", valueName: "file"))
    var file: String

    @Argument(help: ArgumentHelp("The node's absolute path, e.g. /chosen or /cpus/PowerPC,POWER9@0.", valueName: "path"))
    var path: String

    @Argument(help: ArgumentHelp("A property of the node, e.g. bootargs.", valueName: "property"))
    var property: String?

    @Flag(help: "Print JSON instead of source text.")
    var json = false

    func run() throws {
        let tree = try FDTInput.tree(file, command: "get")
        guard path.hasPrefix("/"), tree.hasNode(path) else {
            let hint = path.hasPrefix("/") ? "" : " (paths start with /)"
            throw FDTInput.fail("get", "\(file) has no node \(path)\(hint)", FDTInput.notFound)
        }
        let node: DeviceTreeNode
        do { node = try tree.node(at: path) } catch {
            throw FDTInput.fail("get", "\(file): \(error)", FDTInput.notFound)
        }
        if let property {
            guard let p = node.properties.first(where: { $0.name == property }) else {
                let names = node.properties.map(\.name)
                let have = names.isEmpty ? "it has no properties" : "it has: " + names.joined(separator: ", ")
                throw FDTInput.fail("get", "node \(path) in \(file) has no property \(property) (\(have))", FDTInput.notFound)
            }
            if json {
                printJSON(PropertyJSON(p, path: path))
            } else {
                CLIReporter.out(p.dtsLine + "\n")
            }
            return
        }
        if json {
            printJSON(NodeJSON(node, path: path))
            return
        }
        var text = (node.name.isEmpty ? "/" : node.name) + " {\n"
        for p in node.properties { text += "\t" + p.dtsLine + "\n" }
        for child in node.children {
            let props = child.properties.count, subs = child.children.count
            text += "\n\t\(child.name) { /* \(props) \(props == 1 ? "property" : "properties"), "
            text += "\(subs) \(subs == 1 ? "subnode" : "subnodes") */ };\n"
        }
        CLIReporter.out(text + "};\n")
    }

    func printJSON(_ value: some Encodable) {
        CLIReporter.out(CLIJSON.text(value))
    }

    /// One property for `--json`.
    struct PropertyJSON: Encodable {
        var path: String
        var name: String
        var form: String
        var length: Int
        var hex: String
        var cells: [UInt32]?
        var strings: [String]?

        init(_ p: DeviceTreeProperty, path: String) {
            self.path = path
            name = p.name
            form = p.dtsForm.rawValue
            length = p.value.count
            hex = p.value.map { String(format: "%02x", $0) }.joined()
            if !p.value.isEmpty, p.value.count % 4 == 0 {
                cells = (0..<p.value.count / 4).map { BigEndianCells.u32(p.value, at: $0 * 4) }
            }
            if p.dtsForm == .string {
                strings = p.value.dropLast().split(separator: 0, omittingEmptySubsequences: false).map {
                    String(decoding: $0, as: UTF8.self)
                }
            }
        }
    }

    /// One node for `--json`: its properties and the names of its children.
    struct NodeJSON: Encodable {
        var path: String
        var name: String
        var properties: [PropertyJSON]
        var subnodes: [String]

        init(_ node: DeviceTreeNode, path: String) {
            self.path = path
            name = node.name
            properties = node.properties.map { PropertyJSON($0, path: path) }
            subnodes = node.children.map(\.name)
        }
    }
}
