"""Users, sign-in, tokens and SSO."""
