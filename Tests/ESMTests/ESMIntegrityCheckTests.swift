import DeviceTree
import ESM
import Testing

@Suite("ESM integrity check (the Ultravisor's svm_esmb_digest_chk, reference §2.6 step 6)")
struct ESMIntegrityCheckTests {
    static let guest = ESMTestGuest()

    @Test("An untouched guest passes all six checks in the Ultravisor's order")
    func passes() throws {
        let g = Self.guest
        let blob = try g.blob()
        let report = g.check(blob: blob.bytes)
        #expect(report.passed, "\(report.summary)")
        #expect(report.checks.map(\.name) == ["lockbox-1", "digests-fdt", "rtas", "kernel", "initrd", "bootargs"])
        #expect(report.masterKey == g.masterKey.bytes)
        #expect(report.digests?.kernelSize == UInt32(g.kernel.count))
        #expect(report.summary == "all 6 ESM checks passed")
        #expect(report.filesFDT == blob.filesFDTBytes && report.filesFDT != nil)
        #expect(report.checks.first { $0.name == "kernel" }?.expected == ESMHex.encode(ESMDigests.sha512(g.kernel)))
    }

    @Test("A changed kernel byte fails the kernel check with both digests; the others still run")
    func kernelTamper() throws {
        let g = Self.guest
        var kernel = g.kernel
        kernel[1234] ^= 1
        let report = g.check(blob: try g.blob().bytes, kernel: kernel)
        #expect(!report.passed && !report.stoppedEarly)
        #expect(report.failures.map(\.name) == ["kernel"])
        let k = try #require(report.failures.first)
        #expect(k.expected == ESMHex.encode(ESMDigests.sha512(g.kernel)))
        #expect(k.actual == ESMHex.encode(ESMDigests.sha512(kernel)))
        #expect(k.detail.contains("does not match") && k.detail.contains(k.expected ?? "?"))
        #expect(report.checks.count == 6)
    }

    @Test("A bootargs whitespace change fails bootargs; an initrd byte fails initrd; a changed RTAS text fails rtas")
    func otherTamper() throws {
        let g = Self.guest
        let blob = try g.blob().bytes
        let spaced = Array(g.bootargs.replacingOccurrences(of: "  ", with: " ").utf8) + [0]
        var r = g.check(blob: blob, bootargsProperty: spaced)
        #expect(r.failures.map(\.name) == ["bootargs"])
        #expect(r.failures.first?.detail.contains("svm=on console=hvc0 root=/dev/sda2") == true)
        var initrd = g.initrd
        initrd[0] ^= 0x80
        r = g.check(blob: blob, initrd: initrd)
        #expect(r.failures.map(\.name) == ["initrd"])
        var rtas = ESMDigests.slofRTASStub
        rtas[3] = 0
        r = g.check(blob: blob, initrd: initrd, rtas: rtas)
        #expect(r.failures.map(\.name) == ["rtas", "initrd"])
        #expect(r.summary.hasPrefix("2 of 6 ESM checks failed: rtas:"))
    }

    /// Flips one byte of a property of /digest/digests-fdt.
    static func tamperDigests(_ blob: ESMBlob, property: String, at index: Int = 0) throws -> [UInt8] {
        var t = blob.tree
        var v = try t.property(property, at: ESMBlob.digestsPath)
        v[index] ^= 0x01
        try t.setProperty(property, v, at: ESMBlob.digestsPath)
        return t.bytes
    }

    @Test("A changed ciphertext byte, tag or IV of the digests FDT stops the check at digests-fdt, naming it", arguments: ["ciphertext", "mac", "iv"])
    func digestsTamper(property: String) throws {
        let g = Self.guest
        let report = g.check(blob: try Self.tamperDigests(try g.blob(), property: property, at: 5))
        #expect(!report.passed && report.stoppedEarly)
        #expect(report.checks.map(\.name) == ["lockbox-1", "digests-fdt"])
        #expect(report.filesFDT != nil)  // copied whatever the outcome
        let f = try #require(report.failures.first)
        #expect(f.detail.contains("/digest/digests-fdt") && f.detail.contains("authentication failed"))
        #expect(report.masterKey != nil)
    }

    @Test("A changed digest inside the (re-encrypted) digests FDT fails that digest's check")
    func digestValueTamper() throws {
        var g = Self.guest
        var blob = try g.blob()
        var d = try blob.digests(masterKey: g.masterKey)
        d.kernel[0] ^= 0xFF
        try blob.setDigests(d, masterKey: g.masterKey)
        var report = g.check(blob: blob.bytes)
        #expect(report.failures.map(\.name) == ["kernel"])
        d = try ESMDigests(kernel: g.kernel, initrd: g.initrd, bootargs: g.bootargs)
        d.kernelSize += 1
        try blob.setDigests(d, masterKey: g.masterKey)
        report = g.check(blob: blob.bytes)
        // kernel-size now reaches one byte past the kernel: the page-in fails and the check stops there.
        #expect(report.stoppedEarly && report.failures.first?.name == "kernel")
        #expect(report.failures.first?.detail.contains("could not be paged in") == true)
        g.bootargs += " "
        #expect(g.check(blob: try g.blob().bytes, bootargsProperty: Self.guest.bootargsProperty).failures.map(\.name) == ["bootargs"])
    }

    @Test("A key that is not the TPM's says it is not an authorized key")
    func wrongKey() throws {
        let g = Self.guest
        let blob = try g.blob()
        var report = g.check(blob: blob.bytes, key: ESMTestKeys.other)
        #expect(report.stoppedEarly && report.checks.map(\.name) == ["lockbox-1"])
        // With verify's unwrapper, the message says so plainly.
        report = ESMIntegrityCheck.run(
            blob: blob.bytes, unwrapMasterKey: ESMIntegrityCheck.keyUnwrapper(privateKey: ESMTestKeys.other, blob: blob),
            rtasText: ESMDigests.slofRTASStub, readKernel: { _ in g.kernel }, initrd: g.initrd, bootargsProperty: g.bootargsProperty)
        #expect(report.failures.first?.detail.contains("not an authorized key") == true)
        // The origin key is not lockbox-1's, but opens the same master key, so verify can still check the digests.
        report = ESMIntegrityCheck.run(
            blob: blob.bytes, unwrapMasterKey: ESMIntegrityCheck.keyUnwrapper(privateKey: ESMTestKeys.owner, blob: blob),
            rtasText: ESMDigests.slofRTASStub, readKernel: { _ in g.kernel }, initrd: g.initrd, bootargsProperty: g.bootargsProperty)
        #expect(report.passed)
    }

    @Test("Only lockbox-1 is used: a blob whose TPM key is lockbox-2 fails, naming lockbox-1")
    func onlyLockboxOne() throws {
        let g = Self.guest
        var blob = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: g.masterKey)
        try blob.authorize(ESMTestKeys.other.publicKey, masterKey: g.masterKey)
        try blob.authorize(ESMTestKeys.tpm.publicKey, masterKey: g.masterKey)
        try blob.setDigests(ESMDigests(kernel: g.kernel, initrd: g.initrd, bootargs: g.bootargs), masterKey: g.masterKey)
        let report = g.check(blob: blob.bytes)
        #expect(report.checks.map(\.name) == ["lockbox-1"] && !report.passed)
        _ = try blob.revoke(ESMTestKeys.other.publicKey)
        let none = g.check(blob: blob.bytes)
        #expect(none.failures.first?.detail.contains("/lockboxes/lockbox-1 not found") == true)
    }

    @Test("A missing property stops the check at once, naming it")
    func missingProperties() throws {
        let g = Self.guest
        let blob = try g.blob()
        // Missing /digest/digests-fdt property.
        var t = blob.tree
        try t.deleteProperty("iv", at: ESMBlob.digestsPath)
        var r = g.check(blob: t.bytes)
        #expect(r.stoppedEarly && r.failures.first?.detail == "missing property /digest/digests-fdt/iv")
        // Missing /digests/initrd inside the digests FDT: rtas and kernel ran, initrd stops.
        var digests = try blob.digests(masterKey: g.masterKey).deviceTree()
        try digests.deleteProperty("initrd", at: "/digests")
        let item = try ESMSealedItem.seal(digests.bytes, masterKey: g.masterKey)
        t = blob.tree
        for (name, value) in [("ciphertext", item.ciphertext), ("iv", item.iv), ("mac", item.mac)] {
            try t.setProperty(name, value, at: ESMBlob.digestsPath)
        }
        r = g.check(blob: t.bytes)
        #expect(r.checks.map(\.name) == ["lockbox-1", "digests-fdt", "rtas", "kernel", "initrd"])
        #expect(r.stoppedEarly && r.failures.map(\.detail) == ["missing property /digests/initrd in the digests FDT"])
        // No digests at all.
        let bare = try ESMBlob.create(origin: ESMTestKeys.owner.publicKey, masterKey: g.masterKey)
        var withTPM = bare
        try withTPM.authorize(ESMTestKeys.tpm.publicKey, masterKey: g.masterKey)
        r = g.check(blob: withTPM.bytes)
        #expect(r.failures.first?.name == "digests-fdt" && r.failures.first?.detail.contains("not found") == true)
        // Garbage instead of a blob.
        r = g.check(blob: [1, 2, 3])
        #expect(r.failures.first?.name == "lockbox-1" && r.failures.first?.detail.contains("not a valid device tree") == true)
        // An empty bootargs property.
        r = g.check(blob: blob.bytes, bootargsProperty: [])
        #expect(r.failures.first?.name == "bootargs" && r.stoppedEarly)
    }

    @Test("The unwrap error is reported as the lockbox-1 failure")
    func unwrapError() throws {
        struct TPMDown: Error, CustomStringConvertible { var description: String { "TPM_RC_POLICY_FAIL" } }
        let g = Self.guest
        let r = ESMIntegrityCheck.run(
            blob: try g.blob().bytes, unwrapMasterKey: { _ in throw TPMDown() }, rtasText: [], readKernel: { _ in nil },
            initrd: [], bootargsProperty: [0])
        #expect(r.failures.first?.detail.contains("TPM_RC_POLICY_FAIL") == true)
        #expect(r.masterKey == nil)
    }
}

@Suite("ESM integrity report summaries")
struct ESMIntegrityReportTests {
    @Test("Summaries name the failing checks once, with their reasons")
    func summaries() {
        let pass = ESMCheck(name: "rtas", passed: true, detail: "ok")
        let kernel = ESMCheck(name: "kernel", passed: false, detail: "mismatch")
        let stop = ESMCheck(name: "initrd", passed: false, detail: "missing property /digests/initrd in the digests FDT")
        #expect(ESMIntegrityReport(checks: [pass], stoppedEarly: false).summary == "all 1 ESM checks passed")
        #expect(ESMIntegrityReport(checks: [pass, kernel], stoppedEarly: false).summary == "1 of 2 ESM checks failed: kernel: mismatch")
        #expect(ESMIntegrityReport(checks: [pass, kernel, stop], stoppedEarly: true).summary
            == "ESM check stopped at initrd: missing property /digests/initrd in the digests FDT; failed before it: kernel: mismatch")
        #expect(!ESMIntegrityReport(checks: [], stoppedEarly: false).passed)
    }
}
