import ESM
@_spi(Firmware) import PEFMachine
import PowerABI
import SVMKit
import SecureGuest
import Testing

@testable import Ultravisor

/// UV_ESMB_GET_FILE after a real UV_ESM, read with the guest tool (reference/
/// ultravisor-facts.md §4).
@Suite struct GetESMFileTests {
    /// A guest made secure from the image with every test attachment.
    static func secureGuest() throws -> SecureBoot {
        let t = try SecureBoot(try SecureBootAssets.attachmentsImage.get())
        _ = t.promInit()
        try #require(t.boot.isSecure)
        return t
    }

    @Test func everyAttachmentReadsBackByteForByte() throws {
        let t = try Self.secureGuest()
        #expect(Set(t.report?.attachments ?? []) == Set(SecureBootAssets.attachments.keys))
        for (name, contents) in SecureBootAssets.attachments.sorted(by: { $0.key < $1.key }) {
            #expect(try ESMBGetFile.read(name, on: t.boot) == contents, "\(name)")
        }
    }

    @Test func theGeneratedRootdOfTheDefaultImageReadsBack() throws {
        let image = try SecureBootAssets.defaultImage.get()
        let t = try SecureBoot(image)
        _ = t.promInit()
        let rootd = try #require(image.generatedAttachments["rootd"])
        #expect(try ESMBGetFile.read("rootd", on: t.boot) == rootd)
    }

    @Test func fileLongComesBackIn64ByteChunks() throws {
        let t = try Self.secureGuest()
        let chunks = try ESMBGetFile.readChunks("file-long", on: t.boot)
        #expect(chunks.map(\.count) == [64, 64, 64, 12])
        let calls = t.machine.trace.records.filter { $0.name == "UV_ESMB_GET_FILE" }
        #expect(calls.map(\.result) == [64, 64, 64, 12, 0])
        #expect(calls.map { $0.arguments[0] } == [0, 64, 128, 192, 204])
        // The output format of esmb-get-file: each chunk and a newline.
        #expect(ESMBGetFile.output(of: chunks).count == 204 + 4)
        // A 64-byte file ends with one full chunk, then 0.
        #expect(try ESMBGetFile.readChunks("exact-64", on: t.boot).map(\.count) == [64])
    }

    @Test func theRegistersArePackedBigEndianAndZeroFilled() throws {
        let t = try Self.secureGuest()
        let name = ESMBGetFile.pack(Array("file-long".utf8))
        #expect(name[0] == 0x6669_6C65_2D6C_6F6E && name[1] == 0x6700_0000_0000_0000)
        let r = t.boot.ultracall(.getESMFile, [192] + name)
        #expect(r.r3 == 12)
        let expected = Array((SecureBootAssets.attachments["file-long"] ?? [])[192...])
        #expect(Array(ESMBGetFile.unpack((4...11).map { r[$0] }).prefix(12)) == expected)
        #expect((4...11).map { r[$0] }.dropFirst(2).allSatisfy { $0 == 0 })
        #expect(r[5] & 0xFFFF_FFFF == 0)
    }

    @Test func readingAgainFromZeroFails() throws {
        let t = try Self.secureGuest()
        _ = try ESMBGetFile.read("rootd", on: t.boot)
        #expect(throws: ESMBGetFileError(file: "rootd", reason: .ultracall(code: -4, offset: 0))) {
            try ESMBGetFile.read("rootd", on: t.boot)
        }
        // Going back by one byte fails; the offset of the last byte read is allowed.
        let name = Array("big".utf8)
        #expect(ESMBGetFile.ultracall(name: name, offset: 0, on: t.boot).status == 64)
        #expect(ESMBGetFile.ultracall(name: name, offset: 64, on: t.boot).status == 64)
        #expect(ESMBGetFile.ultracall(name: name, offset: 127, on: t.boot).status == -4)
        #expect(ESMBGetFile.ultracall(name: name, offset: 128, on: t.boot).status == 64)
        // Skipping ahead is allowed, and the end can be asked for again.
        #expect(ESMBGetFile.ultracall(name: name, offset: 59_990, on: t.boot).status == 10)
        #expect(ESMBGetFile.ultracall(name: name, offset: 60_000, on: t.boot).status == 0)
        #expect(ESMBGetFile.ultracall(name: name, offset: 60_000, on: t.boot).status == 0)
        #expect(ESMBGetFile.ultracall(name: name, offset: 59_999, on: t.boot).status == -4)
    }

    @Test func aDifferentPIDRFails() throws {
        let t = try Self.secureGuest()
        t.boot.update { $0.msr = $0.msr.union(.problemState) }  // user space, as svm-password-agent runs
        t.boot.update { $0.pidr = 41 }
        let name = Array("file-long".utf8)
        #expect(ESMBGetFile.ultracall(name: name, offset: 0, on: t.boot).status == 64)
        t.boot.update { $0.pidr = 42 }
        #expect(ESMBGetFile.ultracall(name: name, offset: 64, on: t.boot).status == -4)
        let last = try #require(t.machine.trace.records.last { $0.name == "UV_ESMB_GET_FILE" })
        #expect(last.notes.contains("file-long: first read with PIDR 41, not 42"))
        // The first process can go on.
        t.boot.update { $0.pidr = 41 }
        #expect(ESMBGetFile.ultracall(name: name, offset: 64, on: t.boot).status == 64)
    }

    /// open-power: `assert(offset < SVM_PAGESIZE)` in svm/svm-esmb.c: get_file_data
    /// fires and the machine stops, reported as a firmware crash.
    @Test func openPowerAnOffsetOf64KiBCrashesTheFirmware() throws {
        let t = try SecureBoot(try SecureBootAssets.attachmentsImage.get(), firmware: .openPower)
        _ = t.promInit()
        try #require(t.boot.isSecure)
        _ = ESMBGetFile.ultracall(name: Array("exact-64".utf8), offset: 65_536, on: t.boot)
        guard case .firmwareCrash(let reason)? = t.machine.stopReason else {
            Issue.record("expected a firmware crash, got \(String(describing: t.machine.stopReason))")
            return
        }
        #expect(reason.contains("assert(offset < SVM_PAGESIZE)"))
    }

    @Test func anOffsetOf64KiBOrMoreIsUParameterInsteadOfACrash() throws {
        let t = try Self.secureGuest()
        for offset: UInt64 in [65_536, 1 << 40, UInt64.max] {
            let (status, _) = ESMBGetFile.ultracall(name: Array("exact-64".utf8), offset: offset, on: t.boot)
            #expect(status == UltravisorStatus.parameter.rawValue)
        }
        #expect(t.ultravisor.anomalies.count == 3)
        #expect(t.ultravisor.anomalies.first?.realFirmware.contains("asserts") == true)
        #expect(!t.machine.isStopped)
    }

    @Test func aMissingFileGivesTheLibfdtCode() throws {
        let t = try Self.secureGuest()
        #expect(throws: ESMBGetFileError(file: "nosuchfile", reason: .ultracall(code: -1, offset: 0))) {
            try ESMBGetFile.read("nosuchfile", on: t.boot)
        }
        let error = ESMBGetFileError(file: "nosuchfile", reason: .ultracall(code: -1, offset: 0))
        #expect(error.description.contains("FDT_ERR_NOTFOUND"))
        #expect(ESMBGetFile.defaultFileName == "file-1")
        #expect(throws: ESMBGetFileError.self) { try ESMBGetFile.read(on: t.boot) }
    }

    @Test func aBlobWithoutAttachmentsGivesBadMagic() throws {
        let base = DefaultGuestContent.initrd()
        let blob = try BootImageBuilder.makeBlob(
            tpmKeyPEM: SecureBootAssets.tpmKeyPEM, kernel: DefaultGuestContent.kernel(), initrd: base,
            commandLine: SecureBootAssets.commandLine, attachments: [:])
        var c = SecureBootAssets.configuration()
        c.initrd = try ESMInitrd.addBlob(blob, to: base)
        let t = try SecureBoot(try BootImageBuilder.build(c))
        _ = t.promInit()
        #expect(t.boot.isSecure)
        #expect(t.report?.log.contains { $0.hasPrefix("notice: error getting esmb attachments, ignoring") } == true)
        #expect(ESMBGetFile.ultracall(name: Array("rootd".utf8), offset: 0, on: t.boot).status == -9)
    }

    @Test func beforeUVESMThereIsNoSVM() throws {
        let t = try SecureBoot(try SecureBootAssets.attachmentsImage.get())
        #expect(ESMBGetFile.ultracall(name: Array("rootd".utf8), offset: 0, on: t.boot).status == -4)
    }

    @Test func aTooLongNameIsRefusedByTheTool() throws {
        let t = try Self.secureGuest()
        let name = String(repeating: "x", count: 65)
        #expect(throws: ESMBGetFileError(file: name, reason: .nameTooLong(bytes: 65))) {
            try ESMBGetFile.read(name, on: t.boot)
        }
        #expect(t.machine.trace.count(of: "UV_ESMB_GET_FILE") == 0)
    }

    @Test func aPagedOutKeyPageIsBroughtBack() throws {
        let t = try Self.secureGuest()
        let esmb = try #require(t.report?.reservedRegions.first { $0.name == "esmb" })
        let files = try #require(t.report?.reservedRegions.first { $0.name == "files-fdt" })
        #expect(t.hypervisor.pageOut(frame: esmb.address >> 16, on: t.machine) == .success)
        #expect(t.hypervisor.pageOut(frame: files.address >> 16, on: t.machine) == .success)
        #expect(try ESMBGetFile.read("rootd", on: t.boot) == SecureBootAssets.attachments["rootd"])
    }
}
