#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seeds a target makes itself, for inputs a person cannot write by hand (blobs
/// sealed with the target's fixed key, recorded TPM sessions, encoded call scripts).
///
/// Called from `LLVMFuzzerInitialize`: when the environment variable
/// `SVMKIT_FUZZ_WRITE_SEEDS` names a directory, writes each seed there as a file and
/// exits; otherwise does nothing. `Scripts/fuzz TARGET --write-seeds` sets it to
/// `Fuzz/Corpus/TARGET`.
public func fuzzWriteSeedsIfAsked(_ make: () -> [(name: String, bytes: [UInt8])]) {
    guard let dir = getenv("SVMKIT_FUZZ_WRITE_SEEDS").map({ String(cString: $0) }), !dir.isEmpty else { return }
    for seed in make() {
        let path = dir + "/" + seed.name
        guard let file = fopen(path, "wb") else { fuzzFail("cannot write seed \(path)") }
        _ = seed.bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    exit(0)
}

/// The signature of `LLVMFuzzerInitialize`'s `argv`.
public typealias FuzzArgv = UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
