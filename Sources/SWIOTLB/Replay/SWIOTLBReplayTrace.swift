#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// A recorded SWIOTLB request stream: one or more scenarios, each a pool and the map
/// and unmap requests made against it, in order.
///
/// The JSON form is either one scenario object or `{"scenarios": [...]}`:
///
/// ```json
/// {"pool": {"start": "0x4000000", "nslabs": 32768, "nareas": 4, "page_size": 65536},
///  "ops": [
///    {"op": "map", "id": 1, "orig_addr": "0x9000800", "size": 4096,
///     "alloc_align_mask": 0, "min_align_mask": "0xfff", "seg_boundary_mask": "0xffffffff", "cpu": 2},
///    {"op": "unmap", "id": 1}
///  ]}
/// ```
///
/// Addresses, masks and ids are JSON integers or `"0x…"` strings (so that 64-bit
/// values survive tools that read numbers as doubles); unknown fields are ignored.
/// The same file is read by `SWIOTLBReplayer` (SVMKit's allocators) and by
/// `Scripts/linux-oracle replay` (the real `kernel/dma/swiotlb.c` compiled on the
/// host), so a stream recorded anywhere can be checked against both.
public struct SWIOTLBReplayTrace: Sendable, Hashable {
    /// The scenarios, in file order.
    public var scenarios: [SWIOTLBReplayScenario]

    /// A trace of the given scenarios.
    public init(scenarios: [SWIOTLBReplayScenario]) {
        self.scenarios = scenarios
    }

    /// Decodes a trace from its JSON text and checks every scenario.
    ///
    /// - Throws: ``SWIOTLBReplayError`` naming the scenario and operation index of the
    ///   first malformed entry (bad JSON, a missing field, a negative or non-integer
    ///   number, an unmap of an id that no earlier map created, a pool Linux could not
    ///   have built).
    public init(json: some Collection<UInt8>) throws(SWIOTLBReplayError) {
        let file: ReplayFile
        do {
            file = try JSONDecoder().decode(ReplayFile.self, from: Data(json))
        } catch let error as SWIOTLBReplayError {
            throw error
        } catch {
            throw .malformed(ReplayDecoding.describe(error))
        }
        for (index, scenario) in file.scenarios.enumerated() {
            try scenario.validate(index: index)
        }
        self.scenarios = file.scenarios
    }
}

/// The two top-level shapes: one scenario, or `{"scenarios": [...]}`.
private struct ReplayFile: Decodable {
    var scenarios: [SWIOTLBReplayScenario]

    enum CodingKeys: String, CodingKey { case scenarios }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.scenarios) {
            var list = try container.nestedUnkeyedContainer(forKey: .scenarios)
            var scenarios: [SWIOTLBReplayScenario] = []
            while !list.isAtEnd {
                let index = list.currentIndex
                do {
                    scenarios.append(try list.decode(SWIOTLBReplayScenario.self))
                } catch let error as SWIOTLBReplayError {
                    throw error.inScenario(index)
                } catch {
                    throw SWIOTLBReplayError.malformed("scenario \(index): \(ReplayDecoding.describe(error))")
                }
            }
            self.scenarios = scenarios
        } else {
            do {
                self.scenarios = [try SWIOTLBReplayScenario(from: decoder)]
            } catch let error as SWIOTLBReplayError {
                throw error.inScenario(0)
            }
        }
    }
}
