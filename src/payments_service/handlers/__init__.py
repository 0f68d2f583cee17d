"""The Lambda entry point and HTTP concerns: routing, principals, problem responses."""
