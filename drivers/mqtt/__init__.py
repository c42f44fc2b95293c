"""The MQTT transport, one room per job (the package imports nothing: import the module you need).

- `options.py`: what a link is told and tells back: `MqttOptions`, `Will`, `Message`, `LinkStats`.
- `link.py`: `MqttLink`, the connection (persistent session, reconnect with backoff), batches of
  received messages and their acknowledgement once the consumer has stored them.
- `pump.py`: paho's socket driven by the asyncio loop (no network thread), reading every waiting packet.
- `client.py`: paho's client with its shortcuts on the per-message path: its own decoding of a
  QoS 0/1 PUBLISH, a read-ahead buffer, and a batch's PUBACKs in one write.
"""
