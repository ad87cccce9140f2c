import DeviceTree
import ESM
import Testing

/// Issue 19: the rules `svmkit esm verify` shares with the Ultravisor, so both reach the
/// same verdict.
@Suite("Verify's key and wrapper-blob rules match the Ultravisor's")
struct ESMVerdictRuleTests {
    static let master = ESMMasterKey.random()

    @Test("A key that opens only lockbox-2 fails lockbox-1 (as a TPM holding it would); the owner's key may stand in")
    func lockboxTwo() throws {
        var blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: Self.master)
        _ = try blob.authorize(ESMTestKeys.other.publicKey, masterKey: Self.master)
        _ = try blob.authorize(ESMTestKeys.tpm.publicKey, masterKey: Self.master)
        let wrapped = try #require(try? blob.lockbox(named: "lockbox-1")).encryptedSymKey
        let tpm = ESMIntegrityCheck.keyUnwrapper(privateKey: ESMTestKeys.tpm, blob: blob)
        #expect(throws: ESMError.self) { try tpm(wrapped) }
        do { _ = try tpm(wrapped) } catch { #expect("\(error)".contains("this key opens lockbox-2, not lockbox-1")) }
        let owner = ESMIntegrityCheck.keyUnwrapper(privateKey: ESMTestKeys.owner, blob: blob)
        #expect(try owner(wrapped) == Self.master.bytes)
    }

    @Test("A damaged lockbox of this key says so, not 'matches no lockbox'")
    func damagedLockbox() throws {
        let blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: Self.master)
        var tree = try DeviceTree(bytes: blob.bytes)
        var symkey = try tree.property("encrypted-symkey", at: "/lockboxes/origin-lockbox")
        symkey[100] ^= 0xFF
        try tree.setProperty("encrypted-symkey", symkey, at: "/lockboxes/origin-lockbox")
        try tree.pack()
        let damaged = try ESMBlob(bytes: tree.bytes)
        do {
            _ = try damaged.masterKey(using: ESMTestKeys.owner)
            Issue.record("a damaged lockbox opened")
        } catch {
            #expect(error.message.contains("origin-lockbox is this key's lockbox") && error.message.contains("does not decrypt to a valid key"))
            #expect(!error.message.contains("matches no lockbox"))
        }
    }

    @Test("Wrapper region: an FDT whose totalsize fits is cut to totalsize; anything else is no blob")
    func wrapperBlob() throws {
        let blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: Self.master).bytes
        #expect(ESMWrapperBlob.blob(in: blob + [1, 2, 3]) == blob)
        #expect(ESMWrapperBlob.blob(in: Array(blob.dropLast())) == nil)
        #expect(ESMWrapperBlob.blob(in: []) == nil)
        #expect(ESMWrapperBlob.blob(in: Array(repeating: 0, count: 64)) == nil)
    }
}
