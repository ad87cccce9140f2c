@_spi(Firmware) import PEFMachine
import PowerABI

/// One SVM `H_RTAS` on its way through the bounce buffers: what the firmware's
/// per-service handlers get as `(svm, guest_args, bb_args)` (`svm/svm-rtas-hdlr.c`,
/// open-power/ultravisor 6366959), plus the buffers taken for the call and the notes
/// its handlers leave (a handler problem is only noted; the call is still made).
struct RTASBounceCall {
    /// The Ultravisor bouncing the call (its pool bitmap and start-cpu cookies).
    let ultravisor: Ultravisor
    let memory: GuestMemory
    let lpid: UInt64
    let bounce: RTASBounceState
    /// The service's `/rtas` name, if the token is one the SVM's tree named.
    let service: String?
    /// The arguments as the guest wrote them (`guest_args`).
    let original: [UInt32]
    /// The block that goes to the hypervisor (`bb_args`): the guest's, with data
    /// buffers replaced by bounce buffers; after the call, its return cells.
    var args: RTASArguments
    var notes: [String]
    /// Pool buffers taken for this call, freed when it ends.
    var buffers: [Int] = []

    init(
        ultravisor: Ultravisor, memory: GuestMemory, lpid: UInt64, bounce: RTASBounceState, args: RTASArguments,
        notes: [String]
    ) {
        self.ultravisor = ultravisor
        self.memory = memory
        self.lpid = lpid
        self.bounce = bounce
        self.service = bounce.service(for: args.token)
        self.original = args.arguments
        self.args = args
        self.notes = notes
    }

    /// Argument `i`, or 0 if the block is too short to have it.
    func arg(_ i: Int) -> UInt32 { i < args.arguments.count ? args.arguments[i] : 0 }

    /// Return cell `i` (0 is the status: `args[nargs]` in the firmware's numbering),
    /// or 0 if the block has no such cell.
    func ret(_ i: Int) -> UInt32 { i < args.returns.count ? args.returns[i] : 0 }

    /// Replaces argument `i`; a block too short to have it is left alone (a handler
    /// problem, only noted, as in the firmware).
    mutating func setArg(_ i: Int, _ value: UInt32) {
        if i < args.arguments.count {
            args.arguments[i] = value
        } else {
            notes.append("\(service ?? "RTAS"): nargs \(args.arguments.count) has no argument \(i)")
        }
    }

    /// A zeroed pool buffer for this call (`svm_rtas_bbuf_alloc`), or `nil` with a note
    /// if the pool is exhausted.
    mutating func allocate() -> GuestPhysicalAddress? {
        guard let i = ultravisor.allocateBounceBuffer(lpid: lpid, notes: &notes) else { return nil }
        buffers.append(i)
        let gpa = bounce.buffer(i)
        try? memory.zero(.ultravisor, at: gpa, count: RTASBounceState.bufferBytes)
        return gpa
    }

    /// Copies `count` guest bytes at `guest` into a new bounce buffer; its address.
    mutating func bounceIn(_ guest: UInt32, count: Int) -> UInt32? {
        guard count <= RTASBounceState.bufferBytes, let buffer = allocate() else {
            notes.append("\(service ?? "RTAS"): buffer of \(count) bytes not bounced")
            return nil
        }
        if count > 0,
            let bytes = try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(guest)), count: count)
        {
            try? memory.write(.ultravisor, at: buffer, bytes: bytes)
        }
        return UInt32(truncatingIfNeeded: buffer.rawValue)
    }

    /// Copies `count` bytes of the bounce buffer at `buffer` back to the guest's `guest`.
    mutating func bounceOut(_ buffer: UInt32, to guest: UInt32, count: Int) {
        guard count > 0, count <= RTASBounceState.bufferBytes,
            let bytes = try? memory.read(.ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(buffer)), count: count)
        else { return }
        do {
            try memory.write(.ultravisor, at: GuestPhysicalAddress(rawValue: UInt64(guest)), bytes: bytes)
        } catch {
            notes.append("\(service ?? "RTAS"): copy back failed: \(error)")
        }
    }

    /// The pre-handler shape most services share: argument `buffer` points at a guest
    /// buffer of `arg(length)` bytes; if that fits a bounce buffer, a bounce buffer
    /// replaces it, with the guest's bytes copied in when `copyIn` (an input buffer).
    mutating func bounceBuffer(argument buffer: Int, length: Int, copyIn: Bool) {
        let count = Int(arg(length))
        if count <= RTASBounceState.bufferBytes, let b = bounceIn(arg(buffer), count: copyIn ? count : 0) {
            setArg(buffer, b)
        } else {
            notes.append("\(service ?? ""): length \(count) over 4096")
        }
    }

    /// The bounce buffer that replaced argument `i` and the guest buffer it stands for,
    /// if the pre-handler replaced it and the block has at least `minimumCount` arguments.
    func replacedBuffer(argument i: Int, minimumCount: Int = 0) -> (bounce: UInt32, guest: UInt32)? {
        guard args.arguments.count >= max(i + 1, minimumCount), args.arguments[i] != original[i] else { return nil }
        return (args.arguments[i], original[i])
    }
}
