"""Pusher writing integer versions atomically into the TF Serving base path."""
