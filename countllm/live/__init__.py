"""Live counting: frames from a camera, stream or file → pose → a running count, event by event."""
