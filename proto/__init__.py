"""gRPC API definitions and their generated stubs."""
