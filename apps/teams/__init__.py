"""Teams, memberships, roles and the visibility rules of tenant-owned objects."""
