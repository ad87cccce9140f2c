import PowerABI
import Synchronization

/// Every call the machine routed: caller and privilege, level and nesting, opcode,
/// arguments, result and simulated time; plus running counts per opcode.
///
/// Detailed records can be turned off (``recordsDetail``) for very long runs such as a
/// 64 GiB boot; counts are always kept. Records past ``recordLimit`` are dropped and
/// counted in ``droppedRecords``.
public final class Trace: Sendable {
    private struct State: Sendable {
        var records: [TraceRecord] = []
        var nextSequence = 0
        var dropped = 0
        var recordsDetail: Bool
        var recordLimit: Int
        /// Calls per (level, number).
        var counts: [CountKey: Int] = [:]
    }

    private struct CountKey: Hashable, Sendable {
        let ultracall: Bool
        let number: UInt64
    }

    private let state: Mutex<State>

    /// An empty trace.
    public init(recordsDetail: Bool = true, recordLimit: Int = 1 << 20) {
        state = Mutex(State(recordsDetail: recordsDetail, recordLimit: max(0, recordLimit)))
    }

    /// Whether calls are kept as ``TraceRecord``s (counts are kept either way).
    public var recordsDetail: Bool {
        get { state.withLock { $0.recordsDetail } }
        set { state.withLock { $0.recordsDetail = newValue } }
    }

    /// The most records kept.
    public var recordLimit: Int { state.withLock { $0.recordLimit } }

    /// Records dropped because the limit was reached.
    public var droppedRecords: Int { state.withLock { $0.dropped } }

    /// The kept records, in the order calls started.
    public var records: [TraceRecord] { state.withLock { $0.records } }

    /// How many `sc 1` and `sc 2` calls each opcode got, by C name (reflections and
    /// events are not calls and are not counted).
    public var counts: [String: Int] {
        state.withLock { s in
            var out: [String: Int] = [:]
            for (key, n) in s.counts {
                out[CallSignature.name(level: key.ultracall ? .sc2 : .sc1, number: key.number), default: 0] += n
            }
            return out
        }
    }

    /// The number of calls to the opcode with this C name.
    public func count(of name: String) -> Int { counts[name] ?? 0 }

    /// The number of `sc 1` and `sc 2` calls in total.
    public var totalCalls: Int { state.withLock { $0.counts.values.reduce(0, +) } }

    /// Starts a record; returns its index among the kept records, if kept.
    func begin(
        level: CallLevel, caller: Caller, depth: Int, number: UInt64, arguments: @autoclosure () -> [UInt64],
        time: UInt64
    ) -> Int? {
        state.withLock { s in
            if level == .sc1 || level == .sc2 {
                s.counts[CountKey(ultracall: level == .sc2, number: number), default: 0] += 1
            }
            let sequence = s.nextSequence
            s.nextSequence += 1
            guard s.recordsDetail else { return nil }
            guard s.records.count < s.recordLimit else {
                s.dropped += 1
                return nil
            }
            s.records.append(
                TraceRecord(
                    sequence: sequence, depth: depth, level: level, caller: caller, number: number,
                    name: CallSignature.name(level: level, number: number), arguments: arguments(), result: 0,
                    outputs: [], startTime: time, endTime: time, notes: []))
            return s.records.count - 1
        }
    }

    /// Completes a record.
    func end(_ index: Int?, result: Int64, outputs: @autoclosure () -> [UInt64], time: UInt64, notes: [String]) {
        guard let index else { return }
        state.withLock { s in
            guard s.records.indices.contains(index) else { return }
            s.records[index].result = result
            s.records[index].outputs = outputs()
            s.records[index].endTime = time
            s.records[index].notes += notes
        }
    }

    /// Adds an event record (not a call): a page fault, a kill, a firmware remark.
    public func event(_ name: String, caller: Caller, depth: Int = 0, time: UInt64, note: String) {
        state.withLock { s in
            let sequence = s.nextSequence
            s.nextSequence += 1
            guard s.recordsDetail else { return }
            guard s.records.count < s.recordLimit else {
                s.dropped += 1
                return
            }
            s.records.append(
                TraceRecord(
                    sequence: sequence, depth: depth, level: .event, caller: caller, number: 0, name: name,
                    arguments: [], result: 0, outputs: [], startTime: time, endTime: time, notes: [note]))
        }
    }

    /// The kept records as JSON lines, one object per line.
    public func jsonLines() -> String {
        records.map(\.jsonLine).joined(separator: "\n") + (records.isEmpty ? "" : "\n")
    }

    /// Forgets every record and count.
    public func clear() {
        state.withLock { s in
            s.records.removeAll()
            s.counts.removeAll()
            s.dropped = 0
            s.nextSequence = 0
        }
    }
}
