"""qrcheckout: QR payment checkout on Stripe, with a built-in Stripe-compatible sandbox."""

__version__ = "0.1.0"
