import DeviceTree

extension ESMBlob {
    /// svm-tool's validator (`valid_esm` in `svm_tool/esm/esm.py`), which every svm-tool
    /// command except `create` runs first (reference/ultravisor-facts.md §3.1):
    ///
    /// - the root has only the property `compatible`, equal to `"ibm,esm"`, and only the
    ///   nodes `lockboxes`, `digest` and `file`, all three required;
    /// - `/lockboxes` holds `origin-lockbox` (required) and `lockbox-N` (N ≥ 1); each has
    ///   exactly `untrusted-comment` and `encrypted-symkey` and one subnode
    ///   `pubkey-fingerprint` with exactly `algorithm` = `"SHA256"` and `hash`;
    /// - `/digest` is not checked;
    /// - each subnode of `/file` (there are none in blobs the tool makes now) must have a
    ///   valid name and exactly `algorithm` = `"AES256-GCM"`, `ciphertext`, `iv`, `mac`
    ///   and `untrusted-comment` without a newline.
    ///
    /// svm-tool's messages are kept ("missing node: origin-lockbox"), prefixed with the path.
    /// - Throws: `.invalidBlob` for the first rule broken.
    public static func validate(_ tree: DeviceTree) throws(ESMError) {
        func invalid(_ path: String, _ what: String) -> ESMError { ESMError(.invalidBlob, "\(path): \(what)") }
        func props(_ path: String) throws(ESMError) -> [DeviceTreeProperty] {
            do { return try tree.properties(at: path) } catch { throw ESMError.fdt(error, path) }
        }
        func nodes(_ path: String) throws(ESMError) -> [String] {
            do { return try tree.subnodes(of: path) } catch { throw ESMError.fdt(error, path) }
        }
        func str(_ p: DeviceTreeProperty, at path: String) throws(ESMError) -> String {
            guard let last = p.value.last, last == 0, !p.value.dropLast().contains(0) else {
                throw invalid(path, "\(p.name) is not a NUL-terminated string")
            }
            return String(decoding: p.value.dropLast(), as: UTF8.self)
        }
        /// Checks the exact property set of a node.
        func exactProperties(_ path: String, _ allowed: [String]) throws(ESMError) -> [String: DeviceTreeProperty] {
            var found: [String: DeviceTreeProperty] = [:]
            for p in try props(path) {
                guard allowed.contains(p.name) else { throw invalid(path, "unexpected property: \(p.name)") }
                found[p.name] = p
            }
            for name in allowed where found[name] == nil { throw invalid(path, "missing property: \(name)") }
            return found
        }

        // Root.
        let root = try exactProperties("/", ["compatible"])
        if let c = root["compatible"] {
            let value = try str(c, at: "/")
            guard value == "ibm,esm" else { throw invalid("/", "compatible is invalid: \(value)") }
        }
        let rootNodes = try nodes("/")
        for n in rootNodes where !["lockboxes", "digest", "file"].contains(n) {
            throw invalid("/", "unexpected node: \(n)")
        }
        for n in ["lockboxes", "digest", "file"] where !rootNodes.contains(n) {
            throw invalid("/", "missing node: \(n)")
        }

        // Lockboxes.
        var sawOrigin = false
        for name in try nodes(lockboxesPath) {
            let path = lockboxesPath + "/" + name
            if name == "origin-lockbox" {
                sawOrigin = true
            } else if ESMLockbox.number(ofLockboxNamed: name) == nil {
                throw invalid(lockboxesPath, "lockbox name is invalid: \(name)")
            }
            _ = try exactProperties(path, ["untrusted-comment", "encrypted-symkey"])
            let subs = try nodes(path)
            for s in subs where s != "pubkey-fingerprint" { throw invalid(path, "unexpected node: \(s)") }
            guard subs.contains("pubkey-fingerprint") else { throw invalid(path, "missing node: pubkey-fingerprint") }
            let fpPath = path + "/pubkey-fingerprint"
            let fp = try exactProperties(fpPath, ["algorithm", "hash"])
            if let a = fp["algorithm"] {
                let value = try str(a, at: fpPath)
                guard value == "SHA256" else { throw invalid(fpPath, "unsupported hash algorithm: \(value)") }
            }
        }
        guard sawOrigin else { throw invalid(lockboxesPath, "missing node: origin-lockbox") }

        // Files directly under /file (the layout README.ESM describes).
        for name in try nodes(filePath) {
            let path = filePath + "/" + name
            guard ESMFilesFDT.isValidName(name) else { throw invalid(filePath, "file name is invalid: \(name)") }
            let fp = try exactProperties(path, ["algorithm", "ciphertext", "iv", "mac", "untrusted-comment"])
            if let a = fp["algorithm"] {
                let value = try str(a, at: path)
                guard value == ESMSealedItem.aes256GCM else { throw invalid(path, "unsupported symmetric algorithm: \(value)") }
            }
            if let c = fp["untrusted-comment"], try str(c, at: path).contains("\n") {
                throw invalid(path, "comment is invalid: contains a newline")
            }
        }
    }
}
