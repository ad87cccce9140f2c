import DeviceTree
import ESM
import Testing

@Suite("ESM blobs: create, authorize, revoke, digests, attach, extract, detach")
struct ESMBlobRoundTripTests {
    @Test("Key files are written as svm-tool writes them; the fingerprint is SHA-256 of the public file bytes")
    func keyFiles() throws {
        let key = ESMTestKeys.owner
        let pub = String(decoding: key.publicKey.fileBytes, as: UTF8.self)
        #expect(pub.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        #expect(pub.hasSuffix("\n-----END PUBLIC KEY-----\n"))
        #expect(!pub.hasSuffix("\n\n"))
        #expect(pub.split(separator: "\n").dropFirst().dropLast().allSatisfy { $0.count <= 64 })
        let sec = String(decoding: key.pemFileBytes, as: UTF8.self)
        #expect(sec.hasPrefix("-----BEGIN RSA PRIVATE KEY-----\n"))
        #expect(sec.hasSuffix("-----END RSA PRIVATE KEY-----\n"))
        #expect(key.keySizeInBits == 2048)
        // Reading the files back gives the same key and fingerprint.
        let again = try ESMPrivateKey(pemFileBytes: key.pemFileBytes)
        #expect(again == key)
        let pubAgain = try ESMPublicKey(fileBytes: key.publicKey.fileBytes)
        #expect(pubAgain.fingerprint == key.fingerprint)
        // The same key with CRLF line ends is another file, so another fingerprint (§3.5).
        let crlf = Array(pub.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        #expect(try ESMPublicKey(fileBytes: crlf).fingerprint != key.fingerprint)
        // A private key given as a public key is refused, as svm-tool's create does.
        #expect { try ESMPublicKey(fileBytes: key.pemFileBytes) } throws: {
            ($0 as? ESMError)?.kind == .invalidKey && "\($0)".contains("is a private key")
        }
        #expect { try ESMPrivateKey(pemFileBytes: Array("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n".utf8)) } throws: {
            ($0 as? ESMError)?.kind == .invalidKey && "\($0)".contains("passphrase")
        }
    }

    @Test("create: node order lockboxes, digest, file; origin lockbox with fingerprint; dtc accepts it cleanly")
    func create() async throws {
        let key = ESMMasterKey.random()
        let blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, comment: "the owner", masterKey: key)
        #expect(try blob.tree.subnodes(of: "/") == ["lockboxes", "digest", "file"])
        #expect(try blob.tree.string("compatible", at: "/") == "ibm,esm")
        let boxes = try blob.lockboxes()
        #expect(boxes.map(\.name) == ["origin-lockbox"])
        #expect(boxes[0].comment == "the owner")
        #expect(boxes[0].encryptedSymKey.count == 256)
        #expect(boxes[0].fingerprint == ESMTestKeys.owner.publicKey.fingerprint)
        #expect(boxes[0].fingerprintAlgorithm == "SHA256")
        #expect(try blob.masterKey(using: ESMTestKeys.owner) == key)
        _ = try ESMBlob(bytes: blob.bytes)
        let (status, stderr) = try await esmRunDTC(blob.bytes)
        #expect(status == 0)
        #expect(stderr.isEmpty)
    }

    @Test("authorize numbers lockboxes as svm-tool: 1 + the highest, newest first; revoke removes them")
    func authorizeRevoke() throws {
        let key = ESMMasterKey.random()
        var blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: key)
        #expect(try blob.authorize(ESMTestKeys.tpm.publicKey, comment: "tpm", masterKey: key) == "lockbox-1")
        #expect(try blob.authorize(ESMTestKeys.other.publicKey, masterKey: key) == "lockbox-2")
        #expect(try blob.lockboxes().map(\.name) == ["lockbox-2", "lockbox-1", "origin-lockbox"])
        #expect(try blob.masterKey(using: ESMTestKeys.tpm) == key)
        #expect(try blob.masterKeyAndLockbox(using: ESMTestKeys.other).lockbox == "lockbox-2")
        #expect { try blob.authorize(ESMTestKeys.tpm.publicKey, masterKey: key) } throws: {
            ($0 as? ESMError)?.kind == .alreadyAuthorized && "\($0)".contains("lockbox-1")
        }
        #expect(try blob.revoke(ESMTestKeys.tpm.publicKey) == "lockbox-1")
        #expect(try blob.lockboxes().map(\.name) == ["lockbox-2", "origin-lockbox"])
        #expect { try blob.masterKey(using: ESMTestKeys.tpm) } throws: {
            ($0 as? ESMError)?.kind == .notAuthorized && "\($0)".contains("not an authorized key")
        }
        // The next number is 1 + the highest, so lockbox-1 is not reused while lockbox-2 exists.
        #expect(try blob.authorize(ESMTestKeys.tpm.publicKey, masterKey: key) == "lockbox-3")
        #expect { try blob.revoke(ESMTestKeys.owner.publicKey) } throws: {
            ($0 as? ESMError)?.kind == .cannotRevoke && "\($0)".contains("origin")
        }
        let unknown = try ESMPublicKey(fileBytes: Array(String(decoding: ESMTestKeys.tpm.publicKey.fileBytes, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8))
        #expect { try blob.revoke(unknown) } throws: { ($0 as? ESMError)?.kind == .cannotRevoke }
        _ = try ESMBlob(bytes: blob.bytes)
    }

    @Test("digests, attachments and extraction round-trip with every authorized key")
    func digestsAndFiles() async throws {
        let guest = ESMTestGuest()
        var blob = try guest.blob(attachments: [("rootd", Array("luks passphrase".utf8)), ("file-2", [0, 1, 2, 255])])
        let reread = try ESMBlob(bytes: blob.bytes)
        #expect(reread == blob)
        #expect(try reread.attachmentNames() == ["file-2", "rootd"])
        for key in [ESMTestKeys.owner, ESMTestKeys.tpm] {
            let master = try reread.masterKey(using: key)
            #expect(try reread.extract("rootd", masterKey: master) == Array("luks passphrase".utf8))
            #expect(try reread.extract("file-2", masterKey: master) == [0, 1, 2, 255])
            let d = try reread.digests(masterKey: master)
            #expect(d.kernelSize == UInt32(guest.kernel.count))
            #expect(d.kernel == ESMDigests.sha512(guest.kernel))
            #expect(d.bootargs == ESMDigests.sha512(Array(guest.bootargs.utf8)))
        }
        let digest = try #require(try reread.sealedDigests())
        #expect(digest.iv.count == 16 && digest.mac.count == 16 && digest.algorithm == "AES256-GCM")
        // The files FDT is nested, compatible ibm,esm-file, under /files.
        let files = try #require(try reread.filesFDT())
        #expect(try files.tree.string("compatible", at: "/") == "ibm,esm-file")
        #expect { try blob.attach(name: "rootd", contents: [1], masterKey: guest.masterKey) } throws: {
            ($0 as? ESMError)?.kind == .invalidName && "\($0)".contains("already attached")
        }
        try blob.detach(name: "rootd")
        #expect(try blob.attachmentNames() == ["file-2"])
        #expect { try blob.extract("rootd", masterKey: guest.masterKey) } throws: { "\($0)".contains("not attached") }
        #expect { try blob.detach(name: "rootd") } throws: { ($0 as? ESMError)?.kind == .notFound }
        let (status, stderr) = try await esmRunDTC(blob.bytes)
        #expect(status == 0 && stderr.isEmpty)
        let (s2, e2) = try await esmRunDTC(files.bytes)
        #expect(s2 == 0 && e2.isEmpty)
    }

    @Test("Attachment names and sizes follow svm-tool's and the Ultravisor's limits", arguments: [
        ("rootd", true), ("a", true), ("file-1,x._+", true), (String(repeating: "a", count: 31), true),
        (String(repeating: "a", count: 32), false), ("1abc", false), ("", false), ("a/b", false), ("é", false), ("a b", false),
    ])
    func names(name: String, valid: Bool) throws {
        #expect(ESMFilesFDT.isValidName(name) == valid)
        let key = ESMMasterKey.random()
        var blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: key)
        if valid {
            try blob.attach(name: name, contents: [1, 2, 3], masterKey: key)
        } else {
            #expect { try blob.attach(name: name, contents: [1], masterKey: key) } throws: { ($0 as? ESMError)?.kind == .invalidName }
        }
    }

    @Test("Files of 64 KiB or more and comments with newlines are refused")
    func limits() throws {
        let key = ESMMasterKey.random()
        var blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: key)
        try blob.attach(name: "max", contents: [UInt8](repeating: 1, count: 65535), masterKey: key)
        #expect { try blob.attach(name: "big", contents: [UInt8](repeating: 1, count: 65536), masterKey: key) } throws: {
            ($0 as? ESMError)?.kind == .tooLarge
        }
        #expect { try blob.attach(name: "c", contents: [1], comment: "two\nlines", masterKey: key) } throws: {
            ($0 as? ESMError)?.kind == .invalidComment
        }
        #expect { try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, comment: "a\nb") } throws: {
            ($0 as? ESMError)?.kind == .invalidComment
        }
    }
}
