import Foundation

/// Writing the files named by `-o`/`--output` and the other output options.
///
/// A regular file is written through a temporary file in the same directory and renamed
/// over the target, so a failed run (a full disk, a file-size limit, an error part-way)
/// leaves the previous file intact. What `svmkit` did not create is never replaced:
/// a device node, FIFO or socket, and a symbolic link (whose target is elsewhere), are
/// refused unless `--force` is given. With `--force`, a device node or FIFO is written
/// into in place (it cannot be replaced by renaming), and a symbolic link is replaced by
/// a regular file (its target is left alone).
enum CLIOutput {
    /// Why an output cannot be written; ``reason`` completes "OPTION PATH: …".
    struct Failure: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    /// What is at an output path now.
    enum Target {
        /// Nothing, or a regular file: written through a temporary file and a rename.
        case replaceable
        /// A device node, FIFO or socket the user asked (with `--force`) to write into.
        case special
    }

    /// Checks, before any work is done, that `path` can be written.
    /// - Throws: ``Failure`` for a directory, a missing parent directory, or (without
    ///   `force`) a symbolic link or special file.
    @discardableResult
    static func check(_ path: String, force: Bool) throws(Failure) -> Target {
        guard !path.isEmpty else { throw Failure(reason: "an empty path") }
        if path.unicodeScalars.contains("\u{FFFD}"), CLIInput.rawArgumentIsNotUTF8(containing: path) {
            // Swift received the name with U+FFFD in place of the bad bytes: writing it would create another name.
            throw Failure(reason: "the path is not valid UTF-8; svmkit takes UTF-8 paths only (choose a UTF-8 name)")
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                return .replaceable
            case S_IFDIR:
                throw Failure(reason: "is a directory; give a file name")
            case S_IFLNK:
                guard force else {
                    throw Failure(
                        reason: "is a symbolic link; svmkit does not replace what it did not create (give --force to replace the link itself with a regular file)")
                }
                return .replaceable
            default:
                guard force else {
                    throw Failure(
                        reason: "is a \(kind(info.st_mode)), not a regular file; svmkit does not replace what it did not create (give --force to write into it)")
                }
                return .special
            }
        }
        guard errno == ENOENT else { throw Failure(reason: CLIInput.openFailure(path, errno)) }
        let dir = directory(of: path)
        var dirInfo = stat()
        guard stat(dir, &dirInfo) == 0, dirInfo.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(reason: "directory \(dir) does not exist")
        }
        guard access(dir, W_OK) == 0 else { throw Failure(reason: "directory \(dir) is not writable") }
        return .replaceable
    }

    /// Writes `bytes` to `path` (see the type's rules); `mode` is the new file's
    /// permission bits.
    static func write(_ bytes: [UInt8], to path: String, force: Bool, mode: mode_t = 0o644) throws(Failure) {
        switch try check(path, force: force) {
        case .special:
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure(reason: "cannot be opened: \(String(cString: strerror(errno)))") }
            defer { _ = close(fd) }
            if let error = CLIReporter.writeAll(fd, bytes) { throw Failure(reason: "cannot write: \(String(cString: strerror(error)))") }
        case .replaceable:
            let dir = directory(of: path)
            let base = baseName(of: path)
            var template = Array("\(dir)/.\(base).svmkit-XXXXXX".utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { b in b.baseAddress.map { mkstemp($0) } ?? -1 }
            guard fd >= 0 else { throw Failure(reason: "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))") }
            let temporary = String(decoding: template.dropLast().map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
            var failure: Int32? = CLIReporter.writeAll(fd, bytes)
            if failure == nil, fchmod(fd, mode) != 0 { failure = errno }
            if failure == nil, fsync(fd) != 0 { failure = errno }
            if close(fd) != 0, failure == nil { failure = errno }
            if failure == nil, rename(temporary, path) != 0 { failure = errno }
            if let failure {
                _ = unlink(temporary)
                throw Failure(reason: "cannot write: \(String(cString: strerror(failure))) (nothing was replaced)")
            }
        }
    }

    /// The directory part of `path` (`.` for a bare name, `/` for a name at the root).
    /// (Foundation's `NSString.deletingLastPathComponent` traps on some names, e.g. `1`.)
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The name after the last `/` of `path`.
    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `character device`, `FIFO`, … for a `st_mode`.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        case S_IFIFO: "FIFO"
        case S_IFSOCK: "socket"
        default: "special file"
        }
    }
}
