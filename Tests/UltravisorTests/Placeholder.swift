// Placeholder so the UltravisorTests target builds; the module's issue replaces it.
