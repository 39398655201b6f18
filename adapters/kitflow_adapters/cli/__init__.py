"""The kitflow command."""
