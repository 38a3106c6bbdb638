"""Pilots: one pilot deployment on one dedicated node (pure: objects, patches, the fit)."""
