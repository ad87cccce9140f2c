import PowerABI

/// One call (or event) in the machine's trace.
public struct TraceRecord: Hashable, Sendable {
    /// Position in the trace, from 0, in the order calls started.
    public let sequence: Int
    /// Nesting: 0 for a call a vCPU made, 1 for a call the firmware made while
    /// handling it, and so on.
    public let depth: Int
    /// `sc 1`, `sc 2`, a reflection or an event.
    public let level: CallLevel
    /// Who made the call, with the MSR the router checked.
    public let caller: Caller
    /// The number in r3 (the opcode).
    public let number: UInt64
    /// The opcode's C name, e.g. `UV_SHARE_PAGE`.
    public let name: String
    /// The argument registers from r4 up (for `UV_RETURN`: r0 first, then r4–r12).
    public let arguments: [UInt64]
    /// r3 after the call, as a signed status.
    public internal(set) var result: Int64
    /// Output registers from r4 up that the call defines (e.g. `H_RANDOM`'s r4).
    public internal(set) var outputs: [UInt64]
    /// Simulated time when the call started, in nanoseconds.
    public let startTime: UInt64
    /// Simulated time when it returned.
    public internal(set) var endTime: UInt64
    /// Remarks: an injected fault, where the real firmware would differ, and so on.
    public internal(set) var notes: [String]

    /// The status's C name at this level, e.g. `U_P2` or `H_PARAMETER`.
    public var statusName: String { CallSignature.statusName(level: level, status: result) }

    /// One JSON object, keys in a fixed order, no trailing newline.
    public var jsonLine: String {
        var s = "{\"seq\":\(sequence),\"depth\":\(depth),\"level\":\"\(level.rawValue)\""
        s += ",\"caller\":\"\(caller.kind.rawValue)\""
        s += ",\"vcpu\":" + (caller.vcpu.map(String.init) ?? "null")
        let p = caller.privilege
        s += ",\"S\":\(p.isSecure ? 1 : 0),\"HV\":\(p.isHypervisor ? 1 : 0),\"PR\":\(p.isProblem ? 1 : 0)"
        s += ",\"opcode\":\(Self.quote(name)),\"number\":\"0x\(String(number, radix: 16))\""
        s += ",\"args\":[" + arguments.map { "\"0x\(String($0, radix: 16))\"" }.joined(separator: ",") + "]"
        s += ",\"result\":\(result),\"status\":\(Self.quote(statusName))"
        s += ",\"outputs\":[" + outputs.map { "\"0x\(String($0, radix: 16))\"" }.joined(separator: ",") + "]"
        s += ",\"start_ns\":\(startTime),\"end_ns\":\(endTime)"
        s += ",\"notes\":[" + notes.map(Self.quote).joined(separator: ",") + "]}"
        return s
    }

    /// `text` as a JSON string literal, quotes included.
    public static func quote(_ text: String) -> String {
        var out = "\""
        for u in text.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
