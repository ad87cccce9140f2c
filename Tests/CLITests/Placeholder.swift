// Placeholder so the CLITests target builds; the module's issue replaces it.
