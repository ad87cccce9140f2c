import Testing
@testable import PowerABI

/// Every ABI constant against reference/ultravisor-facts.md §1.1–§1.5.
@Suite("ABI constants equal the reference values")
struct PowerABIConstantsTests {
    @Test("Ultracall numbers (§1.1)", arguments: [
        (Ultracall.writePATE, 0xF104, "UV_WRITE_PATE"), (.restrictedSPRWrite, 0xF108, "UV_RESTRICTED_SPR_WRITE"),
        (.restrictedSPRRead, 0xF10C, "UV_RESTRICTED_SPR_READ"), (.enterSecureMode, 0xF110, "UV_ESM"),
        (.readSCOM, 0xF114, "UV_READ_SCOM"), (.writeSCOM, 0xF118, "UV_WRITE_SCOM"), (.return, 0xF11C, "UV_RETURN"),
        (.registerMemorySlot, 0xF120, "UV_REGISTER_MEM_SLOT"), (.unregisterMemorySlot, 0xF124, "UV_UNREGISTER_MEM_SLOT"),
        (.pageIn, 0xF128, "UV_PAGE_IN"), (.pageOut, 0xF12C, "UV_PAGE_OUT"), (.sharePage, 0xF130, "UV_SHARE_PAGE"),
        (.unsharePage, 0xF134, "UV_UNSHARE_PAGE"), (.pageInvalidate, 0xF138, "UV_PAGE_INVAL"),
        (.terminateSVM, 0xF13C, "UV_SVM_TERMINATE"), (.unshareAllPages, 0xF140, "UV_UNSHARE_ALL_PAGES"),
        (.readMemory, 0xF144, "UV_READ_MEM"), (.writeMemory, 0xF148, "UV_WRITE_MEM"),
        (.getESMFile, 0xF14C, "UV_ESMB_GET_FILE"), (.sendSBECommand, 0xF150, "UV_SEND_SBE_COMMAND"),
    ] as [(Ultracall, UInt64, String)])
    func ultracallNumbers(call: Ultracall, value: UInt64, name: String) {
        #expect(call.rawValue == value)
        #expect(call.name == name)
    }

    @Test("Every defined ultracall is listed once, in order")
    func ultracallList() {
        #expect(Ultracall.allDefined.count == 20)
        #expect(Ultracall.allDefined == Ultracall.allDefined.sorted())
        #expect(Ultracall(rawValue: 0xF100).allowedCaller == nil)
        #expect(Ultracall(rawValue: 0xF100).name == "UV_0xF100")
    }

    @Test("Who may call what (§1.1)")
    func ultracallCallers() {
        #expect(Ultracall.enterSecureMode.allowedCaller == .supervisor)
        for c in [Ultracall.sharePage, .unsharePage, .unshareAllPages] { #expect(c.allowedCaller == .secureSupervisor) }
        #expect(Ultracall.getESMFile.allowedCaller == .anyone)
        for c in [Ultracall.writePATE, .return, .registerMemorySlot, .pageIn, .pageOut, .pageInvalidate, .terminateSVM] {
            #expect(c.allowedCaller == .hypervisor)
        }
    }

    @Test("Hypercall numbers (§1.3, PAPR)", arguments: [
        (Hypercall.svmPageIn, 0xEF00), (.svmPageOut, 0xEF04), (.svmInitStart, 0xEF08), (.svmInitDone, 0xEF0C),
        (.tpmComm, 0xEF10), (.svmInitAbort, 0xEF14), (.rtas, 0xF000), (.random, 0x300), (.registerVPA, 0xDC),
        (.cede, 0xE0), (.setMode, 0x31C), (.putTCE, 0x20), (.stuffTCE, 0x138), (.putTCEIndirect, 0x13C),
        (.getTermChar, 0x54), (.putTermChar, 0x58),
    ] as [(Hypercall, UInt64)])
    func hypercallNumbers(call: Hypercall, value: UInt64) {
        #expect(call.rawValue == value)
    }

    @Test("Reflected register counts quoted in §1.4")
    func reflectedCounts() {
        #expect(Hypercall.random.reflectedRegisterCounts! == (2, 2))
        #expect(Hypercall.setMode.reflectedRegisterCounts! == (5, 1))
        #expect(Hypercall.rtas.reflectedRegisterCounts! == (2, 2))
        #expect(Hypercall.svmPageIn.reflectedRegisterCounts! == (4, 1))
        #expect(Hypercall.svmInitStart.reflectedRegisterCounts! == (1, 1))
        #expect(Hypercall(rawValue: 0x9999).reflectedRegisterCounts == nil)
    }

    @Test("U_* values (§1.2)", arguments: [
        (UltravisorStatus.success, 0), (.function, -2), (.busy, -2), (.parameter, -4), (.retry, -5), (.hardware, -6),
        (.unsupported, -7), (.permission, -11), (.wrongState, -14), (.xscomPartialGood, -25), (.xscomAddressError, -26),
        (.xscomClockError, -27), (.xscomParityError, -28), (.xscomTimeout, -29), (.p2, -55), (.p3, -56), (.p4, -57),
        (.p5, -58), (.badMode, -59), (.state, -75),
    ] as [(UltravisorStatus, Int64)])
    func ultravisorStatus(status: UltravisorStatus, value: Int64) {
        #expect(status.rawValue == value)
        #expect(UltravisorStatus(register: status.register) == status)
    }

    @Test("H_* values (§1.5)", arguments: [
        (HypervisorStatus.success, 0), (.busy, 1), (.notAvailable, 3), (.hardware, -1), (.function, -2),
        (.privilege, -3), (.parameter, -4), (.badMode, -5), (.notFound, -7), (.noMemory, -9), (.permission, -11),
        (.resource, -16), (.p2, -55), (.p3, -56), (.p4, -57), (.p5, -58), (.unsupported, -67), (.state, -75),
    ] as [(HypervisorStatus, Int64)])
    func hypervisorStatus(status: HypervisorStatus, value: Int64) {
        #expect(status.rawValue == value)
        #expect(HypervisorStatus(register: status.register).name == status.name)
    }

    @Test("Status names are distinct")
    func statusNames() {
        #expect(Set(UltravisorStatus.allNamed.map(\.name)).count == UltravisorStatus.allNamed.count)
        #expect(Set(HypervisorStatus.allNamed.map(\.name)).count == HypervisorStatus.allNamed.count)
        #expect(UltravisorStatus.p2.description == "U_P2 (-55)")
    }
}

@Suite("MSR bits and the privilege table")
struct MachineStateRegisterTests {
    @Test("MSR(S) is IBM bit 41, i.e. 1 << 22 (Linux MSR_S_LG)")
    func secureBit() {
        #expect(MachineStateRegister.secure.rawValue == 1 << 22)
        #expect(MachineStateRegister.hypervisor.rawValue == 1 << 60)
        #expect(MachineStateRegister.sixtyFourBit.rawValue == 1 << 63)
        #expect(MachineStateRegister.problemState.rawValue == 1 << 14)
        #expect(MachineStateRegister.externalInterrupts.rawValue == 1 << 15)
        #expect(MachineStateRegister.littleEndian.rawValue == 1)
    }

    @Test("The (S, HV, PR) table of ultravisor.rst")
    func privilegeTable() {
        let expected: [String: PrivilegeState.Level] = [
            "000": .normalPrivileged, "001": .normalProblem, "010": .hypervisor, "011": .normalProblem,
            "100": .securePrivileged, "101": .secureProblem, "110": .ultravisor, "111": .reserved,
        ]
        #expect(PrivilegeState.allCombinations.count == 8)
        for p in PrivilegeState.allCombinations {
            let key = "\(p.isSecure ? 1 : 0)\(p.isHypervisor ? 1 : 0)\(p.isProblem ? 1 : 0)"
            #expect(p.level == expected[key], "S HV PR = \(key)")
        }
    }

    @Test("Ultracall privilege checks over every (S, HV, PR) state")
    func callerChecks() {
        for p in PrivilegeState.allCombinations {
            #expect(UltracallCaller.hypervisor.admits(p) == (p.isHypervisor && !p.isProblem))
            #expect(UltracallCaller.supervisor.admits(p) == (!p.isHypervisor && !p.isProblem))
            #expect(UltracallCaller.secureSupervisor.admits(p) == (p.isSecure && !p.isHypervisor && !p.isProblem))
            #expect(UltracallCaller.anyone.admits(p))
        }
    }
}

@Suite("Pages, addresses and registers")
struct AddressTests {
    @Test("64 KiB page arithmetic")
    func pages() {
        #expect(PageSize.bytes == 65536)
        #expect(GuestPhysicalAddress(0x2FFF_1234).frame == GuestFrameNumber(0x2FFF))
        #expect(GuestPhysicalAddress(0x2FFF_1234).pageOffset == 0x1234)
        #expect(GuestFrameNumber(0x2FFF).address == GuestPhysicalAddress(0x2FFF_0000))
        #expect(GuestFrameNumber(UInt64.max).address == nil)
        #expect(PageSize.alignUp(1) == 65536)
        #expect(PageSize.alignUp(UInt64.max) == nil)
        #expect(PageSize.pages(covering: 65537) == 2)
        #expect(GuestPhysicalAddress(UInt64.max).advanced(by: 1) == nil)
    }

    @Test("Registers: r3 and arguments")
    func registers() {
        var r = Registers(r3: 0xF110, arguments: [0x400000, 0x1000000])
        #expect(r[3] == 0xF110 && r[4] == 0x400000 && r[5] == 0x1000000)
        r[40] = 1
        #expect(r[40] == 0)
    }

    @Test("rtas_args round trip, as prom_init fills it for os-term")
    func rtasArguments() throws {
        let a = RTASArguments(token: 0x201F, arguments: [0x1234], returnCount: 1)
        let bytes = a.encoded
        #expect(bytes.count == RTASArguments.byteCount)
        #expect(Array(bytes[0..<12]) == [0, 0, 0x20, 0x1F, 0, 0, 0, 1, 0, 0, 0, 1])
        let b = try #require(RTASArguments(decoding: bytes))
        #expect(b == a)
        var bad = bytes
        bad[7] = 17
        #expect(RTASArguments(decoding: bad) == nil)
        #expect(RTASArguments(decoding: [1, 2]) == nil)
        #expect(RTASService.mandatory.count == 11)
    }
}
