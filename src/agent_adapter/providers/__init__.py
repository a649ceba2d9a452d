"""Provider adapters: one module per wire protocol, all sans-IO."""
