"""Protocol modules: the SPI they reach the core through, and their registry and lifecycle."""
