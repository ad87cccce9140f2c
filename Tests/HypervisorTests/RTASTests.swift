import DeviceTree
import Foundation
import Hypervisor
@_spi(Firmware) import PEFMachine
import PowerABI
import Testing

@testable import Ultravisor
import PEFTestSupport

/// The QEMU 7.2 pseries tree committed as a fixture (see Fixtures/README.txt).
func qemuTree() throws -> DeviceTree {
    let url = try #require(Bundle.module.url(forResource: "qemu-7.2-pseries", withExtension: "dtb", subdirectory: "Fixtures"))
    return try DeviceTree(bytes: try Data(contentsOf: url))
}

/// Writes an rtas_args block at `block` and calls H_RTAS from `vcpu`; returns the status and
/// the return cells.
func callRTAS(
    _ t: TestMachine, _ token: UInt32, _ args: [UInt32], nret: Int, block: UInt64 = 200 * page, vcpu: Int = 0
) throws -> (HypervisorStatus, [UInt32]) {
    let p = t.machine.processors[vcpu]
    try p.write(at: .gpa(block), bytes: RTASArguments(token: token, arguments: args, returnCount: nret).encoded)
    let status = HypervisorStatus(register: p.hypercall(.rtas, [block]).r3)
    let back = try p.read(at: .gpa(block), count: RTASArguments.byteCount)
    return (status, RTASArguments(decoding: back)?.returns ?? [])
}

@Suite struct RTASTests {
    @Test func tokensComeFromTheDeviceTree() throws {
        let t = try TestMachine()
        let found = t.hypervisor.configureRTAS(from: try qemuTree())
        #expect(Set(found) == Set(Hypervisor.rtasServices))
        t.hypervisor.configureRTAS(tokens: [.osTerm: 0x1234])
        #expect(t.hypervisor.rtasTokens == [0x1234: .osTerm])
        t.hypervisor.configureRTAS(from: try qemuTree())
        let tokens = t.hypervisor.rtasTokens
        #expect(tokens[0x201F] == .osTerm)
        #expect(tokens[0x2006] == .startCPU)
        // QEMU's own table agrees with the defaults SVMKit uses without a tree.
        for (token, service) in tokens { #expect(service.qemuToken == token) }
        // Every token the Ultravisor requires is there.
        for name in (RTASService.mandatory + [RTASService.stopSelf]).map(\.name) {
            #expect(tokens.values.contains { $0.rawValue == name }, "\(name)")
        }
    }

    @Test func osTermStopsThePartitionWithTheMessage() throws {
        let t = try TestMachine()
        try t.boot.write(at: .gpa(300 * page), bytes: Array("Switch to secure mode failed.".utf8) + [0])
        let (status, rets) = try callRTAS(t, 0x201F, [UInt32(300 * page)], nret: 1)
        #expect(status == .success)
        #expect(rets == [0])
        #expect(t.machine.stopReason == .osTerm(message: "Switch to secure mode failed."))
        #expect(t.hypervisor.log.last == "RTAS ibm,os-term: Switch to secure mode failed.")
    }

    @Test func osTermMessageInSecureMemoryIsUnreadable() throws {
        let t = try TestMachine()
        t.memory.setState(.secure, frames: 300..<301)
        try t.boot.write(at: .gpa(200 * page), bytes: RTASArguments(token: 0x201F, arguments: [UInt32(300 * page)], returnCount: 1).encoded)
        #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [200 * page]).r3) == .success)
        #expect(t.machine.stopReason == .osTerm(message: nil))
        #expect(t.memory.violations.first?.purpose == "ibm,os-term message")
    }

    @Test func unknownTokenAndBadBlocks() throws {
        let t = try TestMachine()
        let (status, rets) = try callRTAS(t, 0x9999, [1], nret: 1)
        #expect(status == .parameter)
        #expect(rets == [UInt32(bitPattern: -3)])
        // nargs + nret over 16, and a block outside memory.
        var bad = [UInt8](repeating: 0, count: 12)
        bad[7] = 15
        bad[11] = 2
        try t.boot.write(at: .gpa(201 * page), bytes: bad)
        #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [201 * page]).r3) == .parameter)
        #expect(HypervisorStatus(register: t.boot.hypercall(.rtas, [UInt64.max - 4]).r3) == .parameter)
    }

    @Test func mandatoryServicesBehave() throws {
        let t = try TestMachine(cpus: 2)
        // NVRAM round trip and bounds.
        try t.boot.write(at: .gpa(210 * page), bytes: [1, 2, 3, 4])
        #expect(try callRTAS(t, 0x2013, [10, UInt32(210 * page), 4], nret: 2).1 == [0, 4])
        #expect(try callRTAS(t, 0x2012, [10, UInt32(211 * page), 4], nret: 2).1 == [0, 4])
        #expect(try t.boot.read(at: .gpa(211 * page), count: 4) == [1, 2, 3, 4])
        #expect(try callRTAS(t, 0x2012, [UInt32(64 * 1024 - 2), UInt32(211 * page), 4], nret: 2).1 == [UInt32(bitPattern: -3), 0])
        // System parameters.
        #expect(try callRTAS(t, 0x2008, [20, UInt32(212 * page), 100], nret: 1).1 == [0])
        let length = try t.memory.readBigEndian(.hypervisor, at: .gpa(212 * page), as: UInt16.self)
        let text = try t.memory.read(.hypervisor, at: .gpa(212 * page + 2), count: Int(length))
        #expect(String(decoding: text, as: UTF8.self).hasPrefix("MaxEntCap="))
        #expect(try callRTAS(t, 0x2008, [77, UInt32(212 * page), 100], nret: 1).1 == [UInt32(bitPattern: -3)])
        try t.boot.write(at: .gpa(213 * page), bytes: [0, 2, 0xAB, 0xCD])
        #expect(try callRTAS(t, 0x2009, [77, UInt32(213 * page)], nret: 1).1 == [0])
        #expect(try callRTAS(t, 0x2008, [77, UInt32(214 * page), 100], nret: 1).1 == [0])
        #expect(try t.boot.read(at: .gpa(214 * page), count: 4) == [0, 2, 0xAB, 0xCD])
        // event-scan / check-exception: nothing to report.
        #expect(try callRTAS(t, 0x200F, [0, 0, UInt32(215 * page), 1024], nret: 1).1 == [1])
        #expect(try callRTAS(t, 0x200E, [0, 0, 0, 0, UInt32(215 * page), 1024], nret: 1).1 == [1])
        // CPUs: start vCPU 1, query it, it stops itself.
        #expect(try callRTAS(t, 0x2005, [1], nret: 2).1 == [0, 0])
        #expect(try callRTAS(t, 0x2006, [1, 0x1000, 0x42], nret: 1).1 == [0])
        #expect(t.machine.processors[1].snapshot.pc == 0x1000)
        #expect(t.machine.processors[1].registers.r3 == 0x42)
        #expect(try callRTAS(t, 0x2005, [1], nret: 2).1 == [0, 2])
        #expect(try callRTAS(t, 0x2006, [1, 0x1000, 0], nret: 1).1 == [UInt32(bitPattern: -1)], "already running")
        #expect(try callRTAS(t, 0x2006, [9, 0x1000, 0], nret: 1).1 == [UInt32(bitPattern: -3)], "no such vCPU")
        #expect(try callRTAS(t, 0x2007, [], nret: 1, block: 216 * page, vcpu: 1).1 == [0])
        #expect(!t.machine.processors[1].snapshot.isRunning)
        // display-character goes to the console; power-off checks its arity, then stops.
        #expect(try callRTAS(t, 0x2000, [0x21], nret: 1).1 == [0])
        #expect(t.hypervisor.consoleOutput == "!")
        #expect(try callRTAS(t, 0x2003, [0], nret: 1).1 == [UInt32(bitPattern: -3)])
        #expect(!t.machine.isStopped)
        #expect(try callRTAS(t, 0x2003, [0, 0], nret: 1).1 == [0])
        #expect(t.machine.stopReason == .powerOff)
    }
}
