"""Twostep: an office portal with optional TOTP two-factor authentication."""
