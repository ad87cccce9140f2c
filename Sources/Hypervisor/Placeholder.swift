// Placeholder so the Hypervisor target builds; the module's issue replaces it.
