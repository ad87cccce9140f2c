extension DeviceTree {
    /// The tree as device-tree source text, in the layout `dtc -I dtb -O dts` (dtc
    /// 1.6.1, `dt_to_source()` in `treesource.c`) writes for a blob:
    ///
    /// ```
    /// /dts-v1/;
    ///
    /// /memreserve/	0x0000000000400000 0x0000000000000080;
    /// / {
    /// 	#address-cells = <0x02>;
    /// 	compatible = "qemu,pseries";
    ///
    /// 	chosen {
    /// 		bootargs = "console=hvc0";
    /// 	};
    /// };
    /// ```
    ///
    /// Nodes and properties come in blob order, indented with one tab per level, a
    /// blank line before every child node; each value takes the form dtc would guess
    /// for it (``DeviceTreeProperty/DTSForm``).
    ///
    /// For the QEMU pseries fixtures the text equals dtc's output byte for byte
    /// (tested). No difference is known for blob input. What dtc can print only
    /// from source information a blob lacks is never produced: labels, `&ref`
    /// phandle references, `/bits/ 16` and `/bits/ 64` arrays, mixed
    /// string-and-cell values, and `-A` annotations; `phandle` and `linux,phandle`
    /// print as plain cells, as dtc prints them for a blob. Bytes above 0x7F make a
    /// value cells or bytes, as in dtc under the C locale.
    public func renderDTS() -> String {
        var out = "/dts-v1/;\n\n"
        for r in reserveMap {
            out += "/memreserve/\t0x\(Self.hex16(r.address)) 0x\(Self.hex16(r.size));\n"
        }
        Self.render(root, level: 0, into: &out)
        return out
    }

    /// Appends one node block at `level` (tabs) to `out`.
    static func render(_ node: DeviceTreeNode, level: Int, into out: inout String) {
        let indent = String(repeating: "\t", count: level)
        out += indent + (node.name.isEmpty ? "/" : node.name) + " {\n"
        for p in node.properties {
            out += indent + "\t" + p.dtsLine + "\n"
        }
        for child in node.children {
            out += "\n"
            render(child, level: level + 1, into: &out)
        }
        out += indent + "};\n"
    }

    /// `%016llx`.
    static func hex16(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - h.count)) + h
    }
}

extension DeviceTreeNode {
    /// This node and its subtree as device-tree source at nesting `level`, in the
    /// layout of ``DeviceTree/renderDTS()`` (the root prints as `/`).
    public func renderDTS(level: Int = 0) -> String {
        var out = ""
        DeviceTree.render(self, level: max(0, level), into: &out)
        return out
    }
}
