"""Local tooling (never deployed): embedded DynamoDB, tables from template.yaml, HTTP server, invoke."""
