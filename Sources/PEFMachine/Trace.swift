import PowerABI
import Locking

/// Every call the machine routed: caller and privilege, level and nesting, opcode,
/// arguments, result and simulated time; plus running counts per opcode.
///
/// - Counts per opcode are always kept, cheaply.
/// - Records are kept in memory while ``recordsDetail`` is on, up to ``recordLimit``
///   (later ones are counted in ``droppedRecords``). Turn detail off for very long runs
///   such as a 64 GiB boot (a million page-ins): a kept record costs a few hundred bytes.
/// - A sink (``setSink(_:)``) receives every record as it completes, whatever the
///   detail setting and the limit: the way to stream a long run to a JSON-lines file.
///   Records complete in the order calls return (a nested call before its parent);
///   ``TraceRecord/sequence`` gives the order in which they started.
public final class Trace: Sendable {
    /// Where a completed record goes.
    public typealias Sink = @Sendable (TraceRecord) -> Void

    private struct State: Sendable {
        var records: [TraceRecord] = []
        /// Records begun but not ended, when they are not kept in `records`.
        var open: [Int: TraceRecord] = [:]
        var nextSequence = 0
        var dropped = 0
        var recordsDetail: Bool
        var recordLimit: Int
        var sink: Sink?
        /// Calls per (level, number).
        var counts: [CountKey: Int] = [:]
    }

    private struct CountKey: Hashable, Sendable {
        let ultracall: Bool
        let number: UInt64
    }

    /// How `end` finds the record `begin` made.
    enum Token {
        /// Index into the kept records.
        case kept(Int)
        /// Sequence number of an open record that only the sink will see.
        case streamed(Int)
    }

    private let state: Lock<State>

    /// An empty trace.
    public init(recordsDetail: Bool = true, recordLimit: Int = 1 << 20) {
        state = Lock(State(recordsDetail: recordsDetail, recordLimit: max(0, recordLimit)))
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

    /// Sends every completed record to `sink` from now on (`nil` stops it). The sink runs
    /// under the trace's lock: keep it short (append to a buffer, write a line), and do
    /// not make calls from it.
    public func setSink(_ sink: Sink?) { state.withLock { $0.sink = sink } }

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

    /// Starts a record.
    func begin(
        level: CallLevel, caller: Caller, depth: Int, number: UInt64, arguments: @autoclosure () -> [UInt64],
        time: UInt64
    ) -> Token? {
        state.withLock { s in
            if level == .sc1 || level == .sc2 {
                s.counts[CountKey(ultracall: level == .sc2, number: number), default: 0] += 1
            }
            let sequence = s.nextSequence
            s.nextSequence += 1
            let keep = s.recordsDetail && s.records.count < s.recordLimit
            if s.recordsDetail && !keep { s.dropped += 1 }
            guard keep || s.sink != nil else { return nil }
            let record = TraceRecord(
                sequence: sequence, depth: depth, level: level, caller: caller, number: number,
                name: CallSignature.name(level: level, number: number), arguments: arguments(), result: 0,
                outputs: [], startTime: time, endTime: time, notes: [])
            if keep {
                s.records.append(record)
                return .kept(s.records.count - 1)
            }
            s.open[sequence] = record
            return .streamed(sequence)
        }
    }

    /// Completes a record.
    func end(_ token: Token?, result: Int64, outputs: @autoclosure () -> [UInt64], time: UInt64, notes: [String]) {
        guard let token else { return }
        state.withLock { s in
            func complete(_ r: inout TraceRecord) {
                r.result = result
                r.outputs = outputs()
                r.endTime = time
                r.notes += notes
            }
            switch token {
            case .kept(let index):
                guard s.records.indices.contains(index) else { return }
                complete(&s.records[index])
                s.sink?(s.records[index])
            case .streamed(let sequence):
                guard var r = s.open.removeValue(forKey: sequence) else { return }
                complete(&r)
                s.sink?(r)
            }
        }
    }

    /// Adds an event record (not a call): a page fault, a kill, a firmware remark.
    public func event(_ name: String, caller: Caller, depth: Int = 0, time: UInt64, note: String) {
        state.withLock { s in
            let sequence = s.nextSequence
            s.nextSequence += 1
            let keep = s.recordsDetail && s.records.count < s.recordLimit
            if s.recordsDetail && !keep { s.dropped += 1 }
            guard keep || s.sink != nil else { return }
            let record = TraceRecord(
                sequence: sequence, depth: depth, level: .event, caller: caller, number: 0, name: name,
                arguments: [], result: 0, outputs: [], startTime: time, endTime: time, notes: [note])
            if keep { s.records.append(record) }
            s.sink?(record)
        }
    }

    /// The kept records as JSON lines, one object per line.
    public func jsonLines() -> String {
        let kept = records
        return kept.map(\.jsonLine).joined(separator: "\n") + (kept.isEmpty ? "" : "\n")
    }

    /// Forgets every record and count.
    public func clear() {
        state.withLock { s in
            s.records.removeAll()
            s.open.removeAll()
            s.counts.removeAll()
            s.dropped = 0
            s.nextSequence = 0
        }
    }
}
