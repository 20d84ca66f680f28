"""Foundation: names and storage every other layer shares; imports no other
driftgate module."""
