"""The batcher and proposer roles: batches and assertions posted to L1."""
