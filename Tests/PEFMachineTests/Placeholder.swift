// Placeholder so the PEFMachineTests target builds; the module's issue replaces it.
