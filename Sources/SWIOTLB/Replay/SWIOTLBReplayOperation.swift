/// One request of a replay: a map (`swiotlb_tbl_map_single()`) or an unmap
/// (`swiotlb_tbl_unmap_single()`) of an earlier map, named by its id.
public enum SWIOTLBReplayOperation: Sendable, Hashable, Decodable {
    /// `{"op": "map", "id", "orig_addr", "size", "alloc_align_mask", "min_align_mask",
    /// "seg_boundary_mask", "cpu"}`.
    case map(SWIOTLBReplayMap)
    /// `{"op": "unmap", "id"}`: releases the live map with this id.
    case unmap(id: UInt64)

    /// The id the operation names.
    public var id: UInt64 {
        switch self {
        case .map(let map): map.id
        case .unmap(let id): id
        }
    }

    enum CodingKeys: String, CodingKey { case op, id }

    /// Decodes one op; `op` must be `"map"` or `"unmap"`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let op = try c.decode(String.self, forKey: .op)
        switch op {
        case "map": self = .map(try SWIOTLBReplayMap(from: decoder))
        case "unmap": self = .unmap(id: try c.decode(ReplayNumber.self, forKey: .id).value)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .op, in: c, debugDescription: "op \"\(op)\" is neither \"map\" nor \"unmap\"")
        }
    }
}
