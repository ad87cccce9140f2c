import Foundation
import Testing

/// Issue 19 items 2 and 4: no silent wrong answers, and messages that say what is wrong
/// with which input.
@Suite("svmkit: messages that help, no silent wrong answers")
struct CLIMessageTests {
    /// Keys, a kernel, an initrd, a tree and a blob made with the CLI (as in the README tour).
    static let setUp = """
        set -e
        export LC_ALL=C
        "$SVMKIT" esm keygen -o keys --name owner >/dev/null
        "$SVMKIT" esm keygen -o keys --name tpm >/dev/null
        head -c 65536 /dev/urandom > vmlinux.bin
        head -c 4096 /dev/urandom > initrd.img
        "$SVMKIT" esm create --origin keys/owner-pubkey.pem --recipient keys/tpm-pubkey.pem --kernel vmlinux.bin \\
            --initrd initrd.img --cmdline "svm=on console=hvc0" -o esmb.dtb 2>/dev/null >/dev/null
        "$SVMKIT" esm add-to-initrd esmb.dtb initrd.img -o initrd-esm.img >/dev/null
        "$SVMKIT" fdt pseries --memory 1G --cpus 2 --cmdline "svm=on console=hvc0" -o guest.dtb
        set +e

        """

    @Test("A damaged blob in --initrd is an error naming the damage, not replaced by a fresh blob")
    func damagedInitrdBlob() async throws {
        // Overwrite the blob's FDT magic (the first d00dfeed in the archive) with zeros.
        let r = try await CLIShell.run(
            Self.setUp + """
                offset=$(grep -obUaP '\\xd0\\x0d\\xfe\\xed' initrd-esm.img | head -1 | cut -d: -f1)
                printf '\\000\\000\\000\\000' | dd of=initrd-esm.img bs=1 seek="$offset" conv=notrunc 2>/dev/null
                "$SVMKIT" boot --kernel vmlinux.bin --initrd initrd-esm.img --tpm-key keys/tpm-seckey.pem --memory 1G --cpus 1
                """)
        #expect(r.status == 2, "\(r.summary): \(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("--initrd: it starts with an opt/ibm/pef archive, but its ESM blob is damaged"), "\(r.stderr)")
        #expect(!r.stdout.contains("secure       yes"))
    }

    @Test("5.x's panic in swiotlb_tbl_map_single() (no pool, bouncing forced) is named as the kernel stopping, not as an I/O stall")
    func fiveXNoPoolPanic() async throws {
        // A 16 GiB swiotlb= in a 1 GiB guest: 5.4's swiotlb_init() cannot allocate it
        // and the first forced map panics. Before, the report called it a requeue stall
        // and named no panic (exit 1 only through the failed round trip).
        let r = try await FDTCLIRunner.run(
            ["boot", "--linux", "5.4", "--memory", "1G", "--cpus", "1", "--cmdline", "svm=on swiotlb=8388608,force", "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout)) as? [String: Any])
        let invariants = o["invariantFailures"] as? [String] ?? []
        #expect(
            invariants.contains { $0.contains("the guest kernel stopped: panic in swiotlb_tbl_map_single(): Can not allocate SWIOTLB buffer") },
            "\(invariants)")
        let check = try #require(o["blockDeviceCheck"] as? [String: Any])
        #expect(check["passed"] as? Bool == false)
        #expect(check["stall"] == nil || check["stall"] is NSNull, "a panicked kernel requeues nothing: \(check)")
    }

    @Test("--dma-replay of a trace whose buffers lie outside the guest's RAM is bad input (exit 2 naming file and op), not exit 0")
    func dmaReplayOutsideRAM() async throws {
        // Recorded on a larger guest: 0x10000a00 is past a 256 MiB guest's RAM. Before,
        // every such map failed, "0 mapped, 1 failed" went to standard error, and the
        // boot exited 0.
        let r = try await CLIShell.run(
            #"printf '{"pool": {"start": 0, "nslabs": 128}, "ops": [{"op": "map", "id": 1, "orig_addr": "0x10000a00", "size": 4096}]}' > far.json "#
                + #"&& "$SVMKIT" boot --memory 256M --cpus 1 --dma-replay far.json"#)
        #expect(r.status == 2, "\(r.summary): \(r.stderr)")
        #expect(r.stderr.contains("--dma-replay far.json: op 0 maps 4096 bytes at 0x10000a00, outside the guest's 256 MiB of RAM"), "\(r.stderr)")
    }

    @Test("--fdt's own bootargs are kept unless --cmdline is given")
    func treeBootargsKept() async throws {
        let r = try await CLIShell.run(
            Self.setUp + """
                "$SVMKIT" fdt pseries --memory 1G --cpus 1 --cmdline "svm=off console=hvc0 quiet" -o quiet.dtb
                "$SVMKIT" boot --fdt quiet.dtb | grep 'command line'
                "$SVMKIT" boot --fdt quiet.dtb --cmdline "svm=off console=hvc0" | grep 'command line'
                """)
        #expect(r.stdout.contains("command line: svm=off console=hvc0 quiet\n"), "\(r.stdout)")
        #expect(r.stdout.contains("command line: svm=off console=hvc0\n"), "\(r.stdout)")
    }

    @Test("Errors from a --fdt tree blame the tree, not --memory or --cpus")
    func treeBlamed() async throws {
        let r = try await CLIShell.run(
            #""$SVMKIT" fdt pseries --memory 128M --cpus 1 -o small.dtb && "$SVMKIT" boot --fdt small.dtb --memory 4G"#)
        #expect(r.status == 2)
        #expect(r.stderr.contains("--fdt /memory@0 reg (134217728 bytes): guest RAM must be"), "\(r.stderr)")
        #expect(!r.stderr.contains("--memory"), "\(r.stderr)")
    }

    @Test("A path that is not UTF-8 is reported as such, not as missing")
    func nonUTF8Path() async throws {
        let r = try await CLIShell.run(#""$SVMKIT" fdt dump "$(printf 'tree-\377.dtb')""#)
        #expect(r.status == 2)
        #expect(r.stderr.contains("the path is not valid UTF-8"), "\(r.stderr)")
        // An output name would be written under another (repaired) name: refused too.
        let out = try await CLIShell.run(#""$SVMKIT" fdt pseries -o "$(printf 'out-\377.dtb')"; s=$?; ls; exit $s"#)
        #expect(out.status == 2 && out.stderr.contains("the path is not valid UTF-8"), "\(out.stderr)")
        #expect(out.stdout.isEmpty, "nothing written: \(out.stdout)")
    }

    @Test("An ELF vmlinux given as --kernel says to run objcopy -O binary")
    func elfKernel() async throws {
        let r = try await CLIShell.run(#"printf '\177ELF\002\002\001' > vmlinux && head -c 4096 /dev/zero >> vmlinux && "$SVMKIT" boot --kernel vmlinux"#)
        #expect(r.status == 2)
        #expect(r.stderr.contains("--kernel vmlinux: is an ELF file") && r.stderr.contains("objcopy -O binary"), "\(r.stderr)")
    }

    @Test("A wrong TPM key explains TPM_RC_VALUE")
    func wrongTPMKey() async throws {
        let r = try await CLIShell.run(
            Self.setUp + #""$SVMKIT" boot --fdt guest.dtb --kernel vmlinux.bin --initrd initrd-esm.img --tpm-key keys/owner-seckey.pem"#)
        #expect(r.status == 1)
        #expect(r.stdout.contains("TPM_RC_VALUE 0x84"), "\(r.stdout)")
        #expect(r.stdout.contains("explained    TPM_RC_VALUE (0x84) from TPM2_RSA_Decrypt: the TPM's key at 0x81800001 cannot decrypt lockbox-1"), "\(r.stdout)")
    }

    @Test("A damaged lockbox says its key is not valid, not that the key matches no lockbox")
    func damagedLockbox() async throws {
        // Flip every bit of one byte in the middle of origin-lockbox's encrypted-symkey.
        // Done here, not with grep and dd: a grep pattern made from the random key missed
        // when its bytes held a newline, and writing a fixed byte changed nothing when the
        // byte already had that value (CI saw exit 0 once).
        let dir = try CLIShell.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let made = try await CLIShell.run(
            Self.setUp + #""$SVMKIT" fdt get esmb.dtb /lockboxes/origin-lockbox encrypted-symkey --json"#, in: dir)
        #expect(made.status == 0, "\(made.stderr)")
        let hex = try #require(made.stdout.firstMatch(of: /"hex" : "([0-9a-f]+)"/)?.1, "\(made.stdout)")
        let symkey = try #require(Self.bytes(hex: String(hex)))
        let blobURL = dir.appendingPathComponent("esmb.dtb")
        var blob = [UInt8](try Data(contentsOf: blobURL))
        let at = try #require(Self.firstIndex(of: symkey, in: blob), "encrypted-symkey not found in esmb.dtb")
        blob[at + symkey.count / 2] ^= 0xFF
        try Data(blob).write(to: blobURL)
        let r = try await CLIShell.run(#""$SVMKIT" esm inspect esmb.dtb --key keys/owner-seckey.pem"#, in: dir)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains("origin-lockbox is this key's lockbox") && r.stderr.contains("does not decrypt to a valid key"), "\(r.stderr)")
        #expect(!r.stderr.contains("matches no lockbox"))
    }

    /// `hex` as bytes, or nil when it is not an even run of hex digits.
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let b = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }

    /// Where `needle` first starts in `haystack`.
    static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    @Test("--help is not hard-wrapped mid-sentence", arguments: [
        [], ["boot"], ["soak"], ["bench", "boot"], ["bench", "swiotlb"], ["fdt", "pseries"], ["fdt", "get"], ["esm"], ["esm", "create"],
        ["esm", "verify"], ["esm", "extract"], ["esm", "authorize"], ["esm", "inspect"],
    ])
    func helpWrapping(command: [String]) async throws {
        let r = try await FDTCLIRunner.run(command + ["--help"])
        #expect(r.status == 0)
        let lines = r.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for (a, b) in zip(lines, lines.dropFirst()) {
            // An example (indented two spaces) longer than the help width continues on an unindented line.
            let exampleWrapped = a.hasPrefix("  ") && !a.hasPrefix("   ") && !b.isEmpty && !b.hasPrefix(" ") && !b.hasSuffix(":")
            // A paragraph broken by hand and re-wrapped: a short prose line, then one that goes on in lower case.
            let proseWrapped = !a.isEmpty && !a.hasPrefix(" ") && a.count < 50 && !a.hasSuffix(":") && !a.hasSuffix(".")
                && (b.first?.isLowercase ?? false)
            #expect(!exampleWrapped && !proseWrapped, "wrapped mid-sentence:\n\(a)\n\(b)")
        }
    }
}
