// Placeholder so the TPMTests target builds; the module's issue replaces it.
