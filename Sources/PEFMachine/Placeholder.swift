// Placeholder so the PEFMachine target builds; the module's issue replaces it.
