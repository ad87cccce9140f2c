import PEFMachine
import PowerABI

/// Why ``ESMBGetFile`` could not read an attachment.
public struct ESMBGetFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Hashable, Sendable {
        /// The name is longer than the 64 bytes r5–r12 can carry.
        case nameTooLong(bytes: Int)
        /// `UV_ESMB_GET_FILE` returned a negative code at this offset: `U_PARAMETER`
        /// (-4; wrong PIDR, a rewind, a bad offset, a missing property, a tag
        /// mismatch), `U_RETRY`, or a negative libfdt code (-1 `FDT_ERR_NOTFOUND` for
        /// a file that is not attached, -9 `FDT_ERR_BADMAGIC` when the blob had no
        /// attachments) (reference/ultravisor-facts.md §4.2).
        case ultracall(code: Int64, offset: UInt64)
        /// The Ultravisor claimed more than 64 bytes in one answer.
        case oversizedAnswer(count: UInt64, offset: UInt64)
        /// The file kept going past 64 KiB, which no attachment can (§4.3).
        case tooLong(bytes: Int)
    }

    /// The file asked for.
    public let file: String
    /// Why it failed.
    public let reason: Reason

    /// Makes an error.
    public init(file: String, reason: Reason) {
        self.file = file
        self.reason = reason
    }

    /// The code `UV_ESMB_GET_FILE` returned, if that is the reason.
    public var code: Int64? {
        if case .ultracall(let code, _) = reason { return code }
        return nil
    }

    /// e.g. `esmb-get-file rootd: UV_ESMB_GET_FILE at offset 0 returned -1 (FDT_ERR_NOTFOUND)`.
    public var description: String {
        switch reason {
        case .nameTooLong(let n): "esmb-get-file \(file): the name is \(n) bytes, more than the 64 that r5–r12 carry"
        case .ultracall(let code, let offset):
            "esmb-get-file \(file): UV_ESMB_GET_FILE at offset \(offset) returned \(code) (\(Self.name(of: code)))"
        case .oversizedAnswer(let count, let offset):
            "esmb-get-file \(file): UV_ESMB_GET_FILE at offset \(offset) claimed \(count) bytes, more than 64"
        case .tooLong(let n): "esmb-get-file \(file): \(n) bytes read and still going; attachments are under 64 KiB"
        }
    }

    /// The C name of a code `UV_ESMB_GET_FILE` returns.
    static func name(of code: Int64) -> String {
        switch code {
        case -1: "FDT_ERR_NOTFOUND"
        case -9: "FDT_ERR_BADMAGIC"
        default: UltravisorStatus(rawValue: code).name
        }
    }
}

/// The guest tooling equivalent of svm-password-agent's `esmb-get-file`
/// (`open-power/svm-tools svm-password-agent/src/esmb-get-file.c` and `ucall.S`;
/// reference/ultravisor-facts.md §4.5): reads a whole attachment of the ESM blob with
/// `UV_ESMB_GET_FILE` through `sc 2` on a vCPU.
///
/// Like the C tool, it starts at offset 0, adds each answer's byte count to the offset
/// and stops when the call returns 0; a negative return is an error naming the file and
/// the code. The Ultravisor lets each file be read once, in order, by the process
/// (PIDR) that read it first, so a second ``read(_:on:)`` of the same file fails with
/// `U_PARAMETER`. The call works from any privilege: svm-password-agent runs it from
/// user space (set the vCPU's MSR(PR) and PIDR to model the process).
public enum ESMBGetFile {
    /// The C tool's default file name (`-f` not given).
    public static let defaultFileName = "file-1"
    /// The most name bytes r5–r12 carry.
    public static let maximumNameBytes = 64
    /// The most bytes one answer carries (r4–r11).
    public static let chunkBytes = 64
    /// A bound on the bytes read, past every attachment's size (< 64 KiB).
    public static let readLimit = 1 << 16

    /// One `UV_ESMB_GET_FILE`, as `ucall.S` makes it: r4 = offset, r5–r12 = the name
    /// packed big-endian, `sc 2`; returns r3 (signed) and r4–r11 unpacked into bytes.
    public static func ultracall(name: [UInt8], offset: UInt64, on vcpu: VirtualProcessor) -> (
        status: Int64, data: [UInt8]
    ) {
        let registers = vcpu.ultracall(.getESMFile, [offset] + pack(name))
        let status = Int64(bitPattern: registers.r3)
        return (status, unpack((4...11).map { registers[$0] }))
    }

    /// Reads file `name` chunk by chunk, as the C loop does (it prints each chunk
    /// followed by a newline: see ``output(of:)``).
    /// - Throws: ``ESMBGetFileError`` for a name over 64 bytes, a negative return, an
    ///   answer over 64 bytes, or a file that does not end.
    public static func readChunks(_ name: String = defaultFileName, on vcpu: VirtualProcessor) throws(ESMBGetFileError)
        -> [[UInt8]]
    {
        let bytes = Array(name.utf8)
        guard bytes.count <= maximumNameBytes else {
            throw ESMBGetFileError(file: name, reason: .nameTooLong(bytes: bytes.count))
        }
        var chunks: [[UInt8]] = []
        var offset: UInt64 = 0
        while true {
            let (status, data) = ultracall(name: bytes, offset: offset, on: vcpu)
            guard status >= 0 else { throw ESMBGetFileError(file: name, reason: .ultracall(code: status, offset: offset)) }
            guard status > 0 else { return chunks }
            guard status <= Int64(chunkBytes) else {
                throw ESMBGetFileError(file: name, reason: .oversizedAnswer(count: UInt64(status), offset: offset))
            }
            chunks.append(Array(data.prefix(Int(status))))
            offset += UInt64(status)
            guard offset <= UInt64(readLimit) else { throw ESMBGetFileError(file: name, reason: .tooLong(bytes: Int(offset))) }
        }
    }

    /// Reads the whole of file `name`.
    /// - Throws: see ``readChunks(_:on:)``.
    public static func read(_ name: String = defaultFileName, on vcpu: VirtualProcessor) throws(ESMBGetFileError)
        -> [UInt8]
    {
        try readChunks(name, on: vcpu).flatMap { $0 }
    }

    /// What `esmb-get-file` writes to standard output: each chunk followed by `\n`.
    public static func output(of chunks: [[UInt8]]) -> [UInt8] { chunks.flatMap { $0 + [0x0A] } }

    /// Up to 64 bytes into 8 big-endian doublewords (byte i at shift 56 − 8·(i mod 8)
    /// of word i/8), zero-filled.
    public static func pack(_ bytes: [UInt8]) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: 8)
        for (i, b) in bytes.prefix(maximumNameBytes).enumerated() { words[i / 8] |= UInt64(b) << (56 - 8 * UInt64(i % 8)) }
        return words
    }

    /// 8 doublewords back into 64 bytes.
    public static func unpack(_ words: [UInt64]) -> [UInt8] {
        words.prefix(8).flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (56 - 8 * UInt64($0))) } }
    }
}
