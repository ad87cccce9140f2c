/// The general-purpose register file of one thread (r0–r31).
///
/// Ultracalls and hypercalls pass their number in r3 and arguments from r4 up;
/// results come back from r3 up (reference/ultravisor-facts.md §1.1, §1.3).
public struct Registers: Hashable, Sendable, CustomStringConvertible {
    /// r0…r31.
    public private(set) var gpr: [UInt64]

    /// All zero.
    public init() { gpr = Array(repeating: 0, count: 32) }

    /// r3 = `r3`, then `arguments` in r4, r5, … (at most 29 of them; extra ones are dropped).
    public init(r3: UInt64, arguments: [UInt64] = []) {
        self.init()
        gpr[3] = r3
        for (i, a) in arguments.prefix(28).enumerated() { gpr[4 + i] = a }
    }

    /// Register `n`; reads of a number outside 0…31 give 0 and writes are ignored.
    public subscript(_ n: Int) -> UInt64 {
        get { gpr.indices.contains(n) ? gpr[n] : 0 }
        set { if gpr.indices.contains(n) { gpr[n] = newValue } }
    }

    /// r3, where a call's number goes in and its status comes out.
    public var r3: UInt64 {
        get { gpr[3] }
        set { gpr[3] = newValue }
    }

    /// The non-zero registers, e.g. `r3=0xf110 r4=0x400000`.
    public var description: String {
        gpr.enumerated().filter { $0.element != 0 }.map { "r\($0.offset)=0x" + String($0.element, radix: 16) }
            .joined(separator: " ")
    }
}
