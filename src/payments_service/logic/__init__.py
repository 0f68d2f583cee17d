"""Use cases: what the API does, whatever the transport. They call the domain and the idempotency
engine, and know neither HTTP nor boto3."""
