@testable import SWIOTLB
