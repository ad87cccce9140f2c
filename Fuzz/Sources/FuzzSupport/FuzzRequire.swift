#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks an invariant of the code under test. When it does not hold, prints what
/// was wrong to standard error and aborts, so libFuzzer records the input as a
/// crash (`crash-<sha1>`) exactly as it records a trap or an ASan report.
///
/// - Parameters:
///   - condition: the invariant.
///   - message: what it means when it fails, with the values involved.
@inlinable
public func fuzzRequire(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fuzzFail(message(), file: file, line: line) }
}

/// Reports a broken invariant and aborts (see ``fuzzRequire(_:_:file:line:)``).
public func fuzzFail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    let text = Array("\n==SVMKIT FUZZ INVARIANT== \(file):\(line): \(message)\n".utf8)
    text.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}
