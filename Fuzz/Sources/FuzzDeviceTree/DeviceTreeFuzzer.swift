import DeviceTree
import FuzzSupport

/// libFuzzer's entry point for the `devicetree` target.
///
/// The input is a flattened device tree followed by an edit script: the bytes past
/// the header's `totalsize` are ignored by ``DeviceTree/init(bytes:)``, so they
/// choose the edits applied afterwards. A committed seed is a tree `dtc` wrote,
/// optionally with script bytes appended.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDeviceTree(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    DeviceTreeFuzzer.run(FuzzInput.copy(data, size))
    return 0
}

/// What the `devicetree` target checks, for any bytes:
///
/// - `DeviceTree(bytes:)` either throws its typed ``FDTError`` (with a message) or
///   gives a tree whose header agrees with its bytes, and which its own bytes open
///   to an equal value;
/// - every reader (paths, properties, typed cells, `reg`, phandles, compatible
///   search, reserve map, DTS rendering) returns or throws without crashing, and
///   agrees with the tree walked by offset wherever a path names one node only;
/// - the tree rebuilt from its own nodes with the sequential-write builder opens
///   again to the same nodes and renders the same DTS;
/// - after every edit (set/delete property, add/delete/ensure node, reserve-map
///   entries, pack, grow, boot CPU), successful or not, the blob still opens and the
///   edit reads back.
enum DeviceTreeFuzzer {
    /// Edits applied per input, at most.
    static let maximumEdits = 8
    /// Nodes that get every per-node check in one input (a window chosen by the
    /// input, so large trees stay fast and every node can still be reached).
    static let nodesChecked = 48
    /// Properties whose typed readers are checked in one input, at most.
    static let propertiesChecked = 96

    static func run(_ bytes: [UInt8]) {
        let tree: DeviceTree
        do {
            tree = try DeviceTree(bytes: bytes)
        } catch {
            fuzzRequire(!error.description.isEmpty, "FDTError without a description: \(error.code)")
            return
        }
        checkHeader(tree, inputCount: bytes.count)
        let again = reopen(tree, "its own bytes")
        fuzzRequire(again == tree, "reopening a tree's own bytes gave a different value")

        let root = tree.root
        let walked = WalkedNode.walk(root)
        let start = walked.count <= nodesChecked ? 0 : Int(bytes.last ?? 0) * 7 % walked.count
        let window = (0..<min(nodesChecked, walked.count)).map { walked[(start + $0) % walked.count] }
        checkReaders(tree, walked, window: window)
        checkSearches(tree, walked)
        checkRebuild(tree, root)

        var script = FuzzInput(bytes[min(tree.totalSize, bytes.count)...])
        edit(tree, &script)
    }

    // MARK: Reading

    static func checkHeader(_ tree: DeviceTree, inputCount: Int) {
        let h = tree.header
        fuzzRequire(h.magic == DeviceTree.magic, "magic \(h.magic) after a successful open")
        fuzzRequire(h.totalSize == tree.totalSize, "header totalsize \(h.totalSize) != totalSize \(tree.totalSize)")
        fuzzRequire(tree.bytes.count == tree.totalSize, "bytes.count \(tree.bytes.count) != totalsize \(tree.totalSize)")
        fuzzRequire(tree.totalSize <= inputCount, "totalsize \(tree.totalSize) > \(inputCount) input bytes")
        fuzzRequire(h.version == tree.version && h.bootCPUIDPhys == tree.bootCPUIDPhys, "header accessors disagree")
    }

    /// Opens `tree`'s bytes again; a failure means a tree SVMKit holds (parsed,
    /// built or edited) is one its own parser rejects.
    @discardableResult
    static func reopen(_ tree: DeviceTree, _ what: @autoclosure () -> String) -> DeviceTree {
        fuzzRequire(tree.bytes.count == tree.totalSize,
            "\(what()): bytes.count \(tree.bytes.count) != totalsize \(tree.totalSize)")
        do {
            return try DeviceTree(bytes: tree.bytes)
        } catch {
            fuzzFail("\(what()): the tree's own bytes do not open: \(error)")
        }
    }

    static func checkReaders(_ tree: DeviceTree, _ walked: [WalkedNode], window: [WalkedNode]) {
        let paths = tree.allNodePaths()
        fuzzRequire(paths == walked.map(\.path),
            "allNodePaths() \(paths.count) paths disagree with the offset walk (\(walked.count) nodes)")
        fuzzRequire(paths.first == "/", "allNodePaths() does not start at the root")
        let exactPaths = Set(walked.lazy.filter(\.isExact).map(\.path))
        var propertyBudget = propertiesChecked

        for w in window {
            // Every reader must return or throw, whatever the path resolves to.
            _ = tree.hasNode(w.path)
            _ = try? tree.subnodes(of: w.path)
            _ = try? tree.properties(at: w.path)
            _ = try? tree.parentPath(of: w.path)
            _ = try? tree.addressCells(of: w.path)
            _ = try? tree.sizeCells(of: w.path)
            let regions = try? tree.reg(at: w.path)
            _ = w.node.renderDTS(level: 1)
            if let phandle = try? tree.phandle(at: w.path) {
                if let owner = try? tree.path(ofPhandle: phandle), let found = try? tree.phandle(at: owner),
                   exactPaths.contains(owner)
                {
                    fuzzRequire(found == phandle, "phandle \(phandle) leads to \(owner), whose phandle is \(found)")
                }
            }
            for p in w.node.properties.prefix(max(0, propertyBudget)) {
                checkTypedReaders(tree, p, at: w.path, exact: w.isExact)
            }
            propertyBudget -= w.node.properties.count

            guard w.isExact else { continue }
            fuzzRequire(tree.hasNode(w.path), "hasNode(\(w.path)) is false")
            fuzzRequire((try? tree.node(at: w.path)) == w.node, "node(at: \(w.path)) differs from the walk")
            fuzzRequire((try? tree.properties(at: w.path)) == w.node.properties, "properties(at: \(w.path)) differ")
            fuzzRequire((try? tree.subnodes(of: w.path)) == w.node.children.map(\.name), "subnodes(of: \(w.path)) differ")
            if w.path != "/" {
                let parent = try? tree.parentPath(of: w.path)
                fuzzRequire(parent == DeviceTree.parent(of: w.path), "parentPath(of: \(w.path)) is \(parent ?? "nil")")
            }
            if let regions, let cells = try? tree.cells("reg", at: w.path), !regions.isEmpty {
                fuzzRequire(cells.count % regions.count == 0, "\(w.path): \(regions.count) reg entries from \(cells.count) cells")
            }
        }
    }

    /// Typed readers agree with the raw value: each succeeds exactly when the value
    /// has the length or form it needs.
    static func checkTypedReaders(_ tree: DeviceTree, _ p: DeviceTreeProperty, at path: String, exact: Bool) {
        _ = p.dtsLine
        let v = p.value
        let string = try? tree.string(p.name, at: path)
        let list = try? tree.stringList(p.name, at: path)
        let u32 = try? tree.u32(p.name, at: path)
        let u64 = try? tree.u64(p.name, at: path)
        let cells = try? tree.cells(p.name, at: path)
        guard exact, isPlain(p.name) else { return }
        // Only the first property of a name is reachable by name.
        let raw: [UInt8]
        do {
            raw = try tree.property(p.name, at: path)
        } catch {
            fuzzFail("\(path) property \(p.name) is listed but not found: \(error)")
        }
        guard raw == v else { return }
        let terminated = v.last == 0
        fuzzRequire((string != nil) == terminated, "\(path) \(p.name): string() and the value's NUL disagree")
        fuzzRequire((list != nil) == terminated, "\(path) \(p.name): stringList() and the value's NUL disagree")
        if let string { fuzzRequire(string == String(decoding: v.dropLast(), as: UTF8.self), "\(path) \(p.name): string()") }
        if let list { fuzzRequire(list.count == v.filter { $0 == 0 }.count, "\(path) \(p.name): stringList() count") }
        fuzzRequire((u32 != nil) == (v.count == 4), "\(path) \(p.name): u32() for \(v.count) bytes")
        fuzzRequire((u64 != nil) == (v.count == 4 || v.count == 8), "\(path) \(p.name): u64() for \(v.count) bytes")
        fuzzRequire((cells != nil) == (v.count % 4 == 0), "\(path) \(p.name): cells() for \(v.count) bytes")
        if let cells, let u32 { fuzzRequire(cells == [u32], "\(path) \(p.name): cells() and u32() disagree") }
    }

    static func checkSearches(_ tree: DeviceTree, _ walked: [WalkedNode]) {
        let all = Set(walked.map(\.path))
        var compatibles: Set<String> = []
        for w in walked.prefix(64) {
            if let list = try? tree.stringList("compatible", at: w.path) { compatibles.formUnion(list.prefix(4)) }
        }
        for c in compatibles.prefix(8) {
            for found in tree.nodes(compatibleWith: c) {
                fuzzRequire(all.contains(found), "nodes(compatibleWith: \(c)) gave \(found), not a node path")
            }
        }
        for found in tree.nodes(withProperty: "device_type", equalTo: Array("cpu".utf8) + [0]) {
            fuzzRequire(all.contains(found), "nodes(withProperty:) gave \(found), not a node path")
        }
        let map = tree.reserveMap
        _ = map.map(\.end)
        let dts = tree.renderDTS()
        fuzzRequire(dts.hasPrefix("/dts-v1/;\n\n") && dts.hasSuffix("};\n"), "renderDTS() framing")
    }

    /// The builder writes back what the parser read.
    static func checkRebuild(_ tree: DeviceTree, _ root: DeviceTreeNode) {
        let rebuilt: DeviceTree
        do {
            rebuilt = try DeviceTree(root: root, reserveMap: tree.reserveMap, bootCPUIDPhys: tree.bootCPUIDPhys)
        } catch {
            fuzzFail("a tree that opened cannot be rebuilt from its own nodes: \(error)")
        }
        let reopened = reopen(rebuilt, "the rebuilt tree")
        fuzzRequire(reopened.root == root, "the rebuilt tree's nodes differ from the original's")
        fuzzRequire(reopened.reserveMap == tree.reserveMap, "the rebuilt tree's reserve map differs")
        fuzzRequire(reopened.bootCPUIDPhys == tree.bootCPUIDPhys, "the rebuilt tree's boot_cpuid_phys differs")
    }

    // MARK: Editing

    static func edit(_ original: DeviceTree, _ script: inout FuzzInput) {
        var tree = original
        var edits = 0
        while !script.isAtEnd, edits < maximumEdits {
            edits += 1
            let before = tree
            let walked = WalkedNode.walk(tree.root)
            guard let target = script.pick(walked) else { return }
            let op = script.byte() % 12
            switch op {
            case 0:
                let name = script.bool() ? (script.pick(target.node.properties)?.name ?? "") : script.string(upTo: 16)
                let value = script.bytes(upTo: 64)
                if (try? tree.setProperty(name, value, at: target.path)) != nil, target.isExact, isPlain(name) {
                    fuzzRequire((try? tree.property(name, at: target.path)) == value || hasDuplicate(name, in: target.node),
                        "setProperty(\(name)) at \(target.path) does not read back")
                }
            case 1:
                guard let p = script.pick(target.node.properties) else { break }
                if (try? tree.deleteProperty(p.name, at: target.path)) != nil, target.isExact, isPlain(p.name),
                   !hasDuplicate(p.name, in: target.node)
                {
                    fuzzRequire(tree.propertyIfPresent(p.name, at: target.path) == nil,
                        "deleteProperty(\(p.name)) at \(target.path) left it in place")
                }
            case 2:
                let name = script.string(upTo: 12)
                if let path = try? tree.addNode(name, under: target.path) {
                    fuzzRequire(path == DeviceTree.join(target.path, name), "addNode returned \(path)")
                    fuzzRequire(tree.hasNode(path) || !target.isExact, "addNode(\(name)) under \(target.path) not found")
                }
            case 3:
                if target.path != "/", (try? tree.deleteNode(target.path)) != nil {
                    fuzzRequire(tree.root.nodeCount < before.root.nodeCount, "deleteNode(\(target.path)) removed nothing")
                }
            case 4:
                let region = DeviceTreeRegion(address: script.integer(), size: script.integer())
                if (try? tree.addReserveEntry(region)) != nil {
                    fuzzRequire(tree.reserveMap == before.reserveMap + [region], "addReserveEntry(\(region)) does not read back")
                }
            case 5:
                let index = script.int(in: -1...(before.reserveMap.count + 1))
                if (try? tree.deleteReserveEntry(at: index)) != nil {
                    var expected = before.reserveMap
                    expected.remove(at: index)
                    fuzzRequire(tree.reserveMap == expected, "deleteReserveEntry(at: \(index))")
                }
            case 6:
                _ = try? tree.pack()
                fuzzRequire(tree.root == before.root && tree.reserveMap == before.reserveMap, "pack() changed the content")
            case 7:
                let extra = script.int(in: 0...4096)
                if (try? tree.grow(by: extra)) != nil {
                    fuzzRequire(tree.totalSize == before.totalSize + extra, "grow(by: \(extra)) gave \(tree.totalSize)")
                    fuzzRequire(tree.root == before.root, "grow(by:) changed the content")
                }
            case 8:
                let path = DeviceTree.join(target.path, script.string(upTo: 8)) + (script.bool() ? "/" + script.string(upTo: 8) : "")
                if (try? tree.ensureNode(path)) != nil {
                    fuzzRequire(tree.hasNode(path), "ensureNode(\(path)) succeeded but the node is not there")
                }
            case 9:
                let name = script.string(upTo: 12)
                let text = script.string(upTo: 24)
                if (try? tree.setString(name, text, at: target.path)) != nil, target.isExact, isPlain(name),
                   !text.utf8.contains(0), !hasDuplicate(name, in: target.node)
                {
                    fuzzRequire((try? tree.string(name, at: target.path)) == text, "setString(\(name)) does not read back")
                }
            case 10:
                let name = script.string(upTo: 12)
                let value: UInt64 = script.integer()
                let wide = script.bool()
                let ok = wide
                    ? (try? tree.setU64(name, value, at: target.path)) != nil
                    : (try? tree.setU32(name, UInt32(truncatingIfNeeded: value), at: target.path)) != nil
                if ok, target.isExact, isPlain(name), !hasDuplicate(name, in: target.node) {
                    let read = try? tree.u64(name, at: target.path)
                    fuzzRequire(read == (wide ? value : UInt64(UInt32(truncatingIfNeeded: value))), "setU32/setU64(\(name))")
                }
            default:
                let id: UInt32 = script.integer()
                tree.bootCPUIDPhys = id
                fuzzRequire(tree.header.bootCPUIDPhys == id, "bootCPUIDPhys does not read back")
            }
            let reopened = reopen(tree, "after edit \(op) at \(target.path)")
            fuzzRequire(reopened.bytes == tree.bytes, "after edit \(op): reopening changes the bytes")
        }
    }

    // MARK: Helpers

    /// A name that reads back as written: non-empty, no NUL, no replacement
    /// character (ill-formed UTF-8 in the blob).
    static func isPlain(_ name: String) -> Bool {
        !name.isEmpty && !name.utf8.contains(0) && !name.unicodeScalars.contains("\u{FFFD}")
    }

    /// Whether the node has more than one property whose name has the same bytes
    /// (libfdt compares bytes; Swift's `==` compares canonically equivalent text).
    static func hasDuplicate(_ name: String, in node: DeviceTreeNode) -> Bool {
        node.properties.lazy.filter { $0.name.utf8.elementsEqual(name.utf8) }.count > 1
    }
}

/// A node reached by walking the tree by offset, with the path built from names.
struct WalkedNode {
    var path: String
    var node: DeviceTreeNode
    /// Whether libfdt's path lookup (`fdt_path_offset`) finds exactly this node by
    /// `path`: every name on the way is plain, has no `/`, and is the first sibling
    /// the lookup matches (a name without `@` also matches `name@unit`).
    var isExact: Bool

    /// Every node, depth first, in blob order (the order `allNodePaths()` promises).
    static func walk(_ root: DeviceTreeNode) -> [WalkedNode] {
        var out: [WalkedNode] = []
        func visit(_ node: DeviceTreeNode, _ path: String, _ exact: Bool) {
            out.append(WalkedNode(path: path, node: node, isExact: exact))
            for (i, child) in node.children.enumerated() {
                let first = node.children.firstIndex { lookupMatches($0.name, query: child.name) }
                let ok = exact && first == i && DeviceTreeFuzzer.isPlain(child.name) && !child.name.unicodeScalars.contains("/")
                visit(child, DeviceTree.join(path, child.name), ok)
            }
        }
        visit(root, "/", true)
        return out
    }

    /// libfdt's `fdt_nodename_eq_()`.
    static func lookupMatches(_ name: String, query: String) -> Bool {
        let n = Array(name.utf8), q = Array(query.utf8)
        if n == q { return true }
        return !q.contains(UInt8(ascii: "@")) && n.count > q.count && n.starts(with: q) && n[q.count] == UInt8(ascii: "@")
    }
}

extension DeviceTreeNode {
    /// This node and every descendant.
    var nodeCount: Int { 1 + children.reduce(0) { $0 + $1.nodeCount } }
}
