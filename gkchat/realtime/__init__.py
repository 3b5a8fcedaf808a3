"""Real-time delivery: the hub between processes and the WebSocket connections of this one."""
