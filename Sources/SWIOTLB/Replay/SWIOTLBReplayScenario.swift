/// One pool and the requests made against it: the unit a replay runs.
public struct SWIOTLBReplayScenario: Sendable, Hashable, Decodable {
    /// The scenario's name (`"default"` when a file holds a single unnamed scenario).
    public var name: String
    /// The pool the requests run against.
    public var pool: SWIOTLBReplayPool
    /// The requests, in order.
    public var ops: [SWIOTLBReplayOperation]

    /// A scenario with the given pool and requests.
    public init(name: String = "default", pool: SWIOTLBReplayPool, ops: [SWIOTLBReplayOperation]) {
        self.name = name
        self.pool = pool
        self.ops = ops
    }

    enum CodingKeys: String, CodingKey { case name, pool, ops }

    /// Decodes `{"name", "pool", "ops"}`; an error in an op names its index.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.name = try container.decodeIfPresent(String.self, forKey: .name) ?? "default"
        do {
            self.pool = try container.decode(SWIOTLBReplayPool.self, forKey: .pool)
        } catch {
            throw SWIOTLBReplayError.invalidPool(scenario: 0, reason: ReplayDecoding.describe(error))
        }
        var list = try container.nestedUnkeyedContainer(forKey: .ops)
        var ops: [SWIOTLBReplayOperation] = []
        while !list.isAtEnd {
            let index = list.currentIndex
            do {
                ops.append(try list.decode(SWIOTLBReplayOperation.self))
            } catch {
                throw SWIOTLBReplayError.invalidOperation(
                    scenario: 0, index: index, reason: ReplayDecoding.describe(error))
            }
        }
        self.ops = ops
    }

    /// Checks what decoding alone cannot: the pool's shape and that every unmap names
    /// the id of an earlier, still-mapped map (a map id may be reused after its unmap).
    func validate(index scenario: Int) throws(SWIOTLBReplayError) {
        if let reason = pool.problem { throw .invalidPool(scenario: scenario, reason: reason) }
        var live = Set<UInt64>()
        for (index, op) in ops.enumerated() {
            switch op {
            case .map(let map):
                guard live.insert(map.id).inserted else {
                    throw .invalidOperation(
                        scenario: scenario, index: index, reason: "map id \(map.id) is still mapped by an earlier op")
                }
                if let reason = map.problem {
                    throw .invalidOperation(scenario: scenario, index: index, reason: reason)
                }
            case .unmap(let id):
                guard live.remove(id) != nil else {
                    throw .invalidOperation(
                        scenario: scenario, index: index, reason: "unmap id \(id) names no earlier, still-mapped map")
                }
            }
        }
    }
}
