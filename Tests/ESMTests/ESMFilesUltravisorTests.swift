import DeviceTree
import ESM
import Testing

@Suite("Attachments as the Ultravisor serves them (svm_esmb_get_files_fdt, UV_ESMB_GET_FILE, reference §4)")
struct ESMFilesUltravisorTests {
    @Test("The files FDT copied from the blob decrypts each attachment byte for byte")
    func decryptEach() throws {
        let g = ESMTestGuest()
        let long = (0..<204).map { UInt8(truncatingIfNeeded: $0) }
        let blob = try g.blob(attachments: [("rootd", Array("pass".utf8)), ("file-long", long)])
        let files = try ESMFilesFDT.ultravisorCopy(fromBlob: blob.bytes).get()
        #expect(files == blob.filesFDTBytes)
        #expect(try ESMFilesFDT.ultravisorDecrypt(filesFDT: files, name: "file-long", masterKey: g.masterKey.bytes).get() == long)
        #expect(try ESMFilesFDT.ultravisorDecrypt(filesFDT: files, name: "rootd", masterKey: g.masterKey.bytes).get() == Array("pass".utf8))
        // The page it sits in is 64 KiB: trailing zeros do not matter.
        let page = files + [UInt8](repeating: 0, count: 65536 - files.count)
        #expect(try ESMFilesFDT.ultravisorDecrypt(filesFDT: page, name: "rootd", masterKey: g.masterKey.bytes).get() == Array("pass".utf8))
    }

    @Test("The Ultravisor's errors: libfdt -1 for an unknown name, -9 with no files FDT, U_PARAMETER cases for a bad property or tag")
    func errors() throws {
        let g = ESMTestGuest()
        let blob = try g.blob()
        let files = try #require(blob.filesFDTBytes)
        #expect(ESMFilesFDT.ultravisorDecrypt(filesFDT: files, name: "nope", masterKey: g.masterKey.bytes) == .failure(.libfdt(code: -1, detail: "/files/nope not found in the files FDT")))
        guard case .failure(.libfdt(code: -9, _)) = ESMFilesFDT.ultravisorDecrypt(filesFDT: [UInt8](repeating: 0, count: 65536), name: "rootd", masterKey: g.masterKey.bytes) else {
            Issue.record("a zeroed files-FDT page must give FDT_ERR_BADMAGIC")
            return
        }
        var t = try DeviceTree(bytes: files)
        var ct = try t.property("ciphertext", at: "/files/rootd")
        ct[0] ^= 1
        try t.setProperty("ciphertext", ct, at: "/files/rootd")
        guard case .failure(.decryptionFailed) = ESMFilesFDT.ultravisorDecrypt(filesFDT: t.bytes, name: "rootd", masterKey: g.masterKey.bytes) else {
            Issue.record("a changed ciphertext must fail authentication")
            return
        }
        try t.deleteProperty("mac", at: "/files/rootd")
        #expect(ESMFilesFDT.ultravisorDecrypt(filesFDT: t.bytes, name: "rootd", masterKey: g.masterKey.bytes) == .failure(.missingProperty("/files/rootd/mac")))
        // A blob without attachments: only a notice for the Ultravisor.
        let bare = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey)
        guard case .failure(let e) = ESMFilesFDT.ultravisorCopy(fromBlob: bare.bytes) else {
            Issue.record("a blob without files-fdt has nothing to copy")
            return
        }
        #expect(e.kind == .notFound)
    }
}
