import FuzzSupport
import SVMKit

/// libFuzzer's entry point for the `tpm-response` target. The first byte picks the
/// mode (modulo 2):
///
/// - 0: the Ultravisor's lockbox unwrap (``TPMLockboxUnwrapper``, which drives
///   ``TPMClient``) against a TPM that answers with the input: a wrapping-key
///   configuration and cipher text (TPM2B fields: handle, password, public name,
///   policy-a, policy-b, encrypted-symkey), then one TPM2B response per command.
///   Caller nonces are fixed, so a recorded session replays through the response
///   HMAC check.
/// - 1: the rest is one command for the embedded ``SoftwareTPM``.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTPMResponse(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    TPMResponseFuzzer.run(FuzzInput.copy(data, size))
    return 0
}

/// Writes the seeds (`Scripts/fuzz tpm-response --write-seeds`).
@_cdecl("LLVMFuzzerInitialize")
public func fuzzTPMResponseInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: FuzzArgv?) -> Int32 {
    fuzzWriteSeedsIfAsked(TPMResponseFuzzer.seeds)
    return 0
}

/// What the `tpm-response` target checks: whatever the TPM answers, the client and
/// the unwrapper return or throw their typed ``TPMError``, never crash, and the
/// unwrapper flushes the session it started (its FlushContext is the last command
/// when StartAuthSession succeeded); the software TPM answers any command with a
/// well-formed response or a typed transport error.
enum TPMResponseFuzzer {
    /// Deterministic caller nonces.
    static func nonces(_ n: Int) -> [UInt8] { [UInt8](repeating: 0x5A, count: n) }

    /// The wrapping key, made once per process.
    static let keyPEM: String = {
        do { return try TPMProvisioning.generateKeyPEM() } catch { fuzzFail("key generation: \(error)") }
    }()

    /// A freshly provisioned software TPM (a fixed seed makes its nonces deterministic).
    static func provision() -> (tpm: SoftwareTPM, configuration: TPMWrappingKeyConfiguration) {
        do {
            return try TPMProvisioning.provision(keyPEM: keyPEM, authValue: Array("fuzz-password".utf8), seed: 8)
        } catch {
            fuzzFail("provisioning the software TPM: \(error)")
        }
    }

    static func run(_ input: [UInt8]) {
        guard let mode = input.first else { return }
        if mode % 2 == 1 {
            checkSoftwareTPM(Array(input.dropFirst()))
            return
        }
        guard let (result, commands) = unwrap(Array(input.dropFirst())) else { return }
        if case .failure(let e) = result { fuzzRequire(!e.description.isEmpty, "TPMError without a description") }
        // Commands: ReadPublic, StartAuthSession, then (if a session started) up to
        // four more and always FlushContext last.
        let codes = commands.compactMap { $0.count >= 10 ? UInt32($0[6]) << 24 | UInt32($0[7]) << 16 | UInt32($0[8]) << 8 | UInt32($0[9]) : nil }
        if codes.count > 2 {
            fuzzRequire(codes.last == TPMCommandCode.flushContext.rawValue,
                "the unwrapper started a session and did not flush it last: \(codes.map { String($0, radix: 16) })")
        }
        if case .success = result { fuzzRequire(codes.count == 7, "an unwrap succeeded after \(codes.count) commands") }
    }

    /// Runs the unwrap over a mode-0 input (without its mode byte): the result and the
    /// commands sent, or `nil` when the input is too short for a configuration.
    static func unwrap(_ input: [UInt8]) -> (Result<[UInt8], TPMError>, [[UInt8]])? {
        var r = TPMReader(input)
        guard let handle = try? r.u32("handle"), let password = try? r.tpm2b("password"),
              let name = try? r.tpm2b("name"), let policyA = try? r.tpm2b("policyA"),
              let policyB = try? r.tpm2b("policyB"), let cipher = try? r.tpm2b("cipher")
        else { return nil }
        let configuration = TPMWrappingKeyConfiguration(
            handle: handle, password: password, publicName: name, policyA: policyA, policyB: policyB)
        var commands: [[UInt8]] = []
        let transport: TPMClient.Transport = { command in
            commands.append(command)
            guard let response = try? r.tpm2b("response") else { throw TPMTransportError("no more responses") }
            return response
        }
        let result: Result<[UInt8], TPMError>
        do {
            result = .success(try TPMLockboxUnwrapper(configuration: configuration).unwrap(cipher, transport: transport, randomBytes: nonces))
        } catch {
            result = .failure(error)
        }
        return (result, commands)
    }

    static func checkSoftwareTPM(_ command: [UInt8]) {
        let tpm = provision().tpm
        do {
            let response = try tpm.execute(command)
            var r = TPMReader(response)
            let tag = try? r.u16("tag"), size = try? r.u32("size"), _ = try? r.u32("rc")
            fuzzRequire(tag != nil && size.map(Int.init) == response.count, "a software TPM response with a bad header")
        } catch {
            fuzzRequire(!error.description.isEmpty, "TPMTransportError without a reason")
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let (tpm, c) = provision()
        let cipher: [UInt8]
        do { cipher = try tpm.encryptToKey((1...32).map { UInt8($0) }) } catch { fuzzFail("seed cipher: \(error)") }
        func header(_ c: TPMWrappingKeyConfiguration, cipher: [UInt8]) -> [UInt8] {
            var w = TPMWriter()
            w.u32(c.handle)
            for f in [c.password, c.publicName, c.policyA, c.policyB, cipher] { w.tpm2b(f) }
            return w.bytes
        }
        var recorded = TPMWriter()
        let transport: TPMClient.Transport = { command in
            let response = try tpm.execute(command)
            recorded.tpm2b(response)
            return response
        }
        do {
            _ = try TPMLockboxUnwrapper(configuration: c).unwrap(cipher, transport: transport, randomBytes: nonces)
        } catch {
            fuzzFail("recording an unwrap: \(error)")
        }
        let good = [0] + header(c, cipher: cipher) + recorded.bytes
        guard case .success(let key)? = unwrap(Array(good.dropFirst()))?.0, key == (1...32).map({ UInt8($0) }) else {
            fuzzFail("the recorded session does not replay to the master key")
        }
        var wrongName = c
        wrongName.publicName = [0, 11] + [UInt8](repeating: 0xEE, count: 32)
        var getRandom = TPMWriter()
        getRandom.u16(16)
        return [
            ("unwrap-recorded", good),
            ("unwrap-wrong-name", [0] + header(wrongName, cipher: cipher) + recorded.bytes),
            ("command-getrandom", [1] + TPMClient.command(.getRandom, parameters: getRandom.bytes)),
            ("command-readpublic", [1] + TPMClient.command(.readPublic, handles: [c.handle])),
        ]
    }
}
