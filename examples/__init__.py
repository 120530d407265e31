"""Example records, one per message type (what a backend submits); shipped as gateway.examples."""
