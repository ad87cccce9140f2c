internal import CLibFDT

/// An error from reading, building or editing a flattened device tree.
///
/// Every libfdt `FDT_ERR_*` code has a ``Code`` case (libfdt returns them negated);
/// `context` names the input that was wrong: the path, property or byte offset.
/// libfdt 1.6.1's own `fdt_strerror` returns macro names and `<unknown error>` for
/// `FDT_ERR_ALIGNMENT` (swift-notes §1.5, pitfall 9), so the messages live here.
public struct FDTError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let code: Code
    /// Which input it concerns (a path, a property name, an offset), possibly empty.
    public let context: String

    /// Makes an error for `code` about `context`.
    public init(_ code: Code, _ context: String = "") {
        self.code = code
        self.context = context
    }

    /// Maps a negative libfdt return value (or a positive `FDT_ERR_*`) to an error.
    init(libfdt rc: Int32, _ context: String = "") {
        self.init(Code(rawValue: rc < 0 ? -rc : rc) ?? .internal, context)
    }

    /// The message and the context, e.g. `node or property not found: /chosen/bootargs`.
    public var description: String { context.isEmpty ? code.message : "\(code.message): \(context)" }

    /// The libfdt error codes, with the values of `FDT_ERR_*` (positive).
    public enum Code: Int32, Sendable, Hashable, CaseIterable {
        /// `FDT_ERR_NOTFOUND` (1).
        case notFound = 1
        /// `FDT_ERR_EXISTS` (2).
        case exists = 2
        /// `FDT_ERR_NOSPACE` (3).
        case noSpace = 3
        /// `FDT_ERR_BADOFFSET` (4).
        case badOffset = 4
        /// `FDT_ERR_BADPATH` (5).
        case badPath = 5
        /// `FDT_ERR_BADPHANDLE` (6).
        case badPhandle = 6
        /// `FDT_ERR_BADSTATE` (7).
        case badState = 7
        /// `FDT_ERR_TRUNCATED` (8).
        case truncated = 8
        /// `FDT_ERR_BADMAGIC` (9).
        case badMagic = 9
        /// `FDT_ERR_BADVERSION` (10).
        case badVersion = 10
        /// `FDT_ERR_BADSTRUCTURE` (11).
        case badStructure = 11
        /// `FDT_ERR_BADLAYOUT` (12).
        case badLayout = 12
        /// `FDT_ERR_INTERNAL` (13).
        case `internal` = 13
        /// `FDT_ERR_BADNCELLS` (14).
        case badNCells = 14
        /// `FDT_ERR_BADVALUE` (15).
        case badValue = 15
        /// `FDT_ERR_BADOVERLAY` (16).
        case badOverlay = 16
        /// `FDT_ERR_NOPHANDLES` (17).
        case noPhandles = 17
        /// `FDT_ERR_BADFLAGS` (18).
        case badFlags = 18
        /// `FDT_ERR_ALIGNMENT` (19).
        case alignment = 19

        /// A sentence saying what the code means.
        public var message: String {
            switch self {
            case .notFound: "node or property not found"
            case .exists: "node or property already exists"
            case .noSpace: "not enough space in the device tree buffer"
            case .badOffset: "structure block offset is out of bounds or not at a tag"
            case .badPath: "badly formatted path"
            case .badPhandle: "invalid phandle"
            case .badState: "incomplete device tree (sequential write not finished)"
            case .truncated: "device tree is truncated or a block runs past the end"
            case .badMagic: "not a flattened device tree (bad magic)"
            case .badVersion: "unsupported device tree version"
            case .badStructure: "corrupt structure block"
            case .badLayout: "blocks are in an order this operation cannot handle"
            case .internal: "libfdt internal error"
            case .badNCells: "bad #address-cells or #size-cells"
            case .badValue: "property has an unexpected value"
            case .badOverlay: "bad device tree overlay"
            case .noPhandles: "no phandles left"
            case .badFlags: "bad flags"
            case .alignment: "device tree is not 8-byte aligned"
            }
        }
    }
}

extension FDTError.Code {
    /// The C constant's value, checked against libfdt's header in tests.
    static var libfdtValues: [FDTError.Code: Int32] {
        [
            .notFound: FDT_ERR_NOTFOUND, .exists: FDT_ERR_EXISTS, .noSpace: FDT_ERR_NOSPACE,
            .badOffset: FDT_ERR_BADOFFSET, .badPath: FDT_ERR_BADPATH, .badPhandle: FDT_ERR_BADPHANDLE,
            .badState: FDT_ERR_BADSTATE, .truncated: FDT_ERR_TRUNCATED, .badMagic: FDT_ERR_BADMAGIC,
            .badVersion: FDT_ERR_BADVERSION, .badStructure: FDT_ERR_BADSTRUCTURE, .badLayout: FDT_ERR_BADLAYOUT,
            .internal: FDT_ERR_INTERNAL, .badNCells: FDT_ERR_BADNCELLS, .badValue: FDT_ERR_BADVALUE,
            .badOverlay: FDT_ERR_BADOVERLAY, .noPhandles: FDT_ERR_NOPHANDLES, .badFlags: FDT_ERR_BADFLAGS,
            .alignment: FDT_ERR_ALIGNMENT,
        ]
    }
}
