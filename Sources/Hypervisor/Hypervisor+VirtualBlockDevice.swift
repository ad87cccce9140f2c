@_spi(Firmware) import PEFMachine
import PowerABI

/// Virtual block devices and the `H_VIO_SIGNAL` doorbell (see ``VirtualBlockDevice``).
extension Hypervisor {
    /// Plugs a block device into the partition's VIO bus (replacing one at the same
    /// unit address) and returns it. Add its ``VirtualBlockDevice/deviceTreeNode``
    /// under `/vdevice` so the guest finds it.
    @discardableResult
    public func attachBlockDevice(
        unitAddress: UInt32 = VirtualBlockDevice.defaultUnitAddress, sectorCount: UInt64
    ) -> VirtualBlockDevice {
        let device = VirtualBlockDevice(unitAddress: unitAddress, sectorCount: sectorCount)
        blockDeviceTable.withLock { $0[unitAddress] = device }
        return device
    }

    /// The block device at `unitAddress`, if any.
    public func blockDevice(unitAddress: UInt32) -> VirtualBlockDevice? {
        blockDeviceTable.withLock { $0[unitAddress] }
    }

    /// Every block device, by unit address.
    public var blockDevices: [VirtualBlockDevice] {
        blockDeviceTable.withLock { t in t.keys.sorted().compactMap { t[$0] } }
    }

    /// `H_VIO_SIGNAL` (r4 unit address, r5 mode). Modes 0 and 1 (PAPR: disable /
    /// enable the device's interrupts) succeed for any unit, as before; modes 2–4 go to
    /// the block device at the unit address (`H_PARAMETER` if there is none).
    func vioSignal(_ call: inout FirmwareCall, on machine: Machine) {
        let unit = call[4]
        let mode = call[5]
        let command = mode & 0xFFFF
        let device = unit <= UInt64(UInt32.max) ? blockDevice(unitAddress: UInt32(unit)) : nil
        if command <= VirtualBlockProtocol.Mode.enableInterrupts.rawValue && mode >> 16 == 0 {
            device?.setInterrupts(command == VirtualBlockProtocol.Mode.enableInterrupts.rawValue)
            return call.finish(HypervisorStatus.success)
        }
        guard let device else {
            call.notes.append("no block device at unit 0x\(String(unit, radix: 16))")
            return call.finish(HypervisorStatus.parameter)
        }
        var notes: [String] = []
        let status = device.signal(command: command, payload: mode & ~0xFFFF, on: machine, notes: &notes)
        call.notes += notes
        call.finish(status)
    }
}
