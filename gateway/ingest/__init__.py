"""Where a message enters: the MQTT and Modbus links, decoding, the hub that commits and
acknowledges, and the ingest workers."""
