"""The Django apps of ContextForge: the core platform and the protocol modules."""
