// Placeholder so the SWIOTLB target builds; the module's issue replaces it.
