"""Plugin framework: hook points around tool, resource and prompt invocations."""
