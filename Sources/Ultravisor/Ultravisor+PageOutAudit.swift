/// What an invariant checker needs to see that the hypervisor only ever got
/// ciphertext from `UV_PAGE_OUT` (issue 8 item 3; reference/ultravisor-facts.md §6
/// row 13). Not something the real firmware offers: a verification hook.
extension Ultravisor {
    /// Authenticates and decrypts `bytes` as the page-out of `frame` of `lpid`'s SVM,
    /// with the Ultravisor's own key and the IV and tag it kept for that frame.
    /// `nil` when the Ultravisor holds no page-out of that frame or when `bytes` are not
    /// its AES-GCM ciphertext of it (changed, swapped with another page's, or plaintext).
    public func openPageOut(lpid: UInt64, frame: UInt64, bytes: [UInt8]) -> [UInt8]? {
        let sealed = state.withLock { s in s.svms.access(lpid) { ($0.pageKey, $0.sealedPages[frame]) } }
        guard let (key, record) = sealed, let record else { return nil }
        return PageCipher.open(ciphertext: bytes, tag: record.tag, key: key, iv: record.iv)
    }

    /// The frames of `lpid`'s SVM the Ultravisor has paged out and not paged back in.
    public func pagedOutFrames(lpid: UInt64) -> [UInt64] {
        state.withLock { s in s.svms.access(lpid) { $0.sealedPages.keys.sorted() } } ?? []
    }
}
