/// RTAS status codes (PAPR; QEMU's `RTAS_OUT_*`).
enum RTASStatus {
    static let success: Int32 = 0
    static let noErrorsFound: Int32 = 1
    static let hardwareError: Int32 = -1
    static let parameterError: Int32 = -3
    static let notSupported: Int32 = -3
}
