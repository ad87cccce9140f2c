import PowerABI
import Testing

@testable import Ultravisor

/// The per-service RTAS bounce handlers against the firmware's table
/// (`svm/svm-rtas-hdlr.c: svm_rtas_hdlrs`, open-power/ultravisor 6366959).
@Suite struct RTASBounceHandlerTableTests {
    @Test func theTableHasTheFirmwaresTwelveServices() {
        // The 11 services whose tokens UV_ESM requires, plus the optional ibm,nmi-register.
        let services = Set(Ultravisor.rtasBounceHandlers.keys)
        #expect(services == Set(RTASService.mandatory + [.nmiRegister]))
        #expect(services.count == 12)
        // stop-self is looked up apart from the table (svm_rtas_token_lookup) and has no handler.
        #expect(Ultravisor.rtasBounceHandlers[.stopSelf] == nil)
    }

    @Test func servicesThatOnlyLogHaveNoSteps() {
        // svm_rtas_ibm_slot_err_det_hdlr and svm_rtas_pwr_off_hdlr only print.
        for service in [RTASService.slotErrorDetail, .powerOff] {
            let handler = Ultravisor.rtasBounceHandlers[service]
            #expect(handler != nil && handler?.pre == nil && handler?.post == nil, "\(service.name)")
        }
        // The services that move data have a pre-handler; those that copy results back
        // or record state have a post-handler.
        for service in RTASService.mandatory where ![.slotErrorDetail, .powerOff].contains(service) {
            #expect(Ultravisor.rtasBounceHandlers[service]?.pre != nil, "\(service.name)")
        }
        let posts = Set(Ultravisor.rtasBounceHandlers.filter { $0.value.post != nil }.keys)
        #expect(posts == [.checkException, .eventScan, .configureConnector, .getSystemParameter, .nvramFetch, .nmiRegister])
    }
}
