"""Plugin framework: hook points around every call, and the built-in plugins."""
