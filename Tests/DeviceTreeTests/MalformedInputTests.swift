import Testing

@testable import DeviceTree

/// Hostile or damaged blobs: each must give a typed ``FDTError``, never a crash.
@Suite("Malformed input gives typed errors")
struct MalformedInputTests {
    /// A small valid tree whose root has properties (so the first structure-block
    /// tag after the root's name is a property).
    static func sample() throws -> [UInt8] {
        try DeviceTree(
            root: DeviceTreeNode("", properties: [.u32("#address-cells", 2), .string("model", "x")], children: [
                DeviceTreeNode("chosen", properties: [.string("bootargs", "console=hvc0")])
            ]),
            reserveMap: [DeviceTreeRegion(address: 0x1000, size: 0x1000)]
        ).bytes
    }

    /// `bytes` with the big-endian word at `offset` replaced.
    static func patched(_ bytes: [UInt8], at offset: Int, _ value: UInt32) -> [UInt8] {
        var b = bytes
        b.replaceSubrange(offset..<offset + 4, with: BigEndianCells.bytes(value))
        return b
    }

    /// Header field byte offsets (`struct fdt_header`).
    enum Field: Int {
        case magic = 0, totalSize = 4, offStruct = 8, offStrings = 12, offReserve = 16, version = 20
        case lastComp = 24, bootCPU = 28, sizeStrings = 32, sizeStruct = 36
    }

    static func word(_ b: [UInt8], _ f: Field) -> UInt32 { BigEndianCells.u32(b, at: f.rawValue) }

    static func expectError(_ bytes: [UInt8], _ codes: Set<FDTError.Code>, _ comment: Comment) {
        do {
            _ = try DeviceTree(bytes: bytes)
            Issue.record("accepted: \(comment)")
        } catch {
            #expect(codes.contains(error.code), "\(comment): got \(error)")
            #expect(!error.description.isEmpty)
        }
    }

    @Test("Bad magic")
    func badMagic() throws {
        let b = try Self.sample()
        Self.expectError(Self.patched(b, at: 0, 0xFEED_D00D), [.badMagic], "magic")
    }

    @Test("Bad version: too old, too new")
    func badVersion() throws {
        let b = try Self.sample()
        Self.expectError(Self.patched(b, at: Field.version.rawValue, 1), [.badVersion], "version 1")
        let future = Self.patched(Self.patched(b, at: Field.version.rawValue, 99), at: Field.lastComp.rawValue, 99)
        Self.expectError(future, [.badVersion], "version 99")
    }

    @Test("Truncated: shorter than the header, than totalsize, at every length")
    func truncated() throws {
        let b = try Self.sample()
        Self.expectError(Array(b.prefix(39)), [.truncated], "39 bytes")
        Self.expectError(Array(b.dropLast(1)), [.truncated], "one byte short")
        Self.expectError(Self.patched(b, at: Field.totalSize.rawValue, UInt32(b.count + 8)), [.truncated], "totalsize too big")
        for n in 0..<b.count {
            #expect(throws: FDTError.self) { try DeviceTree(bytes: b.prefix(n)) }
        }
    }

    @Test("Block offsets and sizes past the end")
    func offsetsPastEnd() throws {
        let b = try Self.sample()
        let total = UInt32(b.count)
        let bad: Set<FDTError.Code> = [.truncated, .badOffset, .badStructure, .badLayout]
        Self.expectError(Self.patched(b, at: Field.offStruct.rawValue, total + 64), bad, "off_dt_struct")
        Self.expectError(Self.patched(b, at: Field.offStrings.rawValue, total + 64), bad, "off_dt_strings")
        Self.expectError(Self.patched(b, at: Field.offReserve.rawValue, total + 64), bad, "off_mem_rsvmap")
        Self.expectError(Self.patched(b, at: Field.sizeStruct.rawValue, total), bad, "size_dt_struct")
        Self.expectError(Self.patched(b, at: Field.sizeStrings.rawValue, total), bad, "size_dt_strings")
        Self.expectError(Self.patched(b, at: Field.offStrings.rawValue, 0xFFFF_FFF0), bad, "off_dt_strings wraps")
    }

    @Test("A property name offset past the strings block")
    func nameOffsetPastStrings() throws {
        let b = try Self.sample()
        let structStart = Int(Self.word(b, .offStruct))
        // BEGIN_NODE, the root's empty name (4 bytes), then the first PROP: tag, len, nameoff.
        #expect(BigEndianCells.u32(b, at: structStart) == 1)
        #expect(BigEndianCells.u32(b, at: structStart + 8) == 3)
        let sizeStrings = Self.word(b, .sizeStrings)
        let bad: Set<FDTError.Code> = [.badOffset, .truncated, .badStructure]
        Self.expectError(Self.patched(b, at: structStart + 16, sizeStrings + 4), bad, "nameoff past the block")
        // A name that starts inside the block but runs past its end: shrinking the
        // block by one byte cuts the NUL off its last name ("bootargs", used by /chosen).
        let strings = Int(Self.word(b, .offStrings))
        #expect(b[strings + Int(sizeStrings) - 1] == 0)
        Self.expectError(Self.patched(b, at: Field.sizeStrings.rawValue, sizeStrings - 1), bad, "name runs past the block")
    }

    @Test("A property value running past the structure block")
    func valuePastStruct() throws {
        let b = try Self.sample()
        let structStart = Int(Self.word(b, .offStruct))
        Self.expectError(Self.patched(b, at: structStart + 12, 0x7FFF_0000), [.truncated, .badStructure, .badOffset], "len")
    }

    @Test("A misaligned copy is copied into aligned storage, not rejected")
    func misaligned() throws {
        let b = try Self.sample()
        for shift in 1...7 {
            let padded = [UInt8](repeating: 0xAA, count: shift) + b
            let tree = try DeviceTree(bytes: padded[shift...])
            #expect(try tree.string("bootargs", at: "/chosen") == "console=hvc0")
        }
    }

    @Test("Nesting deeper than the limit is rejected before any recursive walk")
    func tooDeep() throws {
        var node = DeviceTreeNode("n")
        for _ in 0..<DeviceTree.maximumDepth { node = DeviceTreeNode("n", children: [node]) }
        let deep = try DeviceTree(root: DeviceTreeNode("", children: [node])).bytes
        Self.expectError(deep, [.badStructure], "depth \(DeviceTree.maximumDepth + 2)")
        var ok = DeviceTreeNode("n")
        for _ in 0..<(DeviceTree.maximumDepth - 2) { ok = DeviceTreeNode("n", children: [ok]) }
        let fine = try DeviceTree(bytes: try DeviceTree(root: DeviceTreeNode("", children: [ok])).bytes)
        #expect(fine.allNodePaths().count == DeviceTree.maximumDepth)
    }

    @Test("Random corruption of a QEMU dump never crashes", arguments: 0..<4)
    func fuzz(seed: UInt64) throws {
        let original = try Fixtures.blob("qemu-pseries-1cpu-1G")
        var rng = SplitMix64(seed: seed)
        var accepted = 0
        for _ in 0..<300 {
            var b = original
            for _ in 0..<Int(rng.next() % 4 + 1) {
                // Bias towards the header and the first structure words, where damage matters most.
                let i = rng.next() % 2 == 0 ? Int(rng.next() % 128) : Int(rng.next() % UInt64(b.count))
                b[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            guard let tree = try? DeviceTree(bytes: b) else { continue }
            accepted += 1
            _ = tree.renderDTS()
            _ = tree.allNodePaths()
            _ = tree.reserveMap
            _ = tree.nodes(compatibleWith: "hvterm1")
        }
        #expect(accepted < 300)
    }
}

/// A tiny deterministic generator for reproducible corruption.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
