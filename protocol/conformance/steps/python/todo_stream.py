# A stream file: a config, no handler.
config = {"name": "conformance", "schema": {"type": "object"},
          "baseConfig": {"storageType": "default"}}
