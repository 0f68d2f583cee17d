"""Developer tools (never deployed): artifact check, OpenAPI generation."""
