"""Single sign-on through django-allauth: provider configuration, the verified OIDC provider, the adapter."""
