@_spi(Firmware) import PEFMachine
import PowerABI

/// Guest memory drawn as SVG: one cell per page group, coloured by page state
/// (and, for explicitly shared pages, by the owner the guest's ledger names), with
/// the boot image's regions labelled. Large guests are drawn at a coarser grain,
/// each cell showing the most "interesting" state among its pages (shared over
/// secure over normal), so a single shared page is never lost.
public enum MemoryMapPicture {
    /// A labelled range to mark on the map (kernel, initrd, FDT, …).
    public struct Region: Sendable, Hashable {
        /// Label.
        public var name: String
        /// First address.
        public var address: UInt64
        /// Length in bytes.
        public var size: UInt64

        /// Makes a region.
        public init(name: String, address: UInt64, size: UInt64) {
            self.name = name
            self.address = address
            self.size = size
        }
    }

    /// Categories drawn, in legend order.
    static let categories: [(key: String, label: String, color: String)] = [
        ("normal", "normal", "#e8e8e8"), ("secure", "secure", "#3b6ea8"), ("pagedOut", "paged out", "#8f6fb5"),
        ("implicit", "shared by the Ultravisor (implicit)", "#f0a030"), ("pseudo", "pseudo-shared (RTAS)", "#c9c04a"),
        ("lppaca", "shared: LPPACA", "#d9534f"), ("dtl", "shared: DTL", "#e377c2"), ("swiotlb", "shared: SWIOTLB pool", "#2ca02c"),
        ("dma-coherent", "shared: DMA coherent", "#17becf"), ("other", "shared: other", "#ff7f0e"),
        ("transient", "share in progress", "#000000"),
    ]

    static func rank(_ key: String) -> Int {
        switch key {
        case "normal": 0
        case "secure": 1
        case "pagedOut": 2
        default: 3
        }
    }

    /// Draws `memory`. `owners` maps explicitly shared frames to an owner name
    /// (`lppaca`, `dtl`, `swiotlb`, `dma-coherent`, `other`).
    public static func svg(
        memory: GuestMemory, owners: [UInt64: String] = [:], regions: [Region] = [], title: String = "Guest memory"
    ) -> String {
        let pages = memory.pageCount
        let columns = 128
        let maxRows = 128
        let perCell = max(1, (pages + columns * maxRows - 1) / (columns * maxRows))
        let cells = (pages + perCell - 1) / perCell
        let rows = (cells + columns - 1) / columns
        let cell = 6
        let left = 90, top = 40
        let states = memory.states(of: 0..<UInt64(pages))
        func key(_ i: Int) -> String {
            switch states[i] {
            case .normal: "normal"
            case .secure: "secure"
            case .pagedOut: "pagedOut"
            case .sharedImplicit, .sharedImplicitInvalid: "implicit"
            case .pseudoShared, .pseudoSharedInvalid: "pseudo"
            case .shared, .sharedInvalid: owners[UInt64(i)] ?? "other"
            default: "transient"
            }
        }
        let colors = Dictionary(uniqueKeysWithValues: categories.map { ($0.key, $0.color) })
        var seen = Set<String>()
        var body: [String] = []
        for c in 0..<cells {
            var best = "normal"
            for p in (c * perCell)..<min(pages, (c + 1) * perCell) {
                let k = key(p)
                if rank(k) > rank(best) { best = k }
            }
            seen.insert(best)
            let x = left + (c % columns) * cell, y = top + (c / columns) * cell
            body.append("<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(colors[best] ?? "#000")\"/>")
        }
        // Row labels (addresses) every 16 rows.
        let bytesPerRow = UInt64(columns * perCell) * PageSize.bytes
        for r in stride(from: 0, to: rows, by: 16) {
            body.append("<text x=\"\(left - 6)\" y=\"\(top + r * cell + 6)\" font-size=\"9\" text-anchor=\"end\">0x\(String(UInt64(r) * bytesPerRow, radix: 16))</text>")
        }
        // Region markers on the right.
        let width = left + columns * cell
        var labelY = top
        for region in regions.sorted(by: { $0.address < $1.address }) {
            let firstCell = Int(region.address / PageSize.bytes) / perCell
            let y = top + (firstCell / columns) * cell
            labelY = max(labelY + 12, y + 6)
            body.append("<line x1=\"\(width)\" y1=\"\(y + 3)\" x2=\"\(width + 14)\" y2=\"\(labelY - 3)\" stroke=\"#555\"/>")
            body.append("<text x=\"\(width + 16)\" y=\"\(labelY)\" font-size=\"10\">\(JSONText.xml(region.name)) 0x\(String(region.address, radix: 16))</text>")
        }
        let gridBottom = top + rows * cell
        var legendY = max(gridBottom, labelY) + 24
        body.append("<text x=\"\(left)\" y=\"\(legendY - 8)\" font-size=\"10\">one cell = \(perCell) page(s) of 64 KiB; a cell shows its most-shared page</text>")
        for cat in categories where seen.contains(cat.key) {
            body.append("<rect x=\"\(left)\" y=\"\(legendY)\" width=\"10\" height=\"10\" fill=\"\(cat.color)\"/>")
            body.append("<text x=\"\(left + 16)\" y=\"\(legendY + 9)\" font-size=\"11\">\(JSONText.xml(cat.label))</text>")
            legendY += 16
        }
        let height = legendY + 16
        let totalWidth = width + 230
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(totalWidth)" height="\(height)" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="22" font-size="15" font-weight="bold">\(JSONText.xml(title))</text>
            \(body.joined(separator: "\n"))
            </svg>

            """
    }
}
