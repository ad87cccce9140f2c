// Placeholder so the ESMTests target builds; the module's issue replaces it.
