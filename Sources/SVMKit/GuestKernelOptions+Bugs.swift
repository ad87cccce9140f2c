@_spi(Firmware) import PEFMachine
import SecureGuest

extension GuestKernelOptions {
    /// These options with `bugs` turned on as well. The page
    /// `GuestBug.touchImplicitPage` touches is looked up in `memory` (the lowest
    /// `SHARED_IMPLICIT` page) unless the options name one, so call this after `UV_ESM`;
    /// on a guest with no such page that bug has no effect. The lookup is the harness's
    /// knowledge (the Ultravisor's page states), not the guest's.
    package func adding(bugs more: Set<GuestBug>, memory: GuestMemory) -> GuestKernelOptions {
        var options = self
        options.bugs.formUnion(more)
        if more.contains(.touchImplicitPage) {
            options.touchAfterBootAddress =
                options.touchAfterBootAddress ?? memory.frames(where: { $0 == .sharedImplicit }).first?.address
        }
        return options
    }
}
