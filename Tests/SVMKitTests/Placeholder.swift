// Placeholder so the SVMKitTests target builds; the module's issue replaces it.
