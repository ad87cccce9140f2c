import DeviceTree

/// Why the Ultravisor could not return an attachment (UV_ESMB_GET_FILE,
/// reference/ultravisor-facts.md §4.2 step 5).
public enum ESMFileLookupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `/files/<name>` could not be found: the negative libfdt code the Ultravisor
    /// returns in R3 (-1 `FDT_ERR_NOTFOUND`, -9 `FDT_ERR_BADMAGIC` when no files FDT was
    /// ever copied…).
    case libfdt(code: Int32, detail: String)
    /// `algorithm`, `iv`, `mac` or `ciphertext` is missing (U_PARAMETER).
    case missingProperty(String)
    /// AES-GCM authentication failed (U_PARAMETER).
    case decryptionFailed(String)

    /// A sentence naming the file and the cause.
    public var description: String {
        switch self {
        case .libfdt(let code, let detail): "libfdt error \(code): \(detail)"
        case .missingProperty(let p): "missing property \(p)"
        case .decryptionFailed(let d): d
        }
    }
}

extension ESMFilesFDT {
    /// The bytes the Ultravisor copies into its files-FDT page, `svm_esmb_get_files_fdt()`
    /// (reference/ultravisor-facts.md §2.6 step 5): the `files-fdt` property of the
    /// blob's `/file` node. A blob without it gives an error the Ultravisor only logs
    /// (attachments are optional).
    public static func ultravisorCopy(fromBlob blob: [UInt8]) -> Result<[UInt8], ESMError> {
        let tree: DeviceTree
        do { tree = try DeviceTree(bytes: blob) } catch { return .failure(ESMError.fdt(error, "ESM blob")) }
        guard tree.hasNode(ESMBlob.filePath) else { return .failure(ESMError(.notFound, "the blob has no /file node")) }
        guard let bytes = tree.propertyIfPresent("files-fdt", at: ESMBlob.filePath) else {
            return .failure(ESMError(.notFound, "the blob's /file node has no files-fdt property (no attachments)"))
        }
        return .success(bytes)
    }

    /// Decrypts one attachment as UV_ESMB_GET_FILE does (`svm_esmb_file_get()` on the
    /// files-FDT page, reference/ultravisor-facts.md §4.2): look up `/files/<name>`,
    /// require `algorithm`, `iv`, `mac`, `ciphertext`, decrypt with AES-GCM under the
    /// master key. The ciphertext length is kept in a `uint16_t` there, so a ciphertext of
    /// 64 KiB or more is cut to its length modulo 65536 and then fails authentication.
    /// - Parameters:
    ///   - filesFDT: the files-FDT page contents (all zero if nothing was copied).
    ///   - name: the attachment's name (the node under `/files`).
    ///   - masterKey: the 32-byte key unwrapped during UV_ESM.
    public static func ultravisorDecrypt(filesFDT: [UInt8], name: String, masterKey: [UInt8]) -> Result<[UInt8], ESMFileLookupError> {
        let tree: DeviceTree
        do { tree = try DeviceTree(bytes: filesFDT) } catch {
            return .failure(.libfdt(code: -error.code.rawValue, detail: "files FDT: \(error)"))
        }
        let path = "/files/" + name
        guard tree.hasNode(path) else {
            return .failure(.libfdt(code: -FDTError.Code.notFound.rawValue, detail: "\(path) not found in the files FDT"))
        }
        var parts: [String: [UInt8]] = [:]
        for p in ["algorithm", "iv", "mac", "ciphertext"] {
            guard let v = tree.propertyIfPresent(p, at: path) else { return .failure(.missingProperty("\(path)/\(p)")) }
            parts[p] = v
        }
        var ciphertext = parts["ciphertext"] ?? []
        if ciphertext.count > 0xFFFF { ciphertext = Array(ciphertext.prefix(ciphertext.count & 0xFFFF)) }
        do {
            return .success(
                try ESMCrypto.gcmOpen(ciphertext: ciphertext, key: masterKey, iv: parts["iv"] ?? [], tag: parts["mac"] ?? [], what: path))
        } catch {
            return .failure(.decryptionFailed(error.message))
        }
    }
}
