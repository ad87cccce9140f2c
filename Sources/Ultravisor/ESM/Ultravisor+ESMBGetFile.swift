import ESM
@_spi(Firmware) import PEFMachine
import PowerABI

extension Ultravisor {
    /// Bytes per `UV_ESMB_GET_FILE` answer: 8 registers (r4–r11) of 8 bytes.
    public static let esmbChunkBytes = 64
    /// The offsets the firmware accepts: below 64 KiB (`assert(offset < SVM_PAGESIZE)`).
    public static let esmbOffsetLimit: UInt64 = 1 << 16
    /// `ESMB_AES_KEY_LEN`: the master key length read from `buf_key`.
    static let esmbKeyBytes = 32

    /// `UV_ESMB_GET_FILE` (0xF14C): returns up to 64 bytes of an attachment's plaintext
    /// (`uv_esmb_get_file()` and `get_file_data()` in `open-power/ultravisor
    /// core/uvcall.c`; reference/ultravisor-facts.md §4). The router admits it from any
    /// context, problem state included (the firmware has no MSR check for it).
    ///
    /// Registers: r4 = the byte offset into the plaintext; r5–r12 = the file name,
    /// big-endian (byte i in r(5 + i/8) at shift 56 − 8·(i mod 8)), up to 64 bytes, read
    /// as a C string. On success r3 = the number of bytes (0 at the end of the file) and
    /// r4–r11 hold them packed the same way, unused bytes zero. On failure r3 is
    /// negative and r4–r11 are left as they were.
    ///
    /// | condition (in this order) | r3 |
    /// |---|---|
    /// | no SVM for the caller's LPIDR | `U_PARAMETER` |
    /// | the file was first read with another PIDR, or offset < the last byte read | `U_PARAMETER` |
    /// | offset ≥ 64 KiB | `U_PARAMETER` under `documented`; under `open-power` the firmware's `assert` stops the machine (a firmware crash); an anomaly either way |
    /// | `/files/<name>` not in the files FDT | the negative libfdt code: -1 `FDT_ERR_NOTFOUND`, -9 `FDT_ERR_BADMAGIC` when no files FDT was copied |
    /// | `algorithm`, `iv`, `mac` or `ciphertext` missing, or the GCM tag does not verify | `U_PARAMETER` |
    /// | offset ≥ the plaintext's length | 0 |
    ///
    /// The per-file context (the caller's PIDR, the last byte read) is made on the first
    /// call for a name, before the file is looked up, so reads are once, in order and
    /// from one address space per boot: reading from 0 again after a read fails;
    /// repeating the current offset is allowed. The file is decrypted from the files
    /// FDT and the master key the Ultravisor left in the SVM's reserved pages during
    /// `UV_ESM` (§4.3: the key sits in a guest page hidden only by a reserve entry).
    func getESMFile(_ call: inout FirmwareCall, on machine: Machine) {
        let offset = call[4]
        let nameBytes = Self.unpackBytes((5...12).map { call[$0] })
        let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
        let lpid = lpid(of: call, on: machine)
        let pid = call.caller.vcpu.flatMap { machine.processor($0)?.pidr } ?? 0

        enum Admission {
            case noSVM
            case otherProcess(UInt64)
            case rewind(UInt64)
            case admitted(ESMBPages?)
        }
        let admission: Admission = state.withLock { s in
            guard var svm = s.svms[lpid] else { return .noSVM }
            let context = svm.fileContexts[name] ?? ESMFileContext(pid: pid, lastByteRead: 0)
            svm.fileContexts[name] = context
            s.svms[lpid] = svm
            guard context.pid == pid else { return .otherProcess(context.pid) }
            guard offset >= context.lastByteRead else { return .rewind(context.lastByteRead) }
            return .admitted(svm.esmb)
        }
        let pages: ESMBPages?
        switch admission {
        case .noSVM:
            call.notes.append("no SVM for LPID \(lpid)")
            return call.finish(UltravisorStatus.parameter)
        case .otherProcess(let first):
            call.notes.append("\(name): first read with PIDR \(first), not \(pid)")
            return call.finish(UltravisorStatus.parameter)
        case .rewind(let last):
            call.notes.append("\(name): offset \(offset) is below the last byte read (\(last)): files are read once, in order")
            return call.finish(UltravisorStatus.parameter)
        case .admitted(let p):
            pages = p
        }
        guard offset < Self.esmbOffsetLimit else {
            recordAnomaly(
                "UV_ESMB_GET_FILE(\(name), offset \(offset))",
                "offset ≥ 64 KiB: the real Ultravisor asserts (offset < SVM_PAGESIZE) and stops", on: machine,
                caller: call.caller)
            call.notes.append("offset \(offset) is not below 64 KiB")
            if crashIfOpenPower("UV_ESMB_GET_FILE: assert(offset < SVM_PAGESIZE) failed (svm/svm-esmb.c: get_file_data)", on: machine) {
                return call.finish(UltravisorStatus.hardware)
            }
            return call.finish(UltravisorStatus.parameter)
        }

        let filesFDT = pages.flatMap {
            readSecurePage($0.filesFDT, count: Int(PageSize.bytes), for: call, on: machine)
        } ?? [UInt8](repeating: 0, count: Int(PageSize.bytes))
        let key = pages.flatMap { readSecurePage($0.key, count: Self.esmbKeyBytes, for: call, on: machine) }
            ?? [UInt8](repeating: 0, count: Self.esmbKeyBytes)
        let plaintext: [UInt8]
        switch ESMFilesFDT.ultravisorDecrypt(filesFDT: filesFDT, name: name, masterKey: key) {
        case .success(let p):
            plaintext = p
        case .failure(.libfdt(let code, let detail)):
            call.notes.append(detail)
            return call.finish(UltravisorStatus(rawValue: Int64(code)))
        case .failure(let error):
            call.notes.append("\(name): \(error)")
            return call.finish(UltravisorStatus.parameter)
        }

        var count = 0
        if offset < UInt64(plaintext.count) {
            count = min(Self.esmbChunkBytes, plaintext.count - Int(offset))
            let words = Self.packBytes(Array(plaintext[Int(offset)..<(Int(offset) + count)]))
            for (i, w) in words.enumerated() { call[4 + i] = w }
        }
        let last = offset + UInt64(count)
        state.withLock { $0.svms[lpid]?.fileContexts[name]?.lastByteRead = last }
        call.registers.r3 = UInt64(count)
    }

    /// `bytes_to_dwords()`: up to 64 bytes into 8 big-endian doublewords, zero-filled.
    public static func packBytes(_ bytes: [UInt8]) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: 8)
        for (i, b) in bytes.prefix(64).enumerated() { words[i / 8] |= UInt64(b) << (56 - 8 * UInt64(i % 8)) }
        return words
    }

    /// `dwords_to_bytes()`: 8 doublewords back into 64 bytes.
    public static func unpackBytes(_ words: [UInt64]) -> [UInt8] {
        words.prefix(8).flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (56 - 8 * UInt64($0))) } }
    }

    /// Reads one of the SVM's private pages as the Ultravisor (`gpa_to_addr`); a page
    /// the hypervisor has paged out is brought back with `H_SVM_PAGE_IN` first.
    func readSecurePage(_ address: GuestPhysicalAddress, count: Int, for call: FirmwareCall, on machine: Machine)
        -> [UInt8]?
    {
        if let bytes = try? machine.memory.read(.ultravisor, at: address, count: count) { return bytes }
        let frame = address.rawValue >> PageSize.shift
        if machine.memory.state(of: GuestFrameNumber(rawValue: frame)) == .pagedOut {
            _ = machine.hypercall(
                .svmPageIn, [frame << PageSize.shift, Hypercall.pageInNonShared, PageSize.shift],
                from: .ultravisor(vcpu: call.caller.vcpu), depth: call.depth + 1)
        }
        return try? machine.memory.read(.ultravisor, at: address, count: count)
    }
}
