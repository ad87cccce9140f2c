import SecureGuest
import Testing

/// The kernel log: dmesg's line format and the ring buffer's bound.
@Suite("Kernel log")
struct KernelLogTests {
    @Test("Lines print as dmesg does: seconds padded to 5, microseconds to 6")
    func dmesgFormat() {
        var log = KernelLog()
        log.print("Switching to secure mode.\nsecond line", at: 0.000123)
        #expect(log.lines.map(\.description) == ["[    0.000123] Switching to secure mode.", "[    0.000123] second line"])
        #expect(log.droppedLines == 0)
    }

    @Test("Past its capacity the log drops the oldest lines, counts them, and keeps the newest")
    func boundedLikeTheRingBuffer() {
        var log = KernelLog(capacityBytes: 1000)
        for i in 0..<500 { log.print("message \(i)", at: Double(i)) }  // 10–12 bytes each with the newline
        let kept = log.lines.reduce(0) { $0 + $1.message.utf8.count + 1 }
        #expect(kept <= 1000)
        #expect(log.lines.count + log.droppedLines == 500)
        #expect(log.droppedLines > 400)
        #expect(log.lines.last?.message == "message 499")
        #expect(log.lines.first?.message == "message \(log.droppedLines)")
        #expect(!log.contains("message 0\n") && !log.lines.contains { $0.message == "message 0" })
    }

    @Test("A single line longer than the capacity is still kept")
    func oversizedLine() {
        var log = KernelLog(capacityBytes: 8)
        log.print("a much longer line than eight bytes", at: 1)
        log.print("another long line", at: 2)
        #expect(log.lines.map(\.message) == ["another long line"])
        #expect(log.droppedLines == 1)
    }
}
