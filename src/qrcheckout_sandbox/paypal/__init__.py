"""The built-in PayPal-compatible server: OAuth 2 client credentials, Orders v2, Payments v2,
a phone-friendly approval page with test buyers, and signed webhooks with PayPal's
verify-webhook-signature, so PayPal's official SDK works against it unchanged."""
