import SecureGuest

/// The boot report's `linuxProfile`: the stable series the guest behaved as and what
/// its profile models differently, each from `LinuxVersion` (whose docs
/// cite the code).
public struct LinuxProfileSummary: Hashable, Sendable, Codable {
    /// The stable series, e.g. `6.1.y`.
    public var series: String
    /// The release the profile was checked against, e.g. `5.4.301`
    /// (`LinuxVersion.release`).
    public var release: String
    /// The slot search of the SWIOTLB pool (`LinuxVersion.swiotlbAllocator`), checked
    /// against the series' own code: 6.1 and 6.12 through the Linux oracle, 5.4 and 5.10
    /// through its recorded 5.4.301 and 5.10.265 answers.
    public var swiotlbSearch: String
    /// VPA/LPPACA and DTL: how they differ from 6.12, if at all
    /// (`LinuxVersion.vpaAndDTL`).
    public var vpaAndDTL: String

    /// The summary of `linux`.
    public init(_ linux: LinuxVersion) {
        series = linux.series
        release = linux.release
        swiotlbSearch = linux.swiotlbAllocator.rawValue
        vpaAndDTL = linux.vpaAndDTL
    }
}
