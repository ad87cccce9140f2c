// Placeholder so the SWIOTLBTests target builds; the module's issue replaces it.
