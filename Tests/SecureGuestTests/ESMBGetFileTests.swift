@_spi(Firmware) import PEFMachine
import PowerABI
import Synchronization
import Testing

@testable import SecureGuest

/// A stand-in Ultravisor that answers only UV_ESMB_GET_FILE, from a table of files,
/// the way reference/ultravisor-facts.md §4 describes (64-byte chunks, 0 at the end,
/// -1 for an unknown name), or misbehaves on purpose.
final class FileServingUltravisor: UltravisorFirmware {
    enum Mode: Sendable { case faithful, oversized, endless }
    let files: [String: [UInt8]]
    let mode: Mode
    let seen = Mutex<[(name: String, offset: UInt64, pidr: UInt64, msr: MachineStateRegister)]>([])

    init(files: [String: [UInt8]], mode: Mode = .faithful) {
        self.files = files
        self.mode = mode
    }

    func handleUltracall(_ call: inout FirmwareCall, on machine: Machine) {
        guard Ultracall(rawValue: call.number) == .getESMFile else { return call.finish(UltravisorStatus.function) }
        let raw = ESMBGetFile.unpack((5...12).map { call[$0] })
        let name = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        let offset = call[4]
        let pidr = call.caller.vcpu.flatMap { machine.processor($0)?.pidr } ?? 0
        seen.withLock { $0.append((name, offset, pidr, call.caller.msr)) }
        switch mode {
        case .oversized:
            call.registers.r3 = 65
            return
        case .endless:
            call.registers.r3 = 1
            return
        case .faithful:
            break
        }
        guard let data = files[name] else { return call.finish(UltravisorStatus(rawValue: -1)) }
        guard offset < UInt64(data.count) else {
            call.registers.r3 = 0
            return
        }
        let chunk = Array(data[Int(offset)..<min(data.count, Int(offset) + 64)])
        for (i, w) in ESMBGetFile.pack(chunk).enumerated() { call[4 + i] = w }
        call.registers.r3 = UInt64(chunk.count)
    }

    func handleSecureHypercall(_ call: inout FirmwareCall, on machine: Machine) {
        call.finish(HypervisorStatus.function)
    }

    func handlePageFault(_ fault: PageFault, on machine: Machine) -> Bool { false }
}

/// The guest tooling equivalent of svm-password-agent's esmb-get-file (§4.5).
@Suite struct ESMBGetFileTests {
    static func machine(_ uv: FileServingUltravisor) throws -> Machine {
        let m = try Machine(configuration: MachineConfiguration(memoryBytes: 1 << 20, processorCount: 1))
        m.attach(ultravisor: uv)
        return m
    }

    @Test func readsAWholeFileFromOffsetZeroUntilZero() throws {
        let data = (0..<204).map { UInt8($0) }
        let uv = FileServingUltravisor(files: ["file-long": data])
        let m = try Self.machine(uv)
        let chunks = try ESMBGetFile.readChunks("file-long", on: m.bootProcessor)
        #expect(chunks.map(\.count) == [64, 64, 64, 12])
        #expect(chunks.flatMap { $0 } == data)
        #expect(uv.seen.withLock { $0.map(\.offset) } == [0, 64, 128, 192, 204])
        #expect(uv.seen.withLock { $0.allSatisfy { $0.name == "file-long" } })
        #expect(ESMBGetFile.output(of: chunks) == Array(data[0..<64]) + [10] + Array(data[64..<128]) + [10] + Array(data[128..<192]) + [10] + Array(data[192...]) + [10])
    }

    @Test func anEmptyFileIsEmpty() throws {
        let m = try Self.machine(FileServingUltravisor(files: ["empty": []]))
        #expect(try ESMBGetFile.read("empty", on: m.bootProcessor) == [])
    }

    @Test func aNegativeReturnNamesTheFileAndTheCode() throws {
        let m = try Self.machine(FileServingUltravisor(files: [:]))
        let error = ESMBGetFileError(file: "rootd", reason: .ultracall(code: -1, offset: 0))
        #expect(throws: error) { try ESMBGetFile.read("rootd", on: m.bootProcessor) }
        #expect(error.code == -1)
        #expect(error.description == "esmb-get-file rootd: UV_ESMB_GET_FILE at offset 0 returned -1 (FDT_ERR_NOTFOUND)")
        #expect(ESMBGetFileError(file: "x", reason: .ultracall(code: -4, offset: 64)).description.hasSuffix("(U_PARAMETER)"))
    }

    @Test func theDefaultNameIsFile1() throws {
        let uv = FileServingUltravisor(files: ["file-1": [1, 2, 3]])
        let m = try Self.machine(uv)
        #expect(try ESMBGetFile.read(on: m.bootProcessor) == [1, 2, 3])
    }

    @Test func itRunsFromUserSpaceWithTheProcessPIDR() throws {
        let uv = FileServingUltravisor(files: ["crypttab": Array("key\n".utf8)])
        let m = try Self.machine(uv)
        m.bootProcessor.update { $0.msr = $0.msr.union(.problemState) }
        m.bootProcessor.update { $0.pidr = 0x77 }
        #expect(try ESMBGetFile.read("crypttab", on: m.bootProcessor) == Array("key\n".utf8))
        #expect(uv.seen.withLock { $0.allSatisfy { $0.pidr == 0x77 && $0.msr.contains(.problemState) } })
    }

    @Test func misbehavingAnswersAreErrors() throws {
        let big = try Self.machine(FileServingUltravisor(files: [:], mode: .oversized))
        #expect(throws: ESMBGetFileError(file: "f", reason: .oversizedAnswer(count: 65, offset: 0))) {
            try ESMBGetFile.read("f", on: big.bootProcessor)
        }
        let endless = try Self.machine(FileServingUltravisor(files: [:], mode: .endless))
        #expect(throws: ESMBGetFileError(file: "f", reason: .tooLong(bytes: ESMBGetFile.readLimit + 1))) {
            try ESMBGetFile.read("f", on: endless.bootProcessor)
        }
    }

    @Test func namesArePackedBigEndianUpTo64Bytes() throws {
        let name = Array("abcdefghi".utf8)
        let words = ESMBGetFile.pack(name)
        #expect(words.count == 8)
        #expect(words[0] == 0x6162_6364_6566_6768 && words[1] == 0x6900_0000_0000_0000)
        #expect(words[2...].allSatisfy { $0 == 0 })
        #expect(Array(ESMBGetFile.unpack(words).prefix(9)) == name)
        let sixtyFour = [UInt8](repeating: 0x41, count: 64)
        #expect(ESMBGetFile.unpack(ESMBGetFile.pack(sixtyFour)) == sixtyFour)
        let m = try Self.machine(FileServingUltravisor(files: [:]))
        let long = String(repeating: "n", count: 65)
        #expect(throws: ESMBGetFileError(file: long, reason: .nameTooLong(bytes: 65))) {
            try ESMBGetFile.read(long, on: m.bootProcessor)
        }
    }
}
