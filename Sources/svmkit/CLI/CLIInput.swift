import Foundation

/// Reading the files named on the command line (`-` is standard input where a command
/// allows it), with the throwing system calls and a size limit, so that no input can
/// trap (Foundation's `readDataToEndOfFile()` traps on an I/O error) or grow without
/// bound (`/dev/zero`).
enum CLIInput {
    /// Why a file could not be read; ``reason`` completes "OPTION PATH: …".
    struct Failure: Error, CustomStringConvertible {
        /// e.g. `does not exist`, `is larger than 64 MiB, the limit for a device tree`.
        let reason: String
        var description: String { reason }
    }

    /// Upper bounds on what is read, from the formats.
    enum Limit {
        /// Kernel and initrd: they must fit under the device tree below the Ultravisor's
        /// 768 MiB RMO cap (``SVMKit/BootImageBuilder``), so more can never boot.
        static let image = 768 << 20
        /// A flattened device tree: QEMU's pseries trees are under 1 MiB
        /// (`FDT_MAX_SIZE`); 64 MiB leaves room for any real one.
        static let deviceTree = 64 << 20
        /// An ESM blob: a device tree of lockboxes, digests and attachments of 64 KiB each.
        static let blob = 64 << 20
        /// A PEM or DER key, or a certificate.
        static let key = 1 << 20
        /// An attachment (the format allows 64 KiB; a little more is read so the library
        /// can say by how much it is over).
        static let attachment = 1 << 20
        /// RTAS text: SLOF's is 20 bytes; an RTAS area is at most a few pages.
        static let rtas = 16 << 20
    }

    /// The bytes of `path` (`-`: standard input), at most `limit` of them.
    /// - Parameter what: names the kind of input in the limit message (`a device tree`).
    static func read(_ path: String, limit: Int, what: String) throws(Failure) -> [UInt8] {
        let fd: Int32
        if path == "-" {
            guard !CLIReporter.wasClosed(CLIReporter.standardInput) else { throw Failure(reason: "standard input is closed") }
            fd = CLIReporter.standardInput
        } else {
            guard !path.isEmpty else { throw Failure(reason: "an empty path") }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure(reason: openFailure(path, errno)) }
        }
        defer { if fd != CLIReporter.standardInput { _ = close(fd) } }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { throw Failure(reason: "is a directory") }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(reason: "cannot be read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return bytes }
            guard bytes.count + n <= limit else {
                throw Failure(reason: "input larger than \(ByteCount.describe(UInt64(limit))), the limit for \(what)")
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// Why `open(path)` failed, in words; a path that is not valid UTF-8 on the command
    /// line is said to be so (Swift receives it with U+FFFD in place of the bad bytes).
    static func openFailure(_ path: String, _ error: Int32) -> String {
        if error == ENOENT, path.unicodeScalars.contains("\u{FFFD}"), rawArgumentIsNotUTF8(containing: path) {
            return "the path is not valid UTF-8; svmkit takes UTF-8 paths only (rename the file or use a symbolic link with a UTF-8 name)"
        }
        switch error {
        case ENOENT: return "does not exist"
        case EACCES: return "permission denied"
        case ENOTDIR: return "a component of the path is not a directory"
        default: return "cannot be opened: \(String(cString: strerror(error)))"
        }
    }

    /// Whether some raw command-line argument is invalid UTF-8 and decodes (with repair)
    /// to a string containing `path`.
    static func rawArgumentIsNotUTF8(containing path: String) -> Bool {
        for i in 0..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[i] else { continue }
            let bytes = Array(UnsafeRawBufferPointer(start: raw, count: strlen(raw)))
            if String(validating: bytes, as: UTF8.self) == nil, String(decoding: bytes, as: UTF8.self).contains(path) { return true }
        }
        return false
    }
}

/// `read(2)` (the name `read` inside ``CLIInput`` is its own function).
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
