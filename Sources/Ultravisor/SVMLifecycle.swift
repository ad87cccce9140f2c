/// Where an SVM is in its life, per LPID (`svm->state` in `open-power/ultravisor`).
///
/// A partition with no entry is a normal VM. `UV_ESM` creates the entry
/// (``created``), `H_SVM_INIT_START` moves it to ``initializing``, and commit makes it
/// ``secure``; a failure before commit makes it ``aborted``, and `UV_SVM_TERMINATE`
/// removes it (reference/ultravisor-facts.md §2.1–2.9).
public enum SVMLifecycle: String, Sendable, Hashable, CaseIterable {
    /// `create_svm` done; `H_SVM_INIT_START` not yet issued.
    case created
    /// `H_SVM_INIT_START` succeeded; the Ultravisor is paging the VM in and checking it.
    case initializing
    /// `SVM_SECURE`: committed; the vCPUs run with MSR(S)=1.
    case secure
    /// `SVM_ABORT`: UV_ESM failed before commit; waiting for the hypervisor's cleanup
    /// and `UV_SVM_TERMINATE`.
    case aborted
}
