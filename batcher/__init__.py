"""The batcher (compressed batches to the L1 Inbox) and the proposer (assertions with a bond)."""
