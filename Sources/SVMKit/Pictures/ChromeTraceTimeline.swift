@_spi(Firmware) import PEFMachine

/// A machine's trace as Chrome trace-event JSON, to open in Perfetto
/// (ui.perfetto.dev) or `chrome://tracing`: one lane per vCPU for the calls guest
/// code makes, one for the Ultravisor's own calls and one for the hypervisor's, each
/// call a complete ("X") event on simulated time with its arguments and status.
public enum ChromeTraceTimeline {
    /// Lane ids: vCPU n is n; the firmware lanes come after the largest vCPU count.
    static let ultravisorLane = 100_000
    static let hypervisorLane = 100_001

    /// The JSON document for `records`.
    public static func json(_ records: [TraceRecord], processName: String = "SVMKit guest") -> String {
        var events: [String] = []
        var vcpus = Set<Int>()
        for r in records {
            let lane: Int
            switch r.caller.kind {
            case .ultravisor: lane = ultravisorLane
            case .hypervisor: lane = hypervisorLane
            default:
                lane = r.caller.vcpu ?? 0
                vcpus.insert(lane)
            }
            let ts = Double(r.startTime) / 1000
            let dur = max(Double(r.endTime &- r.startTime) / 1000, 0.001)
            let args = r.arguments.prefix(6).enumerated().map { "\"r\($0.offset + 4)\":\"0x\(String($0.element, radix: 16))\"" }
            var argText = args + ["\"status\":\(JSONText.quote(r.statusName))", "\"level\":\"\(r.level.rawValue)\""]
            if !r.notes.isEmpty { argText.append("\"notes\":" + JSONText.quote(r.notes.joined(separator: "; "))) }
            events.append(
                "{\"name\":\(JSONText.quote(r.name)),\"cat\":\"\(r.level.rawValue)\",\"ph\":\"X\",\"pid\":1,\"tid\":\(lane),"
                    + "\"ts\":\(ts),\"dur\":\(dur),\"args\":{\(argText.joined(separator: ","))}}")
        }
        var meta = ["{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\(JSONText.quote(processName))}}"]
        for v in vcpus.sorted() {
            meta.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(v),\"args\":{\"name\":\"vCPU \(v) (guest)\"}}")
        }
        meta.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(ultravisorLane),\"args\":{\"name\":\"Ultravisor\"}}")
        meta.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":\(hypervisorLane),\"args\":{\"name\":\"Hypervisor\"}}")
        return "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n" + (meta + events).joined(separator: ",\n") + "\n]}\n"
    }
}
