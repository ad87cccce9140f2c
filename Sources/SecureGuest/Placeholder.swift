// Placeholder so the SecureGuest target builds; the module's issue replaces it.
