/// A live mapping as the pool sees it.
public struct SWIOTLBMapping: Sendable, Hashable {
    /// The bounce address `map` returned.
    public let address: UInt64
    /// The original buffer's address.
    public let original: UInt64
    /// The mapped size in bytes.
    public let size: Int
    /// Slots allocated, padding included.
    public let slots: Int
    /// Slots of padding in front of the first data slot (`pad_slots`).
    public let padSlots: Int
    /// The area holding it.
    public let area: Int
}
