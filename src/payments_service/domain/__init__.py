"""What a payment is and what may happen to it. Knows nothing of HTTP, Lambda or DynamoDB."""
