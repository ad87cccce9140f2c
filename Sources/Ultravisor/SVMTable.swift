/// The Ultravisor's SVM records by LPID (`get_svm(lpid)` in the firmware).
///
/// The records live in an array, found through a small LPID index, so that a record
/// can be read and changed in place through the array's own accessors: a dictionary of
/// structs copies the whole record (and retains every array and dictionary in it) on
/// each read, and `UV_PAGE_IN` reads one for every page of `H_SVM_INIT_DONE`, a
/// million times for a 64 GiB guest. Use ``access(_:_:)`` on hot paths; the subscript
/// reads a copy and changes in place.
struct SVMTable: Sendable {
    private var records: [SVMState?] = []
    private var index: [UInt64: Int] = [:]

    /// The record of `lpid`: reading gives a copy; assigning or mutating through
    /// optional chaining (`table[lpid]?.field = x`) changes it in place; assigning `nil`
    /// removes it.
    subscript(lpid: UInt64) -> SVMState? {
        get { index[lpid].flatMap { records[$0] } }
        set {
            if let i = index[lpid] {
                records[i] = newValue
                if newValue == nil { index[lpid] = nil }
            } else if let newValue {
                insert(newValue, lpid: lpid)
            }
        }
        _modify {
            if let i = index[lpid] {
                yield &records[i]
                if records[i] == nil { index[lpid] = nil }
            } else {
                var created: SVMState?
                yield &created
                if let created { insert(created, lpid: lpid) }
            }
        }
    }

    /// Runs `body` on the record of `lpid` in place (no copy), or returns `nil` if
    /// there is none.
    mutating func access<R>(_ lpid: UInt64, _ body: (inout SVMState) -> R) -> R? {
        guard let i = index[lpid] else { return nil }
        return records[i]?.inPlace(body)
    }

    /// Removes the record of `lpid` and returns it.
    @discardableResult
    mutating func removeValue(forKey lpid: UInt64) -> SVMState? {
        guard let i = index.removeValue(forKey: lpid) else { return nil }
        let old = records[i]
        records[i] = nil
        return old
    }

    private mutating func insert(_ record: SVMState, lpid: UInt64) {
        if let hole = records.firstIndex(where: { $0 == nil }) {
            records[hole] = record
            index[lpid] = hole
        } else {
            index[lpid] = records.count
            records.append(record)
        }
    }
}

extension SVMState {
    /// `body` on this record, for ``SVMTable/access(_:_:)`` (reached through optional
    /// chaining on the array element, which the compiler does in place).
    fileprivate mutating func inPlace<R>(_ body: (inout SVMState) -> R) -> R { body(&self) }
}
