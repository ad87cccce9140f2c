public import PowerABI

extension Hypervisor {
    /// The RTAS services the simulated hypervisor implements, by their `/rtas`
    /// property names (QEMU's `hw/ppc/spapr_rtas.c` is the model); calls to any other
    /// service's token fail as QEMU's unregistered tokens do.
    public static let rtasServices: [RTASService] = [
        .displayCharacter,
        .powerOff,
        .systemReboot,
        .queryCPUStoppedState,
        .startCPU,
        .stopSelf,
        .getSystemParameter,
        .setSystemParameter,
        .checkException,
        .eventScan,
        .nvramFetch,
        .nvramStore,
        .configureConnector,
        .osTerm,
        .slotErrorDetail,
        .nmiRegister,
        .nmiInterlock,
    ]
}
