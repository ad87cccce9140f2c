// The SVMKit umbrella: one import for the whole toolkit.
@_exported import DeviceTree
@_exported import ESM
@_exported import Hypervisor
@_exported import PEFMachine
@_exported import PowerABI
@_exported import SWIOTLB
@_exported import SecureGuest
@_exported import TPM
@_exported import Ultravisor
