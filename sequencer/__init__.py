"""The sequencer role: mempool, block production, JSON-RPC and gRPC servers."""
