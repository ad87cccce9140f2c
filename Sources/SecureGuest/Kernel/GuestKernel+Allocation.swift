import PowerABI

/// Kernel memory for callers (buffers for I/O, test data): whole 64 KiB pages from the
/// kernel's allocator. Private (secure on a secure guest) unless shared explicitly.
extension GuestKernel {
    /// Models `alloc_pages()`: page-aligned memory of at least `bytes` bytes, taken from
    /// the top of free memory; `purpose` names it in fault reports.
    public func allocateMemory(bytes: UInt64, purpose: String = "kmalloc") throws(GuestKernelError)
        -> GuestPhysicalAddress
    {
        try requireRunning()
        switch allocatePages(bytes: bytes, purpose: purpose) {
        case .success(let a): return GuestPhysicalAddress(a)
        case .failure(let e): throw .allocation(e)
        }
    }

    /// Page-aligned memory from the kernel's allocator, in any phase after memory setup.
    func allocatePages(bytes: UInt64, purpose: String) -> Result<UInt64, Memblock.AllocationError> {
        let nowhere = GuestPhysicalAddress(0)..<GuestPhysicalAddress(0)
        guard let size = PageSize.alignUp(max(bytes, 1)) else {
            // PAGE_ALIGN of a size in the last page of the address space: no memory.
            return .failure(Memblock.AllocationError(size: bytes, alignment: PageSize.bytes, limit: nowhere, purpose: purpose))
        }
        return state.withLock { s in
            guard var m = s.memblock else {
                return .failure(Memblock.AllocationError(size: size, alignment: PageSize.bytes, limit: nowhere, purpose: purpose))
            }
            defer { s.memblock = m }
            do throws(Memblock.AllocationError) {
                return .success(try m.allocate(size: size, alignment: PageSize.bytes, purpose: purpose).rawValue)
            } catch {
                return .failure(error)
            }
        }
    }

    /// Models `__free_pages()`: gives back memory from ``allocateMemory(bytes:purpose:)``.
    public func freeMemory(_ address: GuestPhysicalAddress, bytes: UInt64) {
        release(address.rawValue, bytes: PageSize.alignUp(bytes) ?? ~PageSize.offsetMask)
    }
}
