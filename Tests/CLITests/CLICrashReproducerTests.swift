import Foundation
import Testing

/// Issue 19 item 1: every way the CLI trapped on input, run as a subprocess. Each must
/// now end with a clean exit (2 for bad input, 1 for output lost), a message naming the
/// input, and no signal. (Before the fix each ended with SIGILL or SIGABRT.)
@Suite("svmkit: no trap reachable from input")
struct CLICrashReproducerTests {
    /// One reproducer: a shell line (`$SVMKIT` is the binary), the expected exit code,
    /// and text the message must contain.
    struct Case: CustomTestStringConvertible, Sendable {
        var script: String
        var status: Int32
        var message: String
        var testDescription: String { script }
    }

    static let cases: [Case] = [
        // Arithmetic overflow on addresses near 2^64 (BootImageBuilder).
        Case(script: "\"$SVMKIT\" boot --kbase 0xFFFFFFFFFFFF0000 --memory 1G --cpus 1", status: 2, message: "--kbase 0xffffffffffff0000"),
        // The same through a tree's /chosen/qemu,boot-kernel.
        Case(
            script: """
                "$SVMKIT" fdt pseries --memory 1G --cpus 1 --format dts \
                  | sed 's|bootargs = "console=hvc0";|bootargs = "svm=on console=hvc0"; qemu,boot-kernel = <0xffffffff 0xffff0000 0x00 0x1000>;|' > t.dts \
                  && dtc -q -I dts -O dtb -o t.dtb t.dts && "$SVMKIT" boot --fdt t.dtb
                """, status: 2, message: "--fdt /chosen/qemu,boot-kernel 0xffffffffffff0000"),
        // Foundation's non-throwing reads: stdin closed, and an endless input.
        Case(script: "\"$SVMKIT\" fdt dump - <&-", status: 2, message: "standard input is closed"),
        Case(script: "\"$SVMKIT\" fdt dump /dev/zero", status: 2, message: "/dev/zero: input larger than 64 MiB"),
        Case(script: "\"$SVMKIT\" boot --kernel /dev/zero", status: 2, message: "--kernel /dev/zero: input larger than 768 MiB"),
        // Foundation's non-throwing writes: a full or closed standard output, a closed standard error.
        Case(script: "\"$SVMKIT\" fdt pseries --memory 1G --format dts >/dev/full", status: 1, message: "standard output: No space left on device"),
        Case(script: "\"$SVMKIT\" fdt pseries --memory 1G --format dts >&-", status: 1, message: "standard output is closed"),
        // swift-crypto 3.12.3 freed a rejected RSA public key twice (SIGABRT).
        Case(script: ": > empty.pem; \"$SVMKIT\" esm create --origin empty.pem -o b.dtb", status: 2, message: "empty.pem"),
        Case(script: "printf garbage > g.bin; \"$SVMKIT\" esm create --origin g.bin -o b.dtb", status: 2, message: "g.bin"),
        Case(
            script: "\"$SVMKIT\" esm keygen -o k --name o >/dev/null && sed '/^-----/d' k/o-seckey.pem | base64 -d > k/o.der && \"$SVMKIT\" esm create --origin k/o.der -o b.dtb",
            status: 2, message: "k/o.der"),
        Case(script: authorizeScript("cert.pem", convert: ""), status: 2, message: "cert.pem"),
        Case(script: authorizeScript("cert.der", convert: "sed '/^-----/d' cert.pem | base64 -d > cert.der && "), status: 2, message: "cert.der"),
        // A replay trace's power-of-two nareas times 128 overflowed (SIGILL) in replay,
        // advise and boot --dma-replay alike (found by the fuzz2 sweep).
        Case(script: "\(hugeAreas) \"$SVMKIT\" swiotlb replay t.json", status: 2, message: "t.json: replay trace: scenario 0: pool: nareas 4611686018427387904"),
        Case(script: "\(hugeAreas) \"$SVMKIT\" swiotlb advise t.json", status: 2, message: "t.json: replay trace: scenario 0: pool: nareas"),
        Case(script: "\(hugeAreas) \"$SVMKIT\" boot --dma-replay t.json", status: 2, message: "--dma-replay t.json: replay trace: scenario 0: pool: nareas"),
    ]

    /// Writes t.json: a replay trace whose pool has 2^62 areas.
    static let hugeAreas =
        #"printf '{"pool": {"start": 0, "nslabs": 256, "nareas": 4611686018427387904}, "ops": []}' > t.json &&"#

    /// `esm authorize --pubkey CERTIFICATE` on a fresh blob.
    static func authorizeScript(_ file: String, convert: String) -> String {
        """
        printf '%s\\n' "$CERT" > cert.pem && \(convert)"$SVMKIT" esm keygen -o k --name o >/dev/null \
          && "$SVMKIT" esm create --origin k/o-pubkey.pem -o b.dtb >/dev/null \
          && "$SVMKIT" esm authorize b.dtb --pubkey \(file) --key k/o-seckey.pem
        """
    }

    /// A self-signed RSA-2048 certificate (made with openssl req -x509), not a public key.
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIDDzCCAfegAwIBAgIUFf2hapDADINYhimT2NBNT/lTfXIwDQYJKoZIhvcNAQEL
        BQAwFjEUMBIGA1UEAwwLc3Zta2l0LXRlc3QwIBcNMjYxMjA0MDk1OTA5WhgPMjEy
        NjExMTAwOTU5MDlaMBYxFDASBgNVBAMMC3N2bWtpdC10ZXN0MIIBIjANBgkqhkiG
        9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1iUhXVknSLX2K+Vnp8xAht4FSTSdP1WhxIDs
        +0V86e7L7eFX3t91EP+iL8Si9OrruyJxhwVxXXbL7GUdUGMW1dIB0iL36M3qiEYC
        zJx2p3UoNlNFvw0cTzpLMdTH9dSeu/c6RjQ6aYtVgeMBkRywI4t6EDNsl9eVOuYF
        PQos7JBYm17QIXM6DX7r0j/DXmzdqY4u4SP8mcpUibTEENwx0u1xQrnJKx+EISv5
        Vcof0v1I0N+NT7viX+8t68v09ldtDxfvRUFbpx7c6Zh2dhDFrvEIdrYbHS0pQSEI
        sRiTAjC5UPBZPxNmQdnGRWP7LCbHs7PwjIt8Ud83UYMbhmEsYwIDAQABo1MwUTAd
        BgNVHQ4EFgQUxFgJShtmDZ1fwiYrjSVCe0Efd6MwHwYDVR0jBBgwFoAUxFgJShtm
        DZ1fwiYrjSVCe0Efd6MwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOC
        AQEA1Y5GiOMNvKe49zxdT8QLf2YI+n505/uCloIXlzfbiVq45uQt3FhO6yCSZ08j
        +bhXGz9VUG2pl9Ga95s9jBY0FsCrFDGqQjK+c2x9UjKi6ZZnHGE8ibUv6SNwoZox
        SKBO2OgqmCy/y3MH2YOj1/vlGOTuVwQxqmsQPGdwfTLpm2iFp6oen68u3CABXa6M
        Fih7gzt8vX4a+mNgGEcC8CHXUikZX745vNwzTHlgH151u3MjMBD54G9vOpnBmGsM
        FiJOyumKynTjGFMYkcP0r4EpdkkPG6udbtl1kLgMQXPdFFgdGHpFNDcP+Tm1jALk
        5gLwhG1kUh//gbf3jXALLbyytA==
        -----END CERTIFICATE-----
        """

    @Test("A clean exit, the message names the input, no signal", arguments: cases)
    func reproducer(_ c: Case) async throws {
        let r = try await CLIShell.run(c.script, environment: ["CERT": Self.certificate])
        #expect(!r.signalled, "\(r.summary): \(r.stderr)")
        #expect(r.status == c.status, "\(r.summary): \(r.stderr)")
        #expect(r.stderr.contains(c.message), "\(r.stderr)")
    }

    @Test("With standard error closed, a bad-input run still exits 2")
    func closedStandardError() async throws {
        let r = try await CLIShell.run("\"$SVMKIT\" fdt dump /nonexistent.dtb 2>&-; echo \"status $?\"")
        #expect(!r.signalled)
        #expect(r.stdout == "status 2\n", "\(r.stdout)")
        let boot = try await CLIShell.run("\"$SVMKIT\" boot --memory 3X 2>&-; echo \"status $?\"")
        #expect(boot.stdout == "status 2\n", "\(boot.stdout)")
    }
}
