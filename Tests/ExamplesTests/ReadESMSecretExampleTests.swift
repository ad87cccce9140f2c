import Testing

/// `Examples/ReadESMSecret`: the esmb-get-file equivalent.
@Suite("Example: ReadESMSecret")
struct ReadESMSecretExampleTests {
    @Test("A sealed secret comes back in 64-byte answers, then 0; a second read is refused with U_PARAMETER")
    func readsTheSecret() async throws {
        let secret = String(repeating: "open sesame, ", count: 7) + "now"  // 94 bytes
        let r = try await ExampleRunner.run("ReadESMSecret", ["--secret", secret])
        #expect(r.status == 0, "\(r)")
        // ultravisor-facts §4.1–4.2: at most 64 bytes per call, 0 at the end.
        #expect(r.stdout.contains("UV_ESMB_GET_FILE offset 0 → 64 byte(s)"), "\(r)")
        #expect(r.stdout.contains("UV_ESMB_GET_FILE offset 64 → 30 byte(s)"), "\(r)")
        #expect(r.stdout.contains("UV_ESMB_GET_FILE offset 94 → 0 (end of file)"), "\(r)")
        // §4.5: the C tool prints each chunk followed by a newline.
        let first = String(secret.prefix(64)), rest = String(secret.dropFirst(64))
        #expect(r.stdout.contains("\(first)\n\(rest)\n"), "\(r)")
        #expect(r.stdout.contains("matches the 94 byte(s) sealed into the blob"))
        // §4.2 step 3: re-reading from offset 0 after the file was read fails.
        #expect(r.stdout.contains("a second read: esmb-get-file rootd: UV_ESMB_GET_FILE at offset 0 returned -4 (U_PARAMETER)"), "\(r)")
    }

    @Test("The default boot's generated passphrase reads back (64 hex characters: one full answer)")
    func defaultPassphrase() async throws {
        let r = try await ExampleRunner.run("ReadESMSecret")
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.contains("UV_ESMB_GET_FILE offset 0 → 64 byte(s)"), "\(r)")
        #expect(r.stdout.contains("UV_ESMB_GET_FILE offset 64 → 0 (end of file)"), "\(r)")
        #expect(r.stdout.contains("matches the 64 byte(s) sealed into the blob"))
    }

    @Test("A file that is not attached fails as the C tool does: exit 1, FDT_ERR_NOTFOUND (-1)")
    func missingFile() async throws {
        let r = try await ExampleRunner.run("ReadESMSecret", ["-f", "crypttab"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("esmb-get-file crypttab: UV_ESMB_GET_FILE at offset 0 returned -1 (FDT_ERR_NOTFOUND)"), "\(r)")
    }
}
