import DeviceTree
@_spi(Firmware) import PEFMachine
import PowerABI

/// RTAS in the hypervisor (QEMU's `hw/ppc/spapr_rtas.c` is the model).
extension Hypervisor {
    /// Builds the token table from the `/rtas` node of a device tree: every property
    /// whose name is one of ``rtasServices`` and whose value is one cell. Other
    /// services keep no token. Returns the services found.
    @discardableResult
    public func configureRTAS(from tree: DeviceTree) -> [RTASService] {
        var table: [UInt32: RTASService] = [:]
        for service in Hypervisor.rtasServices {
            if let value = tree.propertyIfPresent(service.rawValue, at: "/rtas"), value.count == 4 {
                table[BigEndianCells.u32(value, at: 0)] = service
            }
        }
        state.withLock { $0.rtasTokens = table }
        return table.values.sorted { $0.rawValue < $1.rawValue }
    }

    /// Sets the token table directly (service → token).
    public func configureRTAS(tokens: [RTASService: UInt32]) {
        var table: [UInt32: RTASService] = [:]
        for (service, token) in tokens { table[token] = service }
        state.withLock { $0.rtasTokens = table }
    }

    /// `H_RTAS` (r4 = address of an `rtas_args` block). The hypervisor reads the block
    /// through its own accessor (so a block in secure memory fails: `H_PARAMETER`, with a
    /// recorded isolation violation), runs the service and writes the return cells back.
    /// An unknown token gets status -3 and `H_PARAMETER` (QEMU's `spapr_rtas_call`).
    func rtas(_ call: inout FirmwareCall, on machine: Machine) {
        let block = GuestPhysicalAddress(rawValue: call[4])
        let memory = machine.memory
        let header: [UInt8]
        do {
            header = try memory.read(.hypervisor, at: block, count: 12, purpose: "H_RTAS args")
        } catch {
            call.notes.append("\(error)")
            return call.finish(HypervisorStatus.parameter)
        }
        let token = BigEndianCells.u32(header, at: 0)
        let nargs = Int(BigEndianCells.u32(header, at: 4))
        let nret = Int(BigEndianCells.u32(header, at: 8))
        guard nargs <= RTASArguments.cellCapacity, nret <= RTASArguments.cellCapacity - nargs else {
            call.notes.append("nargs \(nargs) + nret \(nret) over 16")
            return call.finish(HypervisorStatus.parameter)
        }
        let cells: [UInt8]
        do {
            cells = try memory.read(
                .hypervisor, at: GuestPhysicalAddress(rawValue: block.rawValue + 12), count: 4 * (nargs + nret),
                purpose: "H_RTAS args")
        } catch {
            call.notes.append("\(error)")
            return call.finish(HypervisorStatus.parameter)
        }
        let args = (0..<nargs).map { BigEndianCells.u32(cells, at: 4 * $0) }
        machine.clock.advance(by: machine.configuration.costs.rtasService)
        guard let service = withState(machine, { $0.rtasTokens[token] }) else {
            log(machine, "RTAS: unknown token 0x\(String(token, radix: 16))")
            writeReturns([UInt32(bitPattern: RTASStatus.parameterError)], block: block, nargs: nargs, nret: nret, machine)
            call.notes.append("unknown RTAS token 0x\(String(token, radix: 16))")
            return call.finish(HypervisorStatus.parameter)
        }
        call.notes.append(service.rawValue)
        let returns = runRTAS(service, args: args, nret: nret, caller: call.caller, depth: call.depth, on: machine)
        guard writeReturns(returns, block: block, nargs: nargs, nret: nret, machine) else {
            return call.finish(HypervisorStatus.parameter)
        }
        call.finish(HypervisorStatus.success)
    }

    @discardableResult
    private func writeReturns(_ values: [UInt32], block: GuestPhysicalAddress, nargs: Int, nret: Int, _ machine: Machine)
        -> Bool
    {
        guard nret > 0 else { return true }
        let cells = (0..<nret).map { $0 < values.count ? values[$0] : 0 }
        do {
            try machine.memory.write(
                .hypervisor, at: GuestPhysicalAddress(rawValue: block.rawValue + 12 + UInt64(4 * nargs)),
                bytes: BigEndianCells.bytes(cells: cells), purpose: "H_RTAS returns")
            return true
        } catch {
            return false
        }
    }

    private func status(_ s: Int32) -> UInt32 { UInt32(bitPattern: s) }

    /// Runs one service; returns the return cells (status first).
    private func runRTAS(
        _ service: RTASService, args: [UInt32], nret: Int, caller: Caller, depth: Int, on machine: Machine
    ) -> [UInt32] {
        func arg(_ i: Int) -> UInt32 { i < args.count ? args[i] : 0 }
        let memory = machine.memory
        switch service {
        case .osTerm:
            // QEMU reads up to 511 bytes of the message.
            let message = try? memory.readCString(
                .hypervisor, at: GuestPhysicalAddress(rawValue: UInt64(arg(0))), maxLength: 511,
                purpose: "ibm,os-term message")
            let text = message.map { String(decoding: $0, as: UTF8.self) }
            log(machine, "RTAS ibm,os-term: " + (text ?? "<message unreadable>"))
            machine.stop(.osTerm(message: text))
            return [status(RTASStatus.success)]
        case .powerOff:
            guard args.count == 2, nret == 1 else { return [status(RTASStatus.parameterError)] }
            log(machine, "RTAS power-off")
            machine.stop(.powerOff)
            return [status(RTASStatus.success)]
        case .systemReboot:
            log(machine, "RTAS system-reboot")
            machine.stop(.terminated(reason: "system-reboot"))
            return [status(RTASStatus.success)]
        case .displayCharacter:
            withState(machine) { $0.console.append(UInt8(truncatingIfNeeded: arg(0))) }
            return [status(RTASStatus.success)]
        case .nvramFetch, .nvramStore:
            let offset = Int(arg(0))
            let length = Int(arg(2))
            let size = withState(machine) { $0.nvram.count }
            guard offset <= size, length <= size - offset else { return [status(RTASStatus.parameterError), 0] }
            let buffer = GuestPhysicalAddress(rawValue: UInt64(arg(1)))
            do {
                if service == .nvramFetch {
                    let bytes = withState(machine) { Array($0.nvram[offset..<(offset + length)]) }
                    try memory.write(.hypervisor, at: buffer, bytes: bytes, purpose: "nvram-fetch buffer")
                } else {
                    let bytes = try memory.read(.hypervisor, at: buffer, count: length, purpose: "nvram-store buffer")
                    withState(machine) { $0.nvram.replaceSubrange(offset..<(offset + length), with: bytes) }
                }
            } catch {
                return [status(RTASStatus.hardwareError), 0]
            }
            return [status(RTASStatus.success), UInt32(length)]
        case .getSystemParameter:
            guard let data = withState(machine, { $0.systemParameters[arg(0)] }) else {
                return [status(RTASStatus.notSupported)]
            }
            let room = Int(arg(2))
            let length = UInt16(clamping: data.count)
            let out = Array(([UInt8(length >> 8), UInt8(length & 0xFF)] + data).prefix(max(0, room)))
            do {
                try memory.write(
                    .hypervisor, at: GuestPhysicalAddress(rawValue: UInt64(arg(1))), bytes: out,
                    purpose: "ibm,get-system-parameter buffer")
            } catch {
                return [status(RTASStatus.hardwareError)]
            }
            return [status(RTASStatus.success)]
        case .setSystemParameter:
            let buffer = GuestPhysicalAddress(rawValue: UInt64(arg(1)))
            do {
                let length = try memory.readBigEndian(.hypervisor, at: buffer, as: UInt16.self, purpose: "ibm,set-system-parameter")
                let data = try memory.read(
                    .hypervisor, at: GuestPhysicalAddress(rawValue: buffer.rawValue + 2), count: Int(length),
                    purpose: "ibm,set-system-parameter")
                withState(machine) { $0.systemParameters[arg(0)] = data }
            } catch {
                return [status(RTASStatus.hardwareError)]
            }
            return [status(RTASStatus.success)]
        case .eventScan, .checkException:
            return [status(RTASStatus.noErrorsFound)]
        case .configureConnector, .slotErrorDetail:
            return [status(RTASStatus.parameterError)]
        case .nmiRegister, .nmiInterlock:
            return [status(RTASStatus.success)]
        case .queryCPUStoppedState:
            guard let vcpu = machine.processor(Int(arg(0))) else { return [status(RTASStatus.parameterError), 0] }
            return [status(RTASStatus.success), vcpu.snapshot.isRunning ? 2 : 0]
        case .startCPU:
            return startCPU(id: Int(arg(0)), at: UInt64(arg(1)), r3: UInt64(arg(2)), caller: caller, depth: depth,
                on: machine)
        case .stopSelf:
            if let vcpu = caller.vcpu.flatMap(machine.processor) { vcpu.update { $0.isRunning = false } }
            return [status(RTASStatus.success)]
        default:
            // Not in ``rtasServices``, so never in the token table: QEMU answers an
            // unregistered token with RTAS_OUT_NOT_SUPPORTED (hw/ppc/spapr_rtas.c:
            // spapr_rtas_call).
            return [status(RTASStatus.notSupported)]
        }
    }

    /// `start-cpu`: starts a stopped vCPU at `address` with r3 = `r3` and MSR = SF | ME
    /// (plus LE, as the guest runs little-endian), as QEMU does. On a secure partition the
    /// hypervisor enters the vCPU through the Ultravisor: `UV_RETURN` with the cookie the
    /// Ultravisor put in r3 (in r0), and the Ultravisor starts it in secure mode.
    private func startCPU(id: Int, at address: UInt64, r3: UInt64, caller: Caller, depth: Int, on machine: Machine)
        -> [UInt32]
    {
        guard let vcpu = machine.processor(id) else { return [status(RTASStatus.parameterError)] }
        guard !vcpu.snapshot.isRunning else { return [status(RTASStatus.hardwareError)] }
        vcpu.update { s in
            s.pc = address
            s.registers.r3 = r3
            s.msr = [.sixtyFourBit, .machineCheck, .littleEndian]
            s.isRunning = true
        }
        if withState(machine, { $0.phase }) == .secure {
            var registers = Registers(r3: Ultracall.return.rawValue)
            registers[0] = r3
            _ = machine.ultracall(registers, from: .hypervisor(vcpu: id), depth: depth + 1)
        }
        log(machine, "RTAS start-cpu \(id) at 0x\(String(address, radix: 16))")
        return [status(RTASStatus.success)]
    }
}
