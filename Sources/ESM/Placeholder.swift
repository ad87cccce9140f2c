// Placeholder so the ESM target builds; the module's issue replaces it.
