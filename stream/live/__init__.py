"""The live pipeline: capture, dream and output stages joined by queues, stats and the overlay."""
