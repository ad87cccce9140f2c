import SecureGuest

/// The boot report's `linuxProfile`: the stable series the guest behaved as and what
/// its profile models differently, each from `LinuxVersion` (whose docs
/// cite the code).
public struct LinuxProfileSummary: Hashable, Sendable, Codable {
    /// The stable series, e.g. `6.1.y`.
    public var series: String
    /// The slot search of the SWIOTLB pool (`LinuxVersion.swiotlbAllocator`).
    public var swiotlbSearch: String
    /// Whether that search was checked against the series' own code
    /// (`LinuxVersion.swiotlbAllocatorVerified`).
    public var swiotlbSearchVerified: Bool
    /// VPA/LPPACA and DTL: how they differ from 6.12, if at all
    /// (`LinuxVersion.vpaAndDTL`).
    public var vpaAndDTL: String

    /// The summary of `linux`.
    public init(_ linux: LinuxVersion) {
        series = linux.series
        swiotlbSearch = linux.swiotlbAllocator.rawValue
        swiotlbSearchVerified = linux.swiotlbAllocatorVerified
        vpaAndDTL = linux.vpaAndDTL
    }
}
