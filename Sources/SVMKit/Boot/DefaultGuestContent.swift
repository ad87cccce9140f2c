import ESM

/// The kernel, initrd and secrets SVMKit makes when a boot is given none.
///
/// The kernel is not a real vmlinux (SVMKit's guest kernel is Swift code that models
/// Linux); it is a deterministic image whose bytes the Ultravisor hashes exactly as
/// it would hash `objcopy -O binary` output (reference/ultravisor-facts.md §3.4).
public enum DefaultGuestContent {
    /// Size of the default kernel image: 1 MiB.
    public static let kernelSize = 1 << 20

    /// A deterministic 1 MiB kernel image with a readable banner.
    public static func kernel() -> [UInt8] {
        var bytes = Array("SVMKit simulated pseries kernel (models Linux prom_init and the pseries SVM code)\n".utf8)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        bytes.reserveCapacity(kernelSize)
        while bytes.count < kernelSize {
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            withUnsafeBytes(of: x.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(kernelSize))
    }

    /// A small initramfs: a newc cpio with `init` and `etc/crypttab` (which names the
    /// `rootd` key the way the Ubuntu keyscript reads it, reference §4.5).
    public static func initrd() -> [UInt8] {
        let initScript = """
            #!/bin/sh
            # SVMKit's simulated initramfs: the root key comes from the ESM blob.
            /opt/ibm/pef/bin/esmb-get-file -f rootd > /run/rootd.key
            exec switch_root /sysroot /sbin/init

            """
        let entries = [
            CPIOEntry(name: ".", inode: 1, mode: CPIOEntry.directoryMode, linkCount: 2),
            CPIOEntry(name: "etc", inode: 2, mode: CPIOEntry.directoryMode, linkCount: 2),
            CPIOEntry(name: "etc/crypttab", inode: 3, data: Array("root /dev/vda2 none luks,keyscript=pef_svm_keyscript\n".utf8)),
            CPIOEntry(name: "init", inode: 4, mode: 0o100755, data: Array(initScript.utf8)),
        ]
        return (try? CPIOArchive.write(entries)) ?? []
    }

    /// A fresh random disk passphrase for the `rootd` attachment (hex text, 32 bytes of entropy).
    public static func rootPassphrase() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) }
        return Array(ESMHex.encode(bytes).utf8)
    }
}
