import DeviceTree

/// An error from reading, building, editing or checking an ESM blob, or from the
/// keys and archives around it. ``kind`` says what class of problem it is; ``message``
/// names the input (file, node, property, lockbox, attachment) and what was wrong.
public struct ESMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of problem.
    public let kind: Kind
    /// A sentence naming the input and what was wrong with it.
    public let message: String

    /// Makes an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// Classes of ESM errors.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// The bytes are not a well-formed flattened device tree (libfdt refused them).
        case malformedDeviceTree
        /// A well-formed tree that breaks svm-tool's validator rules (`valid_esm`):
        /// a missing or unexpected node or property, a bad value.
        case invalidBlob
        /// A key file could not be read as an RSA key (bad PEM, wrong type, too small,
        /// passphrase-protected).
        case invalidKey
        /// The private key opens no lockbox of the blob (svm-tool: "Not an authorized key").
        case notAuthorized
        /// The public key already has a lockbox (svm-tool: "already authorized").
        case alreadyAuthorized
        /// The origin lockbox cannot be revoked, or the key has no lockbox to revoke.
        case cannotRevoke
        /// A node, property or attachment that the operation needs is not there.
        case notFound
        /// An attachment name breaks the node-name rule `^[A-Za-z][0-9A-Za-z,._+-]{0,30}$`,
        /// or an attachment with that name already exists.
        case invalidName
        /// A size limit is exceeded (attachments must be under 64 KiB).
        case tooLarge
        /// A comment contains a newline (svm-tool refuses those).
        case invalidComment
        /// RSA or AES-GCM decryption failed: a wrong key, or a changed ciphertext, IV or tag.
        case decryptionFailed
        /// A cryptographic primitive failed for another reason (key generation, encryption).
        case cryptoFailure
        /// A cpio archive is malformed (see ``CPIOError``).
        case malformedArchive
        /// No ESM blob was found where the Ultravisor looks for one.
        case blobNotFound
    }

    /// Wraps a libfdt error about `what`.
    static func fdt(_ error: FDTError, _ what: String) -> ESMError {
        ESMError(error.code == .notFound ? .notFound : .malformedDeviceTree, "\(what): \(error)")
    }
}
