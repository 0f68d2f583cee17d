"""`idempotency-check BASE_URL`: a black-box battery proving an endpoint of the payments API charges exactly once."""
