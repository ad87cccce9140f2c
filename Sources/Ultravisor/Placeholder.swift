// Placeholder so the Ultravisor target builds; the module's issue replaces it.
